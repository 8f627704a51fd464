"""Run the pipeline's plain functions on a target and read the marts back, warehouse-neutral.

Used by the BigQuery tests to run the same days on DuckDB and on BigQuery (the local
emulator, or a live project) and compare what the marts hold.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from config.settings import DBT_PROJECT_DIR, Settings
from flows.daily_pipeline import ingest_day
from flows.dbt_build import raise_for_failure, run_dbt_build, run_source_freshness
from flows.publish import publish

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DATA = REPO_ROOT / "sample_data"
MARTS = {
    "mart_content_performance": ("content_id", "activity_date"),
    "mart_users": ("user_id",),
}
#: The watermark a run stamps on its rows: differs between any two runs by design.
RUN_COLUMNS = {"batch_loaded_at"}
RAW_KEYS = {"viewing_logs": "view_id", "social_interactions": "interaction_id"}


def sample_days() -> list[date]:
    """Every file date of the sample data, in order."""
    days = sorted({date.fromisoformat(p.stem) for p in SAMPLE_DATA.glob("*/*.csv")})
    assert days, f"no sample data under {SAMPLE_DATA}"
    return days


def run_days(settings: Settings, source_dir: Path, days: list[date], work: Path) -> None:
    """Ingest ``days`` in order, then one ``dbt build`` (a backfill, as the flow runs it)."""
    for day in days:
        ingest_day(settings, day, source_dir)
    build(settings, work)


def build(settings: Settings, work: Path) -> None:
    """The flow's ``dbt source freshness`` and one ``dbt build``, with their artefacts kept
    in ``work``, then its publish."""
    work.mkdir(parents=True, exist_ok=True)
    where = {"log_path": work / "logs", "extra": ("--target-path", str(work / "target"))}
    env = settings.dbt_env()
    fresh = raise_for_failure(run_source_freshness(DBT_PROJECT_DIR, settings.target, env, **where))
    assert {n.status for n in fresh.nodes} == {"pass"}, fresh.nodes
    raise_for_failure(run_dbt_build(DBT_PROJECT_DIR, settings.target, env, **where))
    publish(settings)


def _normal(value: Any) -> Any:
    """Values comparable across warehouses: UTC-naive timestamps, floats to 9 decimals."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 9)
    return value


def _keyed(rows: list[dict[str, Any]], key: tuple[str, ...]) -> dict[tuple, dict[str, Any]]:
    out: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        clean = {k: _normal(v) for k, v in row.items() if k not in RUN_COLUMNS}
        k = tuple(clean[c] for c in key)
        assert k not in out, f"duplicate mart key {k}"
        out[k] = clean
    return out


def duckdb_marts(settings: Settings) -> dict[str, dict[tuple, dict[str, Any]]]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        result = {}
        for mart, key in MARTS.items():
            cursor = con.execute(f"select * from analytics.{mart}")
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
            result[mart] = _keyed(rows, key)
        return result


def bigquery_rows(client: Any, sql: str) -> list[dict[str, Any]]:
    return [dict(row.items()) for row in client.query(sql).result()]


def bigquery_marts(settings: Settings, client: Any) -> dict[str, dict[tuple, dict[str, Any]]]:
    dataset = f"`{client.project}.{settings.analytics_dataset}`"
    return {
        mart: _keyed(bigquery_rows(client, f"select * from {dataset}.{mart}"), key)
        for mart, key in MARTS.items()
    }


def assert_same_marts(actual: dict, expected: dict, label: str) -> None:
    """Equal marts, with a readable first difference instead of a giant diff."""
    for mart in MARTS:
        a, e = actual[mart], expected[mart]
        assert e, f"{label}: {mart} is empty on DuckDB; the comparison would prove nothing"
        missing, extra = sorted(set(e) - set(a)), sorted(set(a) - set(e))
        assert not missing and not extra, (
            f"{label}: {mart} keys differ: missing {missing[:5]}, unexpected {extra[:5]}"
        )
        for k in sorted(e):
            assert a[k] == e[k], (
                f"{label}: {mart}{k} differs:\n  bigquery {a[k]}\n  duckdb   {e[k]}"
            )
