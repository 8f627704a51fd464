"""End to end on the sample data: one flow run per day in date order on a fresh DuckDB, then a
corrected re-delivery of one day. Afterwards the raw tables must reconcile with the files and
the marts must equal their definitions, recomputed here in plain Python from the raw rows.
"""

from __future__ import annotations

import csv
import io
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from flows.daily_pipeline import main
from ingest.schemas import TABLES

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DATA = REPO_ROOT / "sample_data"
REDELIVERED_INDEX = 3  # which sample day gets a corrected re-delivery
CORRECTION_S = 7  # seconds added to every watch_duration_s of the corrected file
DROPPED_ROWS = 3  # rows removed from the end of the corrected file


def _dates(folder: Path) -> list[date]:
    return sorted({date.fromisoformat(p.stem) for p in folder.glob("*/*.csv")})


def _records(path: Path) -> list[list[str]]:
    """Data records of a CSV file (header excluded, blank lines ignored), read by Python."""
    text = path.read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return [r for r in rows[1:] if r]


def _correct(path: Path) -> None:
    """Rewrite ``path`` as a corrected re-delivery: longer watches, the last rows withdrawn."""
    text = path.read_bytes().decode("utf-8-sig")
    header, *rows = [r for r in csv.reader(io.StringIO(text, newline="")) if r]
    col = header.index("watch_duration_s")
    for row in rows:
        if len(row) == len(header) and row[col].strip().isdigit():
            row[col] = str(int(row[col]) + CORRECTION_S)
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows([header, *rows[:-DROPPED_ROWS]])
    path.write_text(out.getvalue(), encoding="utf-8", newline="")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """Run the flow for every sample day, then re-deliver one corrected day.

    Yields (the DuckDB file, the drops folder as finally delivered).
    """
    if not SAMPLE_DATA.is_dir():
        pytest.fail(f"{SAMPLE_DATA} is missing")
    from prefect.testing.utilities import prefect_test_harness

    root = tmp_path_factory.mktemp("e2e")
    drops = root / "drops"
    shutil.copytree(SAMPLE_DATA, drops, ignore=shutil.ignore_patterns("*.md"))
    db = root / "e2e.duckdb"
    with pytest.MonkeyPatch.context() as mp, prefect_test_harness(server_startup_timeout=180):
        mp.setenv("DUCKDB_PATH", str(db))
        days = _dates(drops)
        assert len(days) >= 7
        for day in days:
            argv = ["--run-date", day.isoformat(), "--source-dir", str(drops), "--target", "ci"]
            assert main(argv) == 0, f"flow failed for {day}"
        redelivered = days[REDELIVERED_INDEX]
        _correct(drops / "viewing_logs" / f"{redelivered}.csv")
        argv = ["--run-date", redelivered.isoformat(), "--source-dir", str(drops), "--target", "ci"]
        assert main(argv) == 0, f"re-delivery of {redelivered} failed"
    yield db, drops


def _query(db: Path, sql: str) -> list[dict[str, Any]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        rel = con.sql(sql)
        return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]
    finally:
        con.close()


def test_raw_and_rejected_rows_reconcile_with_the_files(warehouse: tuple[Path, Path]) -> None:
    db, drops = warehouse
    for table, schema in TABLES.items():
        loaded = {
            r["d"]: r["n"]
            for r in _query(db, f"select _file_date d, count(*) n from raw.{table} group by 1")
        }
        rejected = {
            r["d"]: r["n"]
            for r in _query(
                db, f"select _file_date d, count(*) n from raw.{schema.rejected_table} group by 1"
            )
        }
        audit = _query(
            db,
            "select _file_date d, rows_in_file, rows_loaded, rows_rejected from raw.load_audit "
            f"where table_name = '{table}' order by 1",
        )
        days = _dates(drops)
        assert [a["d"] for a in audit] == days  # one audit row per file, re-delivery replaced
        for a in audit:
            in_file = len(_records(drops / table / f"{a['d']}.csv"))
            assert a["rows_in_file"] == in_file, (table, a["d"])
            assert loaded.get(a["d"], 0) == a["rows_loaded"], (table, a["d"])
            assert rejected.get(a["d"], 0) == a["rows_rejected"], (table, a["d"])
            assert in_file == a["rows_loaded"] + a["rows_rejected"], (table, a["d"])
        assert sum(rejected.values()) > 0  # the sample data has bad rows of every kind


def test_redelivery_replaced_the_day(warehouse: tuple[Path, Path]) -> None:
    db, drops = warehouse
    day = _dates(drops)[REDELIVERED_INDEX]
    rows = _query(
        db, f"select count(distinct _loaded_at) n from raw.viewing_logs where _file_date = '{day}'"
    )
    assert rows[0]["n"] == 1  # no row left from the first delivery


def _latest(db: Path, table: str) -> list[dict[str, Any]]:
    """Dedupe in Python: per id the most recent file date wins, then the last row in the file."""
    key = TABLES[table].key
    best: dict[str, dict[str, Any]] = {}
    for row in _query(db, f"select * from raw.{table}"):
        current = best.get(row[key])
        rank = (row["_file_date"], row["_source_row"])
        if current is None or rank > (current["_file_date"], current["_source_row"]):
            best[row[key]] = row
    return list(best.values())


def _utc_date(ts: datetime) -> date:
    return ts.astimezone(UTC).date()


