"""Seeded random files that follow the input contract, messily, against the plain-Python reading.

Each file mixes what the contract allows (a BOM, LF or CRLF or both, any quoting style,
columns in any order, an unknown column, quoted commas, quotes and line breaks, padded
numbers and timestamps, offsets, empty optional fields, any-case interaction types) with
rows it rejects (wrong field counts, bad numbers and timestamps, empty required fields,
unknown interaction types). The loader must agree with
:func:`tests.dbt_helpers._parse_row`, an independent reading of the contract with Python's
``csv`` module, on every row: how many records the file has, which rows load, in which
order, and with which values.
"""

from __future__ import annotations

import csv
import random
from datetime import date
from pathlib import Path

import duckdb
import pytest

from config.settings import Settings
from ingest import expected_path, ingest_file
from ingest.schemas import TABLES, Column
from tests.dbt_helpers import _parse_row
from tests.messy_csv import TEXT, write_messy_csv

DAY = date(2026, 11, 20)
INTS = ["0", "7", "+7", " 42 ", "\t9", "-3", "1.5", "1e3", "ten", "", "600", "007", "0x1", "٣"]
INTS += ["600.0", "7.00", "0.0", "2.50"]
TIMESTAMPS = [
    "2026-11-25T08:15:30Z",
    "2026-11-25T08:15:30.250+02:00",
    "2026-11-25 08:15:30",
    "2026-11-25T23:59:59-05:00",
    "2026-11-25T08:15Z",
    " 2026-11-25T08:15:30Z",
    "2026-11-25T08:15:30+0530",
    "2026-11-25",
    "20261125T081530Z",
    "yesterday",
    "",
    "2026-13-01T00:00:00Z",
    "2026-11-25T08:15:30z",
    "2026-11-25T24:00:00+01:00",
    "2026-12-31T24:00",
    "2026-11-25T24:00:01",
    "2026-11-25T08:15:30-23:59",
    "2026-11-25T08:15:30+24:00",
    "2026-11-25T08:15:30+05:99",
    "2026-11-25T08:15:30 Z",
    "2026-11-25T08:15:30.Z",
    "0000-06-01T00:00:00Z",
    "9999-12-31T23:30:00-01:00",
]
KINDS = ["like", "LIKE", " Share ", "comment", "Comment", "dislike", ""]


def _value(rng: random.Random, col: Column) -> str:
    if col.type == "int64":
        return rng.choice(INTS)
    if col.type == "timestamp":
        return rng.choice(TIMESTAMPS)
    if col.rule == "one_of":
        return rng.choice(KINDS)
    if col.required:
        return rng.choice([f"id{rng.randrange(50)}"] * 4 + ['x"q', "a,b", " ", ""])
    return rng.choice(TEXT)


def _write_random_file(rng: random.Random, root: Path, table: str) -> Path:
    schema = TABLES[table]
    header = list(schema.column_names)
    rng.shuffle(header)
    if rng.random() < 0.3:
        header.insert(rng.randrange(len(header) + 1), "note")
    records = (
        {
            h: rng.choice(TEXT)
            if h == "note"
            else _value(rng, {c.name: c for c in schema.columns}[h])
            for h in header
        }
        for _ in range(rng.choice([1, 40, 700, 2500]))
    )
    return write_messy_csv(rng, expected_path(root, table, DAY), header, records)


@pytest.mark.parametrize("seed", range(60))
def test_random_file_loads_as_the_contract_reads_it(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    table = list(TABLES)[seed % len(TABLES)]
    schema = TABLES[table]
    path = _write_random_file(rng, tmp_path / "src", table)
    with path.open(newline="", encoding="utf-8-sig") as f:
        records = list(csv.reader(f))
    header = [h.strip() for h in records[0]]
    body = [r for r in records[1:] if r]
    expected = [row for row in (_parse_row(schema, header, r) for r in body) if row is not None]

    settings = Settings(target="ci", duckdb_path=tmp_path / "wh.duckdb")
    result = ingest_file(settings, table, path)

    assert (result.rows_in_file, result.rows_loaded) == (len(body), len(expected))
    columns = schema.column_names
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        loaded = con.execute(
            f"SELECT {', '.join(columns)} FROM raw.{table} ORDER BY _source_row"
        ).fetchall()
        rejected_lines = [
            r[0]
            for r in con.execute(f"SELECT line_number FROM raw.{schema.rejected_table}").fetchall()
        ]
    finally:
        con.close()
    assert [dict(zip(columns, row, strict=True)) for row in loaded] == expected
    assert len(rejected_lines) == len(set(rejected_lines)) == len(body) - len(expected)
