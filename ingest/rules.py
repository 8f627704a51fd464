"""SQL expressions for typing and validating raw CSV values, derived from :mod:`ingest.schemas`.

Each input column arrives as VARCHAR (NULL when the field is empty). For every column
this module builds two DuckDB SQL expressions:

- ``violation``: NULL when the value is acceptable, otherwise a short reason naming the
  column and why (all violations of a row are joined with ``"; "``);
- ``typed``: the value cast to its raw type, only evaluated on rows without violations.
"""

from __future__ import annotations

from ingest.schemas import Column, TableSchema

#: Characters treated as "blank": a field made only of these is empty.
BLANK = " \t\r\n"
INT_PATTERN = r"^[ \t]*[+-]?[0-9]+[ \t]*$"
#: ISO 8601 date-time with seconds optional, fraction optional and offset optional (UTC).
TIMESTAMP_PATTERN = (
    r"^[ \t]*[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?"
    r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?[ \t]*$"
)

SQL_TYPES = {"string": "VARCHAR", "int64": "BIGINT", "timestamp": "TIMESTAMPTZ", "date": "DATE"}


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _blank(v: str) -> str:
    return f"({v} IS NULL OR trim({v}, {quote_literal(BLANK)}) = '')"


def _shown(v: str) -> str:
    """The value as shown in a reason: quoted, cut to 40 characters."""
    return f"'''' || left({v}, 40) || ''''"


def violation(col: Column, v: str) -> str:
    """SQL: NULL when ``v`` (a VARCHAR expression) is valid for ``col``, else a reason."""
    name = col.name
    checks: list[str] = []
    if col.required:
        checks.append(f"WHEN {_blank(v)} THEN {quote_literal(f'{name}: required value is empty')}")
    else:
        checks.append(f"WHEN {_blank(v)} THEN NULL")
    if col.type == "int64":
        checks.append(
            f"WHEN NOT regexp_full_match({v}, {quote_literal(INT_PATTERN)}) "
            f"OR try_cast({v} AS BIGINT) IS NULL "
            f"THEN {quote_literal(name + ': ')} || {_shown(v)} || ' is not an integer'"
        )
        if col.rule == "non_negative":
            checks.append(
                f"WHEN try_cast({v} AS BIGINT) < 0 "
                f"THEN {quote_literal(name + ': ')} || {_shown(v)} || ' is negative (must be >= 0)'"
            )
        elif col.rule == "positive":
            checks.append(
                f"WHEN try_cast({v} AS BIGINT) <= 0 "
                f"THEN {quote_literal(name + ': ')} || {_shown(v)} || ' must be > 0'"
            )
    elif col.type == "timestamp":
        checks.append(
            f"WHEN NOT regexp_full_match({v}, {quote_literal(TIMESTAMP_PATTERN)}) "
            f"OR try_cast(trim({v}, {quote_literal(BLANK)}) AS TIMESTAMPTZ) IS NULL "
            f"THEN {quote_literal(name + ': ')} || {_shown(v)} "
            "|| ' is not an ISO 8601 timestamp (e.g. 2026-11-25T08:15:30Z)'"
        )
    elif col.type == "date":
        checks.append(
            f"WHEN try_cast(trim({v}, {quote_literal(BLANK)}) AS DATE) IS NULL "
            f"THEN {quote_literal(name + ': ')} || {_shown(v)} || ' is not a date (YYYY-MM-DD)'"
        )
    if col.rule == "one_of":
        norm = f"lower(trim({v}, {quote_literal(BLANK)}))" if col.lowercase else v
        allowed = ", ".join(quote_literal(a) for a in col.allowed)
        checks.append(
            f"WHEN {norm} NOT IN ({allowed}) "
            f"THEN {quote_literal(name + ': ')} || {_shown(v)} "
            f"|| {quote_literal(' is not one of ' + ', '.join(col.allowed))}"
        )
    return "CASE " + " ".join(checks) + " ELSE NULL END"


def typed(col: Column, v: str) -> str:
    """SQL: ``v`` cast to the raw type of ``col`` (empty optional -> NULL).

    Only evaluated on rows that passed :func:`violation`, so plain casts are safe; optional
    values are either blank (``try_cast`` gives NULL) or valid.
    """
    cast = "CAST" if col.required else "TRY_CAST"
    if col.type in ("int64", "timestamp", "date"):
        sql_type = SQL_TYPES[col.type]
        return f"{cast}(trim({v}, {quote_literal(BLANK)}) AS {sql_type})"
    if col.lowercase:
        return f"NULLIF(lower(trim({v}, {quote_literal(BLANK)})), '')"
    if col.required:
        return v
    return f"CASE WHEN {_blank(v)} THEN NULL ELSE {v} END"


def valid_expr(schema: TableSchema, source: dict[str, str]) -> str:
    """SQL boolean: the row has no violation (cheaper than building the reasons)."""
    return " AND ".join(f"({violation(c, source[c.name])}) IS NULL" for c in schema.columns)


def reason_expr(schema: TableSchema, source: dict[str, str]) -> str:
    """SQL: all violations of a row joined with '; ', NULL when the row is valid.

    ``source`` maps each schema column to the SQL expression holding its raw value.
    """
    parts = ", ".join(violation(c, source[c.name]) for c in schema.columns)
    return f"NULLIF(concat_ws('; ', {parts}), '')"


def typed_select(schema: TableSchema, source: dict[str, str]) -> str:
    """SQL select list: every schema column typed, in schema order."""
    return ", ".join(f"{typed(c, source[c.name])} AS {quote_ident(c.name)}" for c in schema.columns)
