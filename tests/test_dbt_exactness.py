"""The marts stay exact under incremental builds.

Messy generated data (late events, re-sent corrections, ids repeated within a file, bad
rows) is loaded day by day through the real ingest, with a real ``dbt build`` after each
day. Along the way: a mart build that does not happen (marts failed), a build where one
intermediate model fails while the marts still run, a file date delivered days late,
and a corrected re-delivery that drops ids and moves others to other users, contents and
dates. The marts must then equal both a ``--full-refresh`` build and an independent
Python computation from the CSV files, and a nightly run must leave the rows it does not
affect alone.
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from config.settings import Settings
from ingest import ingest_date, ingest_file
from ingest.schemas import TABLES
from tests.dbt_helpers import (
    MARTS,
    Reference,
    assert_marts_equal,
    event_keys,
    fetch_marts,
    read_file,
    run_dbt,
)
from tools.generate import GeneratorConfig, generate

pytestmark = pytest.mark.integration

START = date(2026, 11, 16)
DAYS = 8
LATE_FILE_DAY = 2  # this file date is delivered after all the others
MARTS_FAIL_DAY = 4  # the marts are not built after this day's load
CURRENT_FAILS_DAY = 5  # int_content__views_current fails; the marts still run
REDELIVERED_DAY = 5  # corrected afterwards: ids dropped, moved to other users/contents/dates


def _redeliver(src: Path, out_dir: Path, table: str, file_date: date) -> Path:
    """A corrected copy of a delivered file: every 6th record dropped, others moved."""
    schema = TABLES[table]
    with src.open(newline="", encoding="utf-8-sig") as f:
        records = list(csv.reader(f))
    header, body = records[0], records[1:]
    col = {name: i for i, name in enumerate(header)}
    corrected = []
    for j, fields in enumerate(body):
        if len(fields) != len(header):
            corrected.append(fields)
            continue
        fields = list(fields)
        match j % 6:
            case 0:
                continue  # dropped from the corrected file
            case 1:
                fields[col["user_id"]] = f"u{j % 40}"
            case 2:
                fields[col["content_id"]] = "c_corrected"
            case 3:
                try:
                    ts = datetime.fromisoformat(fields[col[schema.event_time]].strip())
                except ValueError:
                    pass
                else:
                    ts = ts.replace(tzinfo=ts.tzinfo or UTC) - timedelta(days=3, hours=5)
                    fields[col[schema.event_time]] = ts.isoformat()
        corrected.append(fields)
    path = out_dir / table / f"{file_date.isoformat()}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(corrected)
    return path


def _touchable(reference: Reference, day_files: dict[str, Path]) -> tuple[set, set]:
    """Dates and users a load of ``day_files`` may affect: those of its records and
    those of the current winners of its ids (where their old contribution sits)."""
    dates: set[date] = set()
    users: set[str] = set()
    for table, path in day_files.items():
        records = read_file(TABLES[table], path)
        winners = reference.winners(table)
        key = TABLES[table].key
        old = [winners[r[key]] for r in records if r[key] in winners]
        for part in (records, old):
            d, u = event_keys(table, part)
            dates |= d
            users |= u
    return dates, users


def _stamps(path: Path) -> dict[str, dict[tuple, object]]:
    marts = fetch_marts(path, with_stamp=True)
    return {m: {k: row["batch_loaded_at"] for k, row in marts[m].items()} for m in MARTS}


def test_incremental_marts_are_exact(tmp_path: Path, duckdb_path: Path) -> None:
    source = tmp_path / "drops"
    generate(
        source,
        GeneratorConfig(
            start_date=START,
            days=DAYS,
            views_per_day=300,
            interactions_per_day=150,
            seed=11,
            late_rate=0.15,
            resend_rate=0.1,
            dup_rate=0.03,
            users=1500,
            contents=30,
        ),
    )
    warehouse = duckdb_path
    settings = Settings.from_env(duckdb_path=warehouse)
    target = tmp_path / "dbt-target"
    reference = Reference()

    def load(day: date, source_dir: Path = source) -> dict[str, Path]:
        results = ingest_date(settings, day, source_dir)
        files = {r.table: source_dir / r.table / f"{day.isoformat()}.csv" for r in results}
        for table, path in files.items():
            reference.deliver(table, day, path)
        return files

    for offset in range(DAYS):
        day = START + timedelta(days=offset)
        if offset == LATE_FILE_DAY:
            continue
        before = _stamps(warehouse) if offset else None
        touchable = _touchable(reference, {t: source / t / f"{day}.csv" for t in TABLES})
        load(day)
        if offset == MARTS_FAIL_DAY:
            run_dbt(["build", "--exclude", *MARTS], target)
        elif offset == CURRENT_FAILS_DAY:
            run_dbt(["build", "--exclude", "int_content__views_current"], target)
        else:
            run_dbt(["build"], target)

        if offset == DAYS - 1:
            # A plain nightly run: rows whose keys the day cannot touch keep their stamp.
            after = _stamps(warehouse)
            dates, users = touchable
            kept = {
                "mart_content_performance": [
                    k for k in before["mart_content_performance"] if k[1] not in dates
                ],
                "mart_users": [k for k in before["mart_users"] if k[0] not in users],
            }
            for mart, keys in kept.items():
                assert keys, f"{mart}: the scenario leaves no row untouched; enlarge it"
                changed = [k for k in keys if after[mart].get(k) != before[mart][k]]
                assert not changed, f"{mart}: untouched rows were rewritten: {changed[:5]}"
                rewritten = [k for k in after[mart] if after[mart][k] != before[mart].get(k)]
                assert rewritten, f"{mart}: the nightly run rewrote nothing"

    assert_marts_equal(fetch_marts(warehouse), reference.marts(), "after the daily loads")

    # A file date delivered late, after newer ones: its copies lose to newer file dates.
    load(START + timedelta(days=LATE_FILE_DAY))
    run_dbt(["build"], target)

    # A corrected re-delivery of an old date.
    redelivered = START + timedelta(days=REDELIVERED_DAY)
    for table in TABLES:
        path = _redeliver(
            source / table / f"{redelivered}.csv", tmp_path / "fix", table, redelivered
        )
        ingest_file(settings, table, path, redelivered)
        reference.deliver(table, redelivered, path)
    run_dbt(["build"], target)

    expected = reference.marts()
    incremental = fetch_marts(warehouse)
    assert_marts_equal(incremental, expected, "incremental, after re-delivery")
    # the scenario really exercised the hard cases
    assert any(r["views"] == 0 for r in incremental["mart_content_performance"].values())
    assert any(r["engagement_segment"] == "social_only" for r in incremental["mart_users"].values())
    assert any(k[0] == "c_corrected" for k in incremental["mart_content_performance"])
    con = duckdb.connect(str(warehouse))
    try:
        tombstones, moved = con.execute(
            "select count(*) filter (where is_deleted), "
            "count(distinct view_id) filter (where not is_deleted) - count(distinct "
            "view_id || user_id || content_id || activity_date) filter (where not is_deleted) "
            "from intermediate.int_content__view_versions"
        ).fetchone()
    finally:
        con.close()
    assert tombstones > 0, "the re-delivery removed no view for good"
    assert moved < 0, "no view moved to another user, content or date"

    run_dbt(["build", "--full-refresh"], target)
    assert_marts_equal(fetch_marts(warehouse), incremental, "full refresh vs incremental")
    assert_marts_equal(fetch_marts(warehouse), expected, "full refresh")


def test_build_on_empty_raw(tmp_path: Path, empty_raw: Path) -> None:
    """Raw tables that exist but hold nothing: the build succeeds, twice, with empty marts."""
    run_dbt(["build"], tmp_path / "target")
    run_dbt(["build"], tmp_path / "target")
    con = duckdb.connect(str(empty_raw))
    try:
        for mart in MARTS:
            assert con.execute(f"select count(*) from marts.{mart}").fetchone() == (0,)
    finally:
        con.close()
