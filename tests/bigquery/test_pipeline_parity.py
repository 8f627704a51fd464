"""The pipeline on BigQuery gives the same marts as on DuckDB.

The same days go through the same plain functions of the flow (ingest, then the one
``dbt build``) on target ``prod`` (BigQuery: the local emulator in CI) and on a fresh
DuckDB; the marts must hold the same rows. Daily runs exercise the incremental models.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from bq_pipeline import (
    SAMPLE_DATA,
    assert_same_marts,
    bigquery_marts,
    bigquery_rows,
    duckdb_marts,
    run_days,
    sample_days,
)

from config.settings import Settings
from ingest.schemas import TABLES

pytestmark = [pytest.mark.emulator, pytest.mark.integration]


def test_sample_week_backfill_then_daily_runs_gives_the_duckdb_marts(
    bigquery_settings: Settings, bigquery: Any, duckdb_settings: Settings, tmp_path: Path
) -> None:
    days = sample_days()
    steps = [days[:4], *([d] for d in days[4:])]  # a backfill, then nightly runs
    for step in steps:
        run_days(duckdb_settings, SAMPLE_DATA, step, tmp_path / "duckdb")
        run_days(bigquery_settings, SAMPLE_DATA, step, tmp_path / "bigquery")
        assert_same_marts(
            bigquery_marts(bigquery_settings, bigquery),
            duckdb_marts(duckdb_settings),
            f"sample data after the run of {step[-1]}",
        )
        if step is steps[0]:  # the full build: its DDL is in target/run until the next run
            check_layout(bigquery_settings, bigquery, tmp_path / "bigquery")
            run_unit_tests(bigquery_settings, tmp_path / "unit")
    check_same_rejects(bigquery_settings, bigquery, duckdb_settings)
    check_same_raw_rows(bigquery_settings, bigquery, duckdb_settings)


def check_same_raw_rows(
    bigquery_settings: Settings, bigquery: Any, duckdb_settings: Settings
) -> None:
    """``raw.<table>`` has the same columns and, row for row, the same values on both
    warehouses, lineage included (``_source_row`` too), apart from ``_loaded_at``."""
    from bq_pipeline import _normal

    dataset = f"`{bigquery.project}.{bigquery_settings.raw_dataset}`"
    for name in TABLES:
        in_bigquery = bigquery_rows(bigquery, f"select * from {dataset}.{name}")
        with duckdb.connect(str(duckdb_settings.duckdb_path), read_only=True) as con:
            con.execute("SET TimeZone = 'UTC'")
            cursor = con.execute(f"select * from raw.{name}")
            columns = [d[0] for d in cursor.description]
            in_duckdb = [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]
        assert list(in_bigquery[0]) == columns, name

        def comparable(rows: list[dict[str, Any]]) -> list[tuple]:
            return sorted(
                tuple((k, _normal(v)) for k, v in r.items() if k != "_loaded_at") for r in rows
            )

        assert len(in_duckdb) > 100, f"{name}: too few rows to compare anything"
        assert comparable(in_bigquery) == comparable(in_duckdb), name


def run_unit_tests(settings: Settings, work: Path) -> None:
    """dbt's unit tests on BigQuery (the nightly build leaves them out): once the models
    exist, since dbt reads the types of their inputs from the warehouse."""
    from tests.dbt_helpers import run_dbt

    with pytest.MonkeyPatch.context() as env:
        for name, value in settings.dbt_env().items():
            env.setenv(name, value)
        result = run_dbt(["test", "--select", "test_type:unit"], work, target=settings.target)
    assert result.result and len(result.result.results) >= 8, "the unit tests did not run"


def check_same_rejects(
    bigquery_settings: Settings, bigquery: Any, duckdb_settings: Settings
) -> None:
    """Both warehouses keep the same rejected rows: file, line, reason and exact text."""
    columns = "_source_file, _file_date, line_number, reason, line_text"
    for schema in TABLES.values():
        name = schema.rejected_table
        dataset = f"`{bigquery.project}.{bigquery_settings.raw_dataset}`"
        in_bigquery = sorted(
            tuple(r.values())
            for r in bigquery_rows(bigquery, f"select {columns} from {dataset}.{name}")
        )
        con = duckdb.connect(str(duckdb_settings.duckdb_path), read_only=True)
        try:
            in_duckdb = sorted(con.execute(f"select {columns} from raw.{name}").fetchall())
        finally:
            con.close()
        assert in_duckdb, f"{name}: the sample data has rejects, so this compares something"
        assert in_bigquery == in_duckdb, name


def test_generated_three_weeks_backfill_then_daily_runs_give_the_duckdb_marts(
    bigquery_settings: Settings, bigquery: Any, duckdb_settings: Settings, tmp_path: Path
) -> None:
    from tools.generate import GeneratorConfig, generate

    drops = tmp_path / "drops"
    config = GeneratorConfig(
        start_date=date(2026, 10, 5), days=21, views_per_day=30, interactions_per_day=12, seed=7
    )
    generate(drops, config)
    days = sorted({date.fromisoformat(p.stem) for p in drops.glob("*/*.csv")})
    assert len(days) >= 20
    steps = [days[:19], *([d] for d in days[19:])]  # a backfill, then nightly runs
    for step in steps:
        run_days(duckdb_settings, drops, step, tmp_path / "duckdb")
        run_days(bigquery_settings, drops, step, tmp_path / "bigquery")
    assert_same_marts(
        bigquery_marts(bigquery_settings, bigquery),
        duckdb_marts(duckdb_settings),
        f"{len(days)} generated days",
    )


def check_layout(bigquery_settings: Settings, bigquery: Any, work: Path) -> None:
    """Raw and mart tables partitioned and clustered; marts never use DATETIME."""

    def table(dataset: str, name: str) -> Any:
        return bigquery.get_table(f"{bigquery.project}.{dataset}.{name}")

    raw = bigquery_settings.raw_dataset
    for name, cluster in (
        ("viewing_logs", ["view_id"]),
        ("social_interactions", ["interaction_id"]),
    ):
        t = table(raw, name)
        assert t.time_partitioning.field == "_file_date", name
        assert t.clustering_fields == cluster, name
        assert table(raw, f"{name}_rejected").time_partitioning.field == "_file_date"

    analytics = bigquery_settings.analytics_dataset
    content = table(analytics, "mart_content_performance")
    users = table(analytics, "mart_users")
    # DirectQuery filters by date and content, and by user: the scans it pays for.
    assert content.time_partitioning.field == "activity_date"
    # The emulator ignores CLUSTER BY in DDL (its table metadata never shows it), so check
    # the statement dbt sent instead (in the private marts dataset; publish copies the layout).
    marts = bigquery_settings.marts_dataset
    assert table(marts, "mart_content_performance").time_partitioning.field == "activity_date"
    run_sql = work / "target" / "run" / "nightjar" / "models" / "marts"
    for mart, clause in (
        ("mart_content_performance", "cluster by content_id"),
        ("mart_users", "cluster by user_id"),
    ):
        ddl = " ".join((run_sql / f"{mart}.sql").read_text(encoding="utf-8").split())
        assert clause in ddl, f"{mart}: no '{clause}' in the DDL dbt ran"
        assert f"create or replace table `{bigquery.project}`.`{marts}`.`{mart}`" in ddl
    for t in (content, users):
        types = {f.name: f.field_type for f in t.schema}
        assert "DATETIME" not in types.values(), f"{t.table_id} has DATETIME columns: {types}"
    assert {f.name: f.field_type for f in users.schema}["first_seen_at"] == "TIMESTAMP"
    assert {f.name: f.field_type for f in content.schema}["activity_date"] == "DATE"
    leftovers = [t.table_id for t in bigquery.list_tables(f"{bigquery.project}.{raw}")]
    assert not [t for t in leftovers if t.startswith("_load_")], f"staging left: {leftovers}"
