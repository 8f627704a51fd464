"""Running a day twice on BigQuery duplicates nothing; a failed slice swap changes nothing.

The re-run goes through the flow's command line with ``--target prod`` (the one switch).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("google.cloud.bigquery", reason="needs the bigquery extra")
from bq_pipeline import MARTS, RAW_KEYS, SAMPLE_DATA, bigquery_marts, bigquery_rows, sample_days

import ingest.warehouse.bigquery as bigquery_warehouse
from config.settings import Settings
from ingest.errors import IngestError
from ingest.schemas import TABLES
from ingest.validate import LoadResult, open_read
from ingest.warehouse.bigquery import BigQueryWarehouse

pytestmark = [pytest.mark.emulator, pytest.mark.integration]


def _raw_state(settings: Settings, client: Any) -> dict[str, Any]:
    """Per raw table: rows per file date, and any row present twice."""
    ds = f"`{client.project}.{settings.raw_dataset}`"
    state: dict[str, Any] = {}
    for table in RAW_KEYS:
        state[table] = bigquery_rows(
            client,
            f"select _file_date, count(*) as n from {ds}.{table} group by 1 order by 1",
        )
        state[f"{table} copies"] = bigquery_rows(
            client,
            f"select _file_date, _source_row, count(*) as n from {ds}.{table} "
            "group by 1, 2 having count(*) > 1",
        )
        state[f"{table}_rejected"] = bigquery_rows(
            client,
            f"select _file_date, count(*) as n from {ds}.{table}_rejected group by 1 order by 1",
        )
    state["load_audit"] = bigquery_rows(
        client,
        f"select table_name, _file_date, count(*) as n, sum(rows_loaded) as loaded, "
        f"sum(rows_rejected) as rejected from {ds}.load_audit group by 1, 2 order by 1, 2",
    )
    return state


def test_running_a_day_twice_leaves_no_duplicates_in_raw_or_marts(
    bigquery_settings: Settings, bigquery: Any, prefect_harness: None
) -> None:
    from flows.cli import main

    days = sample_days()[:3]
    first, last = days[0].isoformat(), days[-1].isoformat()
    common = ["--target", "prod", "--source-dir", str(SAMPLE_DATA)]
    assert main(["--run-date", first, "--end-date", last, *common]) == 0
    raw_before = _raw_state(bigquery_settings, bigquery)
    marts_before = bigquery_marts(bigquery_settings, bigquery)  # keyed: duplicates would raise

    assert main(["--run-date", last, *common]) == 0
    raw_after = _raw_state(bigquery_settings, bigquery)
    marts_after = bigquery_marts(bigquery_settings, bigquery)

    for table in RAW_KEYS:
        assert raw_after[f"{table} copies"] == [], f"{table}: rows loaded twice"
        assert [r["_file_date"] for r in raw_after[table]] == days
    assert all(r["n"] == 1 for r in raw_after["load_audit"]), raw_after["load_audit"]
    assert raw_after == raw_before
    assert marts_after == marts_before
    ds = f"`{bigquery.project}.{bigquery_settings.analytics_dataset}`"
    for mart, key in MARTS.items():
        keys = ", ".join(key)
        dupes = bigquery_rows(
            bigquery, f"select {keys}, count(*) as n from {ds}.{mart} group by {keys} having n > 1"
        )
        assert dupes == [], f"{mart} has duplicate keys: {dupes[:5]}"


def _slice_state(warehouse: BigQueryWarehouse, day: Any) -> dict[str, list]:
    client = warehouse.client
    out = {}
    for name in ("viewing_logs", "viewing_logs_rejected"):
        out[name] = bigquery_rows(
            client,
            f"select * from {warehouse.sql_table(name)} where _file_date = '{day}' "
            "order by _loaded_at, 4, 5",
        )
    out["load_audit"] = bigquery_rows(
        client, f"select * from {warehouse.sql_table('load_audit')} order by table_name, _file_date"
    )
    return out


def test_a_retried_slice_swap_replaces_instead_of_appending(bigquery_settings: Settings) -> None:
    day = sample_days()[1]
    path = SAMPLE_DATA / "viewing_logs" / f"{day.isoformat()}.csv"
    warehouse = BigQueryWarehouse(bigquery_settings)
    try:
        warehouse.ensure_raw_tables()
        meta = LoadResult("viewing_logs", day, path.name, "load-1", datetime.now(UTC))
        for _ in range(2):  # the same load retried, e.g. after a lost response
            with open_read(TABLES["viewing_logs"], path) as plan:
                in_file, loaded, rejected = warehouse.load_file(plan, meta)
        state = _slice_state(warehouse, day)
        assert len(state["viewing_logs"]) == loaded > 0
        assert len(state["viewing_logs_rejected"]) == rejected > 0
        assert [r["load_id"] for r in state["load_audit"]] == ["load-1"]
        assert in_file == loaded + rejected
    finally:
        warehouse.close()


def test_a_failed_slice_swap_leaves_the_previous_load_in_place(
    bigquery_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = sample_days()[1]
    path = SAMPLE_DATA / "viewing_logs" / f"{day.isoformat()}.csv"
    warehouse = BigQueryWarehouse(bigquery_settings)
    try:
        warehouse.ensure_raw_tables()
        meta = LoadResult("viewing_logs", day, path.name, "good-load", datetime.now(UTC))
        with open_read(TABLES["viewing_logs"], path) as plan:
            warehouse.load_file(plan, meta)
        before = _slice_state(warehouse, day)

        # A corrected re-delivery whose swap fails inside the transaction (the counts do not
        # reconcile, as if rows went missing between staging and raw): nothing may change.
        redelivered = tmp_path / path.name
        redelivered.write_text(path.read_text(encoding="utf-8")[:2000].rsplit("\n", 1)[0] + "\n")
        write_rows = bigquery_warehouse.write_rows

        def one_more_record(*args: Any, **kwargs: Any) -> Any:
            (in_file, *counts), *rest = write_rows(*args, **kwargs)
            return ((in_file + 1, *counts), *rest)

        monkeypatch.setattr(bigquery_warehouse, "write_rows", one_more_record)
        later = dataclasses.replace(meta, load_id="failed-load", loaded_at=datetime.now(UTC))
        with (
            pytest.raises(IngestError, match="reconciliation failed"),
            open_read(TABLES["viewing_logs"], redelivered) as plan,
        ):
            warehouse.load_file(plan, later)
        assert _slice_state(warehouse, day) == before
        leftovers = [t.table_id for t in warehouse.client.list_tables(warehouse.dataset)]
        assert not [t for t in leftovers if t.startswith("_load_")], leftovers
    finally:
        warehouse.close()
