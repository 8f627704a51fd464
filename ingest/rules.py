"""SQL expressions for typing and validating raw CSV values, derived from :mod:`ingest.schemas`.

Each input column arrives as VARCHAR (NULL when the field is empty). For a column
with a parsed type (integer, timestamp, date) the value is parsed once, with
``TRY_CAST``, into a helper column (:func:`parsed`); the other expressions reuse it:

- ``ok``: SQL boolean, true when the value is acceptable (cheap: no strings built);
- ``violation``: NULL when the value is acceptable, otherwise a short reason naming the
  column and why (all violations of a row are joined with ``"; "``); only evaluated for
  rows that are not ok;
- ``typed``: the value in its raw type, meaningful on rows that are ok.

The strict formats (no ``1.5`` or ``1e3`` as an integer, ISO 8601 shapes only) are
regular expressions checked on top of DuckDB's casts, which accept more. ``ok`` runs on
every row, so it first tries a cheaper test that settles the common spellings (a string
comparison for blankness, GLOBs for digits and the usual timestamp) and falls back to the
regular expression only when that test fails.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from datetime import date, datetime
from pathlib import Path

from ingest.schemas import Column, TableSchema

#: Characters treated as "blank": a field made only of these is empty.
BLANK = " \t\r\n"
#: A field made only of blank characters (checked without building a trimmed copy).
BLANK_PATTERN = "[ \t\r\n]*"
#: An integer: ASCII digits, optionally signed, optionally with a fraction of zeros only
#: (``1840.0``, as tools that store a column with gaps as floating point write it).
INT_PATTERN = r"^[ \t]*[+-]?[0-9]+(\.0+)?[ \t]*$"
#: ISO 8601 date-time with seconds optional, fraction optional and offset optional (UTC).
#: DuckDB's cast checks the date and time fields but takes any two-digit offset (``+99:99``),
#: so the offset's range (under 24 hours) is checked here.
TIMESTAMP_PATTERN = (
    r"^[ \t]*[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?"
    r"([Zz]|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?[ \t]*$"
)

#: A string with a character other than a digit. A value that parses as an integer and
#: has none is a plain run of digits: the integer pattern is needed only for the others.
NON_DIGIT_GLOB = "*[!0-9]*"
_D = "[0-9]"
#: The most common spelling (``2026-11-25T08:15:30Z``, or with a space): a GLOB, which
#: matches about twice as fast as the regular expression. It only accepts strings the
#: pattern accepts, so the pattern is needed only for the other spellings.
TIMESTAMP_COMMON_GLOB = f"{_D * 4}-{_D * 2}-{_D * 2}[T ]{_D * 2}:{_D * 2}:{_D * 2}Z"

SQL_TYPES = {"string": "VARCHAR", "int64": "BIGINT", "timestamp": "TIMESTAMPTZ", "date": "DATE"}

#: The instants both warehouses can store (BigQuery's TIMESTAMP range, in UTC). DuckDB's
#: reaches further (year 0000, BC dates), so a value outside is rejected on every target.
TIMESTAMP_MIN = "0001-01-01 00:00:00+00"
TIMESTAMP_MAX = "9999-12-31 23:59:59.999999+00"
_IN_RANGE = f"BETWEEN TIMESTAMPTZ '{TIMESTAMP_MIN}' AND TIMESTAMPTZ '{TIMESTAMP_MAX}'"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


#: Characters DuckDB's file readers expand as a glob pattern anywhere in a path.
GLOB_CHARACTERS = frozenset("*?[")
_aliases: dict[Path, Path] = {}


def literal_path(path: Path) -> str:
    """``path`` as a DuckDB reader must be given it to read that one file.

    DuckDB expands ``*``, ``?`` and ``[...]`` in a path and has no escape for them, so a path
    holding any of them is read through a symbolic link with a plain name, in a temporary
    folder of this process (removed at exit).
    """
    path = Path(path).absolute()
    if not GLOB_CHARACTERS.intersection(str(path)):
        return str(path)
    if path not in _aliases:
        folder = Path(tempfile.mkdtemp(prefix="nj-literal-"))
        atexit.register(shutil.rmtree, folder, True)
        if GLOB_CHARACTERS.intersection(str(folder)):
            raise ValueError(
                f"{path}: the temporary folder {folder} holds one of {''.join(GLOB_CHARACTERS)}"
                ", which DuckDB reads as a pattern; set TMPDIR to a plain folder"
            )
        alias = folder / "input.csv"
        alias.symlink_to(path)
        _aliases[path] = alias
    return str(_aliases[path])


def sql_literal(value: str | int | date | datetime) -> str:
    """A SQL literal for a scalar, exact (NUL characters via ``chr(0)``).

    Statements built with literals bind no Python parameters; DuckDB's Python client
    imports pandas (seconds) the first time a process binds one.
    """
    if isinstance(value, bool):
        raise TypeError("no SQL literal for a bool here")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{value!r} has no time zone; pass an aware datetime")
        return f"TIMESTAMPTZ {quote_literal(value.isoformat())}"
    if isinstance(value, date):
        return f"DATE {quote_literal(value.isoformat())}"
    return " || chr(0) || ".join(quote_literal(part) for part in value.split("\x00"))


#: Every string that sorts at or after this one starts with a byte above the blank
#: characters (and above all ASCII controls), so it is not blank: the cheap test that
#: settles almost every value before the regular expression is needed.
NON_BLANK_FLOOR = "!"


def _blank(v: str) -> str:
    """SQL boolean: ``v`` is NULL or made only of blank characters."""
    return (
        f"({v} IS NULL OR ({v} < {quote_literal(NON_BLANK_FLOOR)} "
        f"AND regexp_full_match({v}, {quote_literal(BLANK_PATTERN)})))"
    )


def _not_blank(v: str) -> str:
    """SQL boolean: ``NOT _blank(v)``, never NULL, and as cheap for most values.

    Written out rather than as ``NOT`` of :func:`_blank`: DuckDB evaluates the operand of
    ``NOT`` on every row, so the regular expression would run on every value again.
    """
    return (
        f"({v} IS NOT NULL AND ({v} >= {quote_literal(NON_BLANK_FLOOR)} "
        f"OR NOT regexp_full_match({v}, {quote_literal(BLANK_PATTERN)})))"
    )


def _shown(v: str) -> str:
    """The value as shown in a reason: quoted, cut to 40 characters."""
    return f"'''' || left({v}, 40) || ''''"


_HHMM = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2})($|[Zz+-])"
_HHMM_WITH_SECONDS = quote_literal(r"\1:00\2")
_DECIMAL_COMMA = r",([0-9]+)"
_DECIMAL_POINT = quote_literal(r".\1")


def _iso_normalised(v: str) -> str:
    """SQL: the ISO 8601 spellings DuckDB's cast does not take, rewritten into one it does.

    Only evaluated when the plain cast failed: trims blanks, adds the seconds to ``HH:MM``,
    turns a decimal comma into a point and a lowercase ``z`` into ``Z``.
    """
    trimmed = f"trim({v}, {quote_literal(BLANK)})"
    seconds = f"regexp_replace({trimmed}, {quote_literal(_HHMM)}, {_HHMM_WITH_SECONDS})"
    point = f"regexp_replace({seconds}, {quote_literal(_DECIMAL_COMMA)}, {_DECIMAL_POINT})"
    return f"replace({point}, 'z', 'Z')"


def parsed(col: Column, v: str) -> str | None:
    """SQL: ``v`` parsed into the raw type of ``col`` (NULL when it does not parse), or
    None for columns kept as strings.

    DuckDB's casts skip the surrounding spaces and tabs the integer and timestamp
    patterns allow, so no trimmed copy is built for the common case; a timestamp with
    mixed leading blanks is parsed again, trimmed. Blank values parse as NULL.
    """
    if col.type == "int64":
        return f"TRY_CAST({v} AS BIGINT)"
    if col.type == "timestamp":
        return (
            f"COALESCE(TRY_CAST({v} AS TIMESTAMPTZ), TRY_CAST({_iso_normalised(v)} AS TIMESTAMPTZ))"
        )
    if col.type == "date":
        return f"TRY_CAST(trim({v}, {quote_literal(BLANK)}) AS DATE)"
    return None


def _format_ok(col: Column, v: str, p: str | None) -> str:
    """SQL boolean for a non-blank value: it has the column's type and passes its rule."""
    checks: list[str] = []
    if col.type == "int64":
        checks += [
            f"{p} IS NOT NULL",
            f"(NOT {v} GLOB {quote_literal(NON_DIGIT_GLOB)} "
            f"OR regexp_full_match({v}, {quote_literal(INT_PATTERN)}))",
        ]
        if col.rule == "non_negative":
            checks.append(f"{p} >= 0")
        elif col.rule == "positive":
            checks.append(f"{p} > 0")
        if col.maximum is not None:
            checks.append(f"{p} <= {int(col.maximum)}")
    elif col.type == "timestamp":
        checks += [
            f"{p} IS NOT NULL",
            f"({v} GLOB {quote_literal(TIMESTAMP_COMMON_GLOB)} "
            f"OR regexp_full_match({v}, {quote_literal(TIMESTAMP_PATTERN)}))",
            f"{p} {_IN_RANGE}",
        ]
    elif col.type == "date":
        checks.append(f"{p} IS NOT NULL")
    if col.rule == "one_of":
        norm = f"lower(trim({v}, {quote_literal(BLANK)}))" if col.lowercase else v
        allowed = ", ".join(quote_literal(a) for a in col.allowed)
        checks.append(f"{norm} IN ({allowed})")
    return " AND ".join(checks) if checks else "true"


