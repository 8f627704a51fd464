"""The seeded generator: determinism, and an independent Python reference parser that must
agree with the loader (rows loaded, rows rejected, line numbers) on its messy output."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from config.settings import Settings
from ingest import ingest_date
from ingest.schemas import TABLES
from tools.generate import GeneratorConfig, generate

CFG = GeneratorConfig(
    start_date=date(2026, 11, 16),
    days=4,
    views_per_day=400,
    interactions_per_day=150,
    seed=11,
    bad_rate=0.05,
)


def _files(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*.csv"))}


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(a, CFG)
    generate(b, CFG)
    generate(c, GeneratorConfig(**{**CFG.__dict__, "seed": 12}))
    assert _files(a) == _files(b)
    assert _files(a) != _files(c)
    assert len(_files(a)) == 8


INT = re.compile(r"[ \t]*[+-]?[0-9]+[ \t]*")
TS = re.compile(
    r"[ \t]*(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?[ \t]*"
)


def _ts_ok(v: str) -> bool:
    m = TS.fullmatch(v)
    if not m:
        return False
    y, mo, d, h, mi, s = (int(x or 0) for x in m.groups()[:6])
    try:
        datetime(y, mo, d, h, mi, s, tzinfo=UTC)
    except ValueError:
        return False
    return True


def reference(path: Path, table: str) -> tuple[list[int], list[int]]:
    """(physical lines of valid records, physical lines of rejected records)."""
    schema = TABLES[table]
    raw = path.read_bytes()
    text = raw.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader)]
    good, bad = [], []
    while True:
        start = reader.line_num + 1
        try:
            rec = next(reader)
        except StopIteration:
            break
        if not rec:
            continue  # blank line: not a record
        if len(rec) != len(header) or any("\udc80" <= ch <= "\udcff" for f in rec for ch in f):
            bad.append(start)
            continue
        row = dict(zip(header, rec, strict=True))
        ok = True
        for col in schema.columns:
            v = row.get(col.name, "")
            if not v.strip(" \t\r\n"):
                ok = ok and not col.required
                continue
            if col.type == "int64":
                n = int(v) if INT.fullmatch(v) else None
                ok = (
                    ok
                    and n is not None
                    and not (
                        (col.rule == "non_negative" and n < 0)
                        or (col.rule == "positive" and n <= 0)
                        or (col.maximum is not None and n > col.maximum)
                    )
                )
            elif col.type == "timestamp":
                ok = ok and _ts_ok(v)
            if col.rule == "one_of":
                ok = ok and v.strip(" \t\r\n").lower() in col.allowed
        (good if ok else bad).append(start)
    return good, bad


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("gen")
    manifests = generate(root / "src", CFG)
    settings = Settings(target="ci", duckdb_path=root / "wh.duckdb")
    results = []
    for day in range(CFG.days):
        results += ingest_date(settings, date(2026, 11, 16 + day), root / "src")
    return root, manifests, settings, results


def test_generator_bad_rows_are_exactly_the_rejects(loaded) -> None:
    _, manifests, _, results = loaded
    by_file = {(r.table, r.file_date.isoformat()): r for r in results}
    assert sum(m.bad_rows for m in manifests) > 20
    for m in manifests:
        r = by_file[(m.table, m.file_date)]
        assert (r.rows_in_file, r.rows_rejected) == (m.rows, m.bad_rows), m


def test_reference_parser_agrees_with_loader(loaded) -> None:
    _, manifests, settings, _ = loaded
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        for m in manifests:
            good, bad = reference(Path(m.path), m.table)
            got_bad = [
                r[0]
                for r in con.execute(
                    f"SELECT line_number FROM raw.{m.table}_rejected WHERE _file_date = $1 "
                    "ORDER BY 1",
                    [date.fromisoformat(m.file_date)],
                ).fetchall()
            ]
            n_loaded = con.execute(
                f"SELECT count(*) FROM raw.{m.table} WHERE _file_date = $1",
                [date.fromisoformat(m.file_date)],
            ).fetchone()[0]
            assert got_bad == bad, m.path
            assert n_loaded == len(good), m.path
    finally:
        con.close()


def test_generated_data_has_the_promised_quirks(loaded) -> None:
    _, manifests, settings, _ = loaded
    assert any(m.bom for m in manifests) and any(m.crlf for m in manifests)
    assert any("ingest_note" in m.columns for m in manifests)
    kinds = {k for m in manifests for k in m.bad_by_kind}
    assert {"too_few_fields", "too_many_fields", "bad_timestamp", "negative_watch"} <= kinds
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        late = con.execute(
            "SELECT count(*) FROM raw.viewing_logs WHERE CAST(started_at AS DATE) < _file_date - 1"
        ).fetchone()[0]
        resent = con.execute(
            "SELECT count(*) FROM (SELECT view_id FROM raw.viewing_logs GROUP BY view_id "
            "HAVING count(DISTINCT _file_date) > 1)"
        ).fetchone()[0]
        multiline = con.execute(
            "SELECT count(*) FROM raw.viewing_logs WHERE contains(genre, chr(10))"
        ).fetchone()[0]
    finally:
        con.close()
    assert late > 0 and resent > 0 and multiline > 0
