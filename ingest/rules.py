"""The input contract's value rules as SQL, declared once per column in :func:`checks`.

Values arrive as VARCHAR; a typed column is parsed once, with ``TRY_CAST``, into a helper
column (:func:`parsed`). From the one list of (failing condition, reason) per column come
:func:`ok` (evaluated on every row), :func:`violation` (built only for rows that are not ok)
and :func:`typed`. The strict formats (no ``1.5`` or ``1e3`` as an integer, ISO 8601 only)
are regular expressions on top of DuckDB's casts, which accept more; cheaper GLOBs settle
the common spellings first.
"""

from __future__ import annotations

from datetime import date, datetime

from ingest.schemas import Column, TableSchema

#: A field made only of these characters is empty.
BLANK, BLANK_PATTERN = " \t\r\n", "[ \t\r\n]*"
#: An integer: ASCII digits, optionally signed, optionally with a fraction of zeros only
#: (``1840.0``, as tools that store a column with gaps as floating point write it).
INT_PATTERN = r"^[ \t]*[+-]?[0-9]+(\.0+)?[ \t]*$"
#: ISO 8601 date-time with seconds optional, fraction optional and offset optional (UTC).
#: DuckDB's cast takes any two-digit offset (``+99:99``), so its range is checked here.
TIMESTAMP_PATTERN = (
    r"^[ \t]*[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?"
    r"([Zz]|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?[ \t]*$"
)
#: A value that parses as an integer and is only digits needs no pattern.
NON_DIGIT_GLOB = "*[!0-9]*"
_D = "[0-9]"
#: The usual spelling, as a GLOB (twice as fast) accepting only what the pattern accepts.
TIMESTAMP_COMMON_GLOB = f"{_D * 4}-{_D * 2}-{_D * 2}[T ]{_D * 2}:{_D * 2}:{_D * 2}Z"
EG = "2026-11-25T08:15:30Z"
SQL_TYPES = {"string": "VARCHAR", "int64": "BIGINT", "timestamp": "TIMESTAMPTZ", "date": "DATE"}
#: The instants both warehouses can store (BigQuery's TIMESTAMP range, in UTC).
TIMESTAMP_RANGE = ("0001-01-01 00:00:00+00", "9999-12-31 23:59:59.999999+00")
#: Every string that sorts at or after this one starts above the blank characters.
NON_BLANK_FLOOR = "!"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sql_literal(value: str | int | date | datetime) -> str:
    """An exact SQL literal (binding a parameter would make DuckDB import pandas)."""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, date):  # and datetime, always aware here
        kind = "TIMESTAMPTZ" if isinstance(value, datetime) else "DATE"
        return f"{kind} '{value.isoformat()}'"
    return " || chr(0) || ".join(quote_literal(part) for part in value.split("\x00"))


def _blank(v: str, negate: bool = False) -> str:
    """SQL: ``v`` is NULL or blank, or with ``negate`` its negation written out: either way the
    pattern runs only on values sorting below ``!``, not on every row."""
    floor, pattern = quote_literal(NON_BLANK_FLOOR), quote_literal(BLANK_PATTERN)
    if negate:
        return f"({v} IS NOT NULL AND ({v} >= {floor} OR NOT regexp_full_match({v}, {pattern})))"
    return f"({v} IS NULL OR ({v} < {floor} AND regexp_full_match({v}, {pattern})))"


#: ISO 8601 spellings DuckDB's cast refuses, rewritten: ``HH:MM`` gets ``:00``, ``,`` is ``.``.
_HHMM = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2})($|[Zz+-])"
_WITH_SECONDS, _POINT = r"\1:00\2", r".\1"


def parsed(col: Column, v: str) -> str | None:
    """SQL: ``v`` parsed into the type of ``col`` (NULL if it does not parse), or None."""
    if col.type == "int64":
        return f"TRY_CAST({v} AS BIGINT)"
    if col.type == "timestamp":  # as is, else with what DuckDB refuses (HH:MM, ',', 'z') fixed
        q = quote_literal
        fixed = f"regexp_replace(trim({v}, {q(BLANK)}), {q(_HHMM)}, {q(_WITH_SECONDS)})"
        fixed = f"replace(regexp_replace({fixed}, ',([0-9]+)', {q(_POINT)}), 'z', 'Z')"
        return f"COALESCE(TRY_CAST({v} AS TIMESTAMPTZ), TRY_CAST({fixed} AS TIMESTAMPTZ))"
    if col.type == "date":
        return f"TRY_CAST(trim({v}, {quote_literal(BLANK)}) AS DATE)"
    return None