def _expected_content_performance(
    views: list[dict[str, Any]], interactions: list[dict[str, Any]]
) -> dict[tuple[str, date], dict[str, Any]]:
    out: dict[tuple[str, date], dict[str, Any]] = {}

    def cell(content_id: str, day: date) -> dict[str, Any]:
        return out.setdefault(
            (content_id, day),
            {"_views": [], "likes": 0, "shares": 0, "comments": 0},
        )

    for v in views:
        cell(v["content_id"], _utc_date(v["started_at"]))["_views"].append(v)
    for i in interactions:
        cell(i["content_id"], _utc_date(i["created_at"]))[i["interaction_type"] + "s"] += 1
    for c in out.values():
        vs = c.pop("_views")
        with_length = [v for v in vs if v["content_duration_s"] is not None]
        rates = [min(v["watch_duration_s"] / v["content_duration_s"], 1.0) for v in with_length]
        c["views"] = len(vs)
        c["unique_viewers"] = len({v["user_id"] for v in vs})
        c["total_watch_s"] = sum(v["watch_duration_s"] for v in vs)
        c["avg_completion_rate"] = sum(rates) / len(rates) if rates else None
        c["completed_views"] = sum(
            1 for v in with_length if v["watch_duration_s"] >= 0.9 * v["content_duration_s"]
        )
        engaged = c["likes"] + c["shares"] + c["comments"]
        c["engagement_rate"] = engaged / len(vs) if vs else None
    return out


def _expected_users(
    views: list[dict[str, Any]], interactions: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    times: dict[str, list[datetime]] = defaultdict(list)
    for v in views:
        times[v["user_id"]].append(v["started_at"])
    for i in interactions:
        times[i["user_id"]].append(i["created_at"])
    out = {}
    for user, ts in times.items():
        vs = [v for v in views if v["user_id"] == user]
        kinds = Counter(i["interaction_type"] for i in interactions if i["user_id"] == user)
        devices = Counter(v["device"] for v in vs if v["device"] is not None)
        watch = sum(v["watch_duration_s"] for v in vs)
        if watch >= 36000:
            segment = "heavy"
        elif watch >= 3600:
            segment = "regular"
        elif vs:
            segment = "light"
        else:
            segment = "social_only"
        out[user] = {
            "first_seen_at": min(ts),
            "last_seen_at": max(ts),
            "active_days": len({_utc_date(t) for t in ts}),
            "total_views": len(vs),
            "total_watch_s": watch,
            "distinct_contents": len({v["content_id"] for v in vs}),
            "likes": kinds["like"],
            "shares": kinds["share"],
            "comments": kinds["comment"],
            "primary_device": min(devices, key=lambda d: (-devices[d], d)) if devices else None,
            "engagement_segment": segment,
        }
    return out


def _same(actual: Any, expected: Any) -> bool:
    if expected is None or actual is None:
        return actual is expected
    if isinstance(expected, float):
        return abs(float(actual) - expected) <= 1e-9 * max(1.0, abs(expected))
    if isinstance(expected, datetime):
        return actual.astimezone(UTC) == expected.astimezone(UTC)
    if isinstance(expected, int):
        return int(actual) == expected
    return actual == expected


def _compare(
    name: str, actual: dict[Any, dict[str, Any]], expected: dict[Any, dict[str, Any]]
) -> None:
    assert set(actual) == set(expected), f"{name}: keys differ"
    mismatches = [
        (key, col, actual[key][col], want)
        for key, row in expected.items()
        for col, want in row.items()
        if not _same(actual[key][col], want)
    ]
    assert not mismatches, f"{name}: {len(mismatches)} mismatches, e.g. {mismatches[:5]}"


def test_content_performance_equals_its_definition(warehouse: tuple[Path, Path]) -> None:
    db, _ = warehouse
    expected = _expected_content_performance(
        _latest(db, "viewing_logs"), _latest(db, "social_interactions")
    )
    actual = {
        (r["content_id"], r["activity_date"]): r
        for r in _query(db, "select * from analytics.mart_content_performance")
    }
    assert len(actual) == len(_query(db, "select * from analytics.mart_content_performance"))
    _compare("mart_content_performance", actual, expected)


def test_users_equal_their_definition(warehouse: tuple[Path, Path]) -> None:
    db, _ = warehouse
    expected = _expected_users(_latest(db, "viewing_logs"), _latest(db, "social_interactions"))
    actual = {r["user_id"]: r for r in _query(db, "select * from analytics.mart_users")}
    assert len(actual) == len(_query(db, "select user_id from analytics.mart_users"))
    _compare("mart_users", actual, expected)


def test_the_corrected_values_replaced_the_first_delivery(warehouse: tuple[Path, Path]) -> None:
    db, drops = warehouse
    day = _dates(drops)[REDELIVERED_INDEX]
    header, *records = [
        r
        for r in csv.reader(
            io.StringIO((drops / "viewing_logs" / f"{day}.csv").read_text("utf-8-sig"), newline="")
        )
        if r
    ]
    id_col, watch_col = header.index("view_id"), header.index("watch_duration_s")
    in_file: dict[str, set[str]] = defaultdict(set)
    for r in records:
        if len(r) == len(header):
            in_file[r[id_col].strip()].add(r[watch_col].strip())
    loaded = _query(
        db, f"select view_id, watch_duration_s from raw.viewing_logs where _file_date = '{day}'"
    )
    assert loaded
    for row in loaded:
        assert str(row["watch_duration_s"]) in in_file[row["view_id"]], row


def test_the_marts_agree_with_each_other(warehouse: tuple[Path, Path]) -> None:
    db, _ = warehouse
    totals = _query(
        db,
        "select (select sum(total_watch_s) from analytics.mart_users) uw, "
        "(select sum(total_watch_s) from analytics.mart_content_performance) cw, "
        "(select sum(total_views) from analytics.mart_users) uv, "
        "(select sum(views) from analytics.mart_content_performance) cv",
    )[0]
    assert int(totals["uw"]) == int(totals["cw"])
    assert int(totals["uv"]) == int(totals["cv"])
