"""Write, audit, publish on BigQuery (the emulator): analytics changes only after a green
build, both marts in one transaction."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from bq_pipeline import SAMPLE_DATA, bigquery_rows, build, run_days, sample_days

from config.settings import Settings
from flows.daily_pipeline import ingest_day
from flows.dbt_build import run_dbt_build
from flows.publish import MARTS, PUBLISH_LOG, publish
from tests.dbt_helpers import project_with_test

pytestmark = [pytest.mark.emulator, pytest.mark.integration]

#: Both marts come from the same batch exactly when these agree.
CONSISTENT = (
    "select (select sum(views) from {d}.mart_content_performance) as views, "
    "(select sum(total_views) from {d}.mart_users) as total_views"
)


def _snapshot(settings: Settings, client: Any) -> dict[str, list]:
    dataset = f"`{client.project}.{settings.analytics_dataset}`"
    return {
        t: sorted(
            (tuple(r.values()) for r in client.query(f"select * from {dataset}.{t}")), key=repr
        )
        for t in (*MARTS, PUBLISH_LOG)
    }


def test_a_failing_test_publishes_nothing_and_the_next_good_run_publishes(
    bigquery_settings: Settings, bigquery: Any, tmp_path: Path
) -> None:
    days = sample_days()
    run_days(bigquery_settings, SAMPLE_DATA, days[:3], tmp_path / "first")
    before = _snapshot(bigquery_settings, bigquery)
    assert all(before[m] for m in MARTS) and len(before[PUBLISH_LOG]) == 1

    ingest_day(bigquery_settings, days[3], SAMPLE_DATA)
    project = project_with_test(
        tmp_path, "assert_no_content_days", "select * from {{ ref('mart_content_performance') }}\n"
    )
    failed = run_dbt_build(
        project,
        "prod",
        bigquery_settings.dbt_env(),
        log_path=tmp_path / "failed" / "logs",
        extra=("--target-path", str(tmp_path / "failed" / "target")),
    )
    assert not failed.success
    assert any(n.unique_id.endswith("assert_no_content_days") for n in failed.problems)
    assert _snapshot(bigquery_settings, bigquery) == before  # the flow stops before publish

    build(bigquery_settings, tmp_path / "good")  # the next good run: build, then publish
    after = _snapshot(bigquery_settings, bigquery)
    assert len(after[PUBLISH_LOG]) == 2 and after != before
    marts = f"`{bigquery.project}.{bigquery_settings.marts_dataset}`"
    for mart in MARTS:
        built = sorted(
            (tuple(r.values()) for r in bigquery.query(f"select * from {marts}.{mart}")), key=repr
        )
        assert after[mart] == built


def test_readers_never_see_one_mart_new_and_the_other_old(
    bigquery_settings: Settings, bigquery: Any, tmp_path: Path
) -> None:
    """A reader polls both marts while publishes run: every read must agree."""
    days = sample_days()
    run_days(bigquery_settings, SAMPLE_DATA, days[:2], tmp_path / "first")
    ingest_day(bigquery_settings, days[2], SAMPLE_DATA)
    dataset = f"`{bigquery.project}.{bigquery_settings.analytics_dataset}`"
    seen: list[tuple] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            (row,) = bigquery_rows(bigquery, CONSISTENT.format(d=dataset))
            seen.append((row["views"], row["total_views"]))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        build(bigquery_settings, tmp_path / "second")
        for _ in range(3):
            publish(bigquery_settings)
    finally:
        stop.set()
        reader.join()
    assert len({v for v, _ in seen}) == 2, "the reader saw the old and the new marts"
    mixed = [(v, t) for v, t in seen if v != t]
    assert not mixed, f"{len(mixed)} of {len(seen)} reads saw the marts from two batches"