def checks(col: Column, v: str, p: str | None) -> list[tuple[str, str]]:
    """The rules of ``col``: (SQL condition a non-blank value must meet, SQL reason when it
    does not), in the order they are reported; ``p`` is :func:`parsed` of ``v``. A blank
    value meets none (it parses as NULL, and allowed values are never blank). Each condition
    after the first may assume the earlier ones hold (it may be NULL otherwise)."""
    q = quote_literal
    shown = f"{q(col.name + ': ' + chr(39))} || left({v}, 40) || {q(chr(39))}"
    rules: list[tuple[str, str]] = []
    if col.type == "int64":
        digits = f"NOT {v} GLOB {q(NON_DIGIT_GLOB)} OR regexp_full_match({v}, {q(INT_PATTERN)})"
        rules.append((f"{p} IS NOT NULL AND ({digits})", " is not an integer"))
        if col.rule == "non_negative":
            rules.append((f"{p} >= 0", " is negative (must be >= 0)"))
        elif col.rule == "positive":
            rules.append((f"{p} > 0", " must be > 0"))
        if col.maximum is not None:
            rules.append((f"{p} <= {int(col.maximum)}", f" is above the maximum {col.maximum}"))
    elif col.type == "timestamp":
        glob, pattern, lo, hi = q(TIMESTAMP_COMMON_GLOB), q(TIMESTAMP_PATTERN), *TIMESTAMP_RANGE
        iso = f"{v} GLOB {glob} OR regexp_full_match({v}, {pattern})"
        rules.append((f"{p} IS NOT NULL AND ({iso})", f" is not an ISO 8601 timestamp (e.g. {EG})"))
        in_range = f"{p} BETWEEN TIMESTAMPTZ '{lo}' AND TIMESTAMPTZ '{hi}'"
        rules.append((in_range, f" is outside {lo[:10]} to {hi[:10]} UTC"))
    elif col.type == "date":
        rules.append((f"{p} IS NOT NULL", " is not a date (YYYY-MM-DD)"))
    if col.rule == "one_of":
        norm = f"lower(trim({v}, {q(BLANK)}))" if col.lowercase else v
        allowed = ", ".join(map(q, col.allowed))
        rules.append((f"{norm} IN ({allowed})", " is not one of " + ", ".join(col.allowed)))
    return [(f"({cond})", f"{shown} || {q(text)}") for cond, text in rules]


def ok(col: Column, v: str, p: str | None) -> str:
    """SQL boolean: ``v`` is valid for ``col`` (exactly when :func:`violation` is NULL)."""
    conds = [cond for cond, _ in checks(col, v, p)]
    if not conds:
        return _blank(v, negate=True) if col.required else "true"
    passes = "(" + " AND ".join(conds) + ")"
    # A blank value fails the checks, so a required one needs no separate blank test.
    return passes if col.required else f"({passes} OR {_blank(v)})"


def violation(col: Column, v: str, p: str | None) -> str:
    """SQL: NULL when ``v`` is valid for ``col``, else the first reason it is not."""
    empty = quote_literal(f"{col.name}: required value is empty") if col.required else "NULL"
    whens = "".join(f" WHEN NOT {cond} THEN {reason}" for cond, reason in checks(col, v, p))
    return f"CASE WHEN {_blank(v)} THEN {empty}{whens} ELSE NULL END"


def typed(col: Column, v: str, p: str | None) -> str:
    """SQL: ``v`` in the raw type of ``col`` (blank optional -> NULL), right on valid rows."""
    if p is not None:
        return p
    if col.lowercase:
        return f"NULLIF(lower(trim({v}, {quote_literal(BLANK)})), '')"
    return v if col.required else f"CASE WHEN {_blank(v)} THEN NULL ELSE {v} END"


def row_sql(schema: TableSchema, source: dict[str, str]) -> tuple[str, str, str, str]:
    """For a row whose raw values are the SQL expressions ``source`` (by column): the
    select list of the parsed helper columns, the typed select list, the validity test and
    the reason (all violations joined with ``'; '``), which read the helpers."""
    helpers, names = [], {}
    for i, c in enumerate(schema.columns):
        expr = parsed(c, source[c.name])
        if expr is not None:
            names[c.name] = f"nj_parsed_{i}"
            helpers.append(f"{expr} AS {names[c.name]}")
    args = [(c, source[c.name], names.get(c.name)) for c in schema.columns]
    typed_list = ", ".join(f"{typed(*a)} AS {quote_ident(a[0].name)}" for a in args)
    valid = " AND ".join(ok(*a) for a in args)
    reason = f"NULLIF(concat_ws('; ', {', '.join(violation(*a) for a in args)}), '')"
    return ", ".join(helpers), typed_list, valid, reason