def ok(col: Column, v: str, p: str | None) -> str:
    """SQL boolean: ``v`` is valid for ``col`` (exactly when :func:`violation` is NULL)."""
    fmt = _format_ok(col, v, p)
    if fmt == "true":
        return _not_blank(v) if col.required else "true"
    # A blank value never passes a format check (it parses as NULL, and the patterns and
    # allowed values need a non-blank character), so a required value needs no separate
    # blank test, and an optional one is tested for blankness only when its format fails.
    if col.required:
        return f"({fmt})"
    return f"(({fmt}) OR {_blank(v)})"


def violation(col: Column, v: str, p: str | None) -> str:
    """SQL: NULL when ``v`` (a VARCHAR expression) is valid for ``col``, else a reason.

    ``p`` is :func:`parsed` of ``v`` (or None for string columns).
    """
    name = col.name
    checks: list[str] = []
    if col.required:
        checks.append(f"WHEN {_blank(v)} THEN {quote_literal(f'{name}: required value is empty')}")
    else:
        checks.append(f"WHEN {_blank(v)} THEN NULL")
    if col.type == "int64":
        checks.append(
            f"WHEN {p} IS NULL OR NOT regexp_full_match({v}, {quote_literal(INT_PATTERN)}) "
            f"THEN {quote_literal(name + ': ')} || {_shown(v)} || ' is not an integer'"
        )
        if col.rule == "non_negative":
            checks.append(
                f"WHEN {p} < 0 "
                f"THEN {quote_literal(name + ': ')} || {_shown(v)} || ' is negative (must be >= 0)'"
            )
        elif col.rule == "positive":
            checks.append(
                f"WHEN {p} <= 0 THEN {quote_literal(name + ': ')} || {_shown(v)} || ' must be > 0'"
            )
        if col.maximum is not None:
            checks.append(
                f"WHEN {p} > {int(col.maximum)} THEN {quote_literal(name + ': ')} || {_shown(v)} "
                f"|| {quote_literal(f' is above the maximum {col.maximum}')}"
            )
    elif col.type == "timestamp":
        checks.append(
            f"WHEN {p} IS NULL OR NOT regexp_full_match({v}, {quote_literal(TIMESTAMP_PATTERN)}) "
            f"THEN {quote_literal(name + ': ')} || {_shown(v)} "
            "|| ' is not an ISO 8601 timestamp (e.g. 2026-11-25T08:15:30Z)'"
        )
        checks.append(
            f"WHEN NOT {p} {_IN_RANGE} THEN {quote_literal(name + ': ')} || {_shown(v)} "
            f"|| ' is outside {TIMESTAMP_MIN[:10]} to {TIMESTAMP_MAX[:10]} UTC'"
        )
    elif col.type == "date":
        checks.append(
            f"WHEN {p} IS NULL "
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


def typed(col: Column, v: str, p: str | None) -> str:
    """SQL: ``v`` in the raw type of ``col`` (empty optional -> NULL), right on valid rows.

    Parsed columns are their :func:`parsed` value: a blank optional value parses as NULL.
    """
    if p is not None:
        return p
    if col.lowercase:
        return f"NULLIF(lower(trim({v}, {quote_literal(BLANK)})), '')"
    if col.required:
        return v
    return f"CASE WHEN {_blank(v)} THEN NULL ELSE {v} END"


def parsed_select(schema: TableSchema, source: dict[str, str]) -> tuple[str, dict[str, str]]:
    """SQL select list of the :func:`parsed` helper columns, and their names by column."""
    names: dict[str, str] = {}
    items: list[str] = []
    for i, c in enumerate(schema.columns):
        expr = parsed(c, source[c.name])
        if expr is not None:
            names[c.name] = f"nj_parsed_{i}"
            items.append(f"{expr} AS {names[c.name]}")
    return ", ".join(items), names


def valid_expr(schema: TableSchema, source: dict[str, str], parsed_cols: dict[str, str]) -> str:
    """SQL boolean: the row has no violation (cheaper than building the reasons)."""
    return " AND ".join(ok(c, source[c.name], parsed_cols.get(c.name)) for c in schema.columns)


def reason_expr(schema: TableSchema, source: dict[str, str], parsed_cols: dict[str, str]) -> str:
    """SQL: all violations of a row joined with '; ', NULL when the row is valid.

    ``source`` maps each schema column to the SQL expression holding its raw value,
    ``parsed_cols`` each parsed column to its :func:`parsed` helper column.
    """
    parts = ", ".join(violation(c, source[c.name], parsed_cols.get(c.name)) for c in schema.columns)
    return f"NULLIF(concat_ws('; ', {parts}), '')"


def typed_select(schema: TableSchema, source: dict[str, str], parsed_cols: dict[str, str]) -> str:
    """SQL select list: every schema column typed, in schema order."""
    return ", ".join(
        f"{typed(c, source[c.name], parsed_cols.get(c.name))} AS {quote_ident(c.name)}"
        for c in schema.columns
    )
