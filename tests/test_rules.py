"""The validation SQL of :mod:`ingest.rules`, expression by expression, on messy values.

The cheap checks (``ok``, used on every row) and the reasons (``violation``, built only for
bad rows) are written separately for speed; these tests hold them to the same verdict, and
hold the fast paths (blank test, timestamp GLOB) to the plain definitions they shortcut.
"""

from __future__ import annotations

import itertools
import re

import duckdb
import pytest

from ingest import rules
from ingest.schemas import TABLES, Column

BLANKS = ["", " ", "\t", "\r\n", " \t \n", "\n"]
NOT_BLANK = ["a", " a", "\ta ", "\x01", "\x1f", "!", "é", " é", "\u00a0", "0", "-", "\r\nx"]
INTEGERS = ["0", "7", "+7", "-7", " 42 ", "\t42", "007", "9223372036854775807"]
INTEGERS += ["1.0", "1840.000", " 7.00 ", "-0.0"]
NOT_INTEGERS = ["1.5", "1.01", "1e3", "1E3", "0x10", "0b1", "1_000", "5\r", "٣", "1 2", "--1"]
NOT_INTEGERS += ["9223372036854775808", "+", ".5", "5.", "5.0.0", "1.0e0", "1,0"]
TIMESTAMPS = [
    "2026-11-25T08:15:30Z",
    "2026-11-25 08:15:30Z",
    "2026-11-25 08:15:30",
    "2026-11-25T08:15:30.250+02:00",
    "2026-11-25T08:15:30+0200",
    "2026-11-25T08:15:30,25Z",
    "2026-11-25T08:15Z",
    " 2026-11-25T08:15:30Z",
    "2026-11-25T08:15:30Z\t",
    "2026-11-25T08:15:30+23:59",
    "2026-11-25T08:15:30-00:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T23:59:59+01:00",
]
NOT_TIMESTAMPS = [
    "2026-11-25",
    "20261125T081530Z",
    "2026-11-25T08Z",
    "2026-11-25T08:15:30ZZ",
    "2026-11-25T08:15:30Z\r",
    "x2026-11-25T08:15:30Z",
    "2026-13-25T08:15:30Z",
    "26-11-25T08:15:30Z",
    "+2026-11-25T08:15:30Z",
    "2026-11-25T08:15:30 Europe/Paris",
    "infinity",
    "2026-11-25T08:15:30+24:00",
    "2026-11-25T08:15:30+2400",
    "2026-11-25T08:15:30+05:60",
    "2026-11-25T08:15:30+99:99",
    "2026-11-25T08:15:30.Z",
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:30:00+01:00",
    "9999-12-31T23:30:00-01:00",
]
VALUES = BLANKS + NOT_BLANK + INTEGERS + NOT_INTEGERS + TIMESTAMPS + NOT_TIMESTAMPS
VALUES += ["like", "LIKE", " Share ", "comment", "likes", "like\x00"]


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute("SET TimeZone = 'UTC'")
    c.execute("CREATE TABLE v (v VARCHAR)")
    c.executemany("INSERT INTO v VALUES (?)", [[x] for x in [*VALUES, None]])
    yield c
    c.close()


def _columns() -> list[Column]:
    return [c for schema in TABLES.values() for c in schema.columns]


@pytest.mark.parametrize("col", _columns(), ids=lambda c: c.name)
def test_ok_is_true_exactly_when_there_is_no_violation(
    con: duckdb.DuckDBPyConnection, col: Column
) -> None:
    p = rules.parsed(col, "v")
    parsed = f"{p} AS p" if p else "NULL AS p"
    helper = "p" if p else None
    got = con.execute(
        f"SELECT v, {rules.ok(col, 'v', helper)}, {rules.violation(col, 'v', helper)} "
        f"FROM (SELECT v, {parsed} FROM v)"
    ).fetchall()
    disagree = [(v, ok, why) for v, ok, why in got if bool(ok) != (why is None)]
    assert not disagree
    # Both verdicts occur for every checked column, so the comparison is not vacuous.
    if rules.ok(col, "v", helper) != "true":
        assert {bool(ok) for _, ok, _ in got} == {True, False}


@pytest.mark.parametrize(
    ("col", "good", "bad"),
    [
        (Column("n", "int64", required=True), INTEGERS, NOT_INTEGERS),
        (Column("t", "timestamp", required=True), TIMESTAMPS, NOT_TIMESTAMPS),
    ],
    ids=["integer", "timestamp"],
)
def test_ok_accepts_the_contracts_spellings_and_refuses_the_others(
    con: duckdb.DuckDBPyConnection, col: Column, good: list[str], bad: list[str]
) -> None:
    p = rules.parsed(col, "v")
    got = dict(
        con.execute(
            f"SELECT v, {rules.ok(col, 'v', 'p')} FROM (SELECT v, {p} AS p FROM v)"
        ).fetchall()
    )
    assert [v for v in good if not got[v]] == []
    assert [v for v in bad if got[v]] == []


def test_blank_fast_path_matches_the_definition(con: duckdb.DuckDBPyConnection) -> None:
    got = con.execute(
        f"SELECT v, {rules._blank('v')}, {rules._blank('v', negate=True)} FROM v"
    ).fetchall()
    for v, blank, not_blank in got:
        expected = v is None or v.strip(rules.BLANK) == ""
        assert (blank, not_blank) == (expected, not expected), repr(v)


def test_timestamp_glob_accepts_only_what_the_pattern_accepts(
    con: duckdb.DuckDBPyConnection,
) -> None:
    pattern = re.compile(rules.TIMESTAMP_PATTERN.removeprefix("^").removesuffix("$"))
    candidates = [*TIMESTAMPS, *NOT_TIMESTAMPS]
    # Every value made by swapping one character of the common spelling for another.
    base = "2026-11-25T08:15:30Z"
    candidates += [
        base[:i] + ch + base[i + 1 :]
        for i, ch in itertools.product(range(len(base)), "0T Zz+-:.,x\t")
    ]
    matched = [
        v
        for v in candidates
        if con.execute("SELECT $1 GLOB $2", [v, rules.TIMESTAMP_COMMON_GLOB]).fetchone()[0]
    ]
    assert base in matched
    assert [v for v in matched if not pattern.fullmatch(v)] == []


def test_allowed_values_cannot_be_blank() -> None:
    with pytest.raises(ValueError, match="cannot be blank"):
        Column("kind", rule="one_of", allowed=("a", " "))
