"""End to end on the sample data: one flow run per day in date order on a fresh DuckDB, then a
corrected re-delivery of one day. Afterwards the raw tables must reconcile with the files and
the marts must equal their definitions, recomputed in plain Python from the CSV files alone.
"""

from __future__ import annotations

import csv
import io
import shutil
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from flows.cli import main
from ingest.schemas import TABLES
from tests.dbt_helpers import MARTS, Reference, assert_marts_equal, fetch_marts

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


def _reference_marts(drops: Path) -> dict[str, dict[tuple, dict]]:
    """The marts by their definitions, computed in plain Python from the files as finally
    delivered (the project's loader and models play no part in it)."""
    reference = Reference()
    for path in sorted(drops.glob("*/*.csv")):
        reference.deliver(path.parent.name, date.fromisoformat(path.stem), path)
    return reference.marts()


def test_marts_equal_their_definitions_computed_from_the_files(
    warehouse: tuple[Path, Path],
) -> None:
    db, drops = warehouse
    expected = _reference_marts(drops)
    assert all(expected[mart] for mart in MARTS), "the reference marts are empty"
    assert_marts_equal(fetch_marts(db), expected, "sample week and a corrected re-delivery")


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


def test_source_freshness_runs_and_the_raw_tables_are_fresh(
    warehouse: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The freshness the sources declare (``_loaded_at`` within 36 h) is checked by dbt itself:
    ``dbt source freshness``, as an operator or a monitor runs it, passes after the runs."""
    from tests.dbt_helpers import run_dbt

    db, _ = warehouse
    monkeypatch.setenv("DUCKDB_PATH", str(db))
    result = run_dbt(["source", "freshness"], tmp_path, target="ci")
    statuses = {r.node.name: str(r.status) for r in result.result.results}
    expected = {"viewing_logs": "pass", "social_interactions": "pass", "load_audit": "pass"}
    assert statuses == expected, statuses


def test_dbt_docs_show_the_marts_readers(
    warehouse: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``dbt docs generate`` builds the catalog of the warehouse, and the docs' lineage ends at
    the exposures: the Power BI report and the local dashboard, both reading both marts
    (the dashboard also its data-quality table)."""
    import json

    from tests.dbt_helpers import run_dbt

    db, _ = warehouse
    monkeypatch.setenv("DUCKDB_PATH", str(db))
    run_dbt(["docs", "generate"], tmp_path, target="ci")
    catalog = json.loads((tmp_path / "catalog.json").read_text(encoding="utf-8"))
    assert {"model.nightjar.mart_users", "model.nightjar.mart_content_performance"} <= set(
        catalog["nodes"]
    )
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    exposures = {e["name"]: e["depends_on"]["nodes"] for e in manifest["exposures"].values()}
    marts = ["model.nightjar.mart_content_performance", "model.nightjar.mart_users"]
    assert {name: sorted(nodes) for name, nodes in exposures.items()} == {
        "powerbi_report": marts,
        # the dashboard's data-quality page reads the third published table
        "local_dashboard": sorted([*marts, "model.nightjar.mart_data_quality"]),
    }
