"""The dashboard reads BigQuery with the same code and gets the same figures as on DuckDB.

Runs against the local BigQuery API emulator (``BIGQUERY_API_ENDPOINT``, as the BigQuery nox
session sets it): the same mart rows go into a DuckDB file and into a fresh BigQuery dataset,
and everything the dashboard shows must come out identical from both.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from config.settings import Settings

pytestmark = pytest.mark.emulator

CONTENT_COLUMNS = {
    "content_id": ("varchar", "STRING"),
    "activity_date": ("date", "DATE"),
    "views": ("bigint", "INT64"),
    "unique_viewers": ("bigint", "INT64"),
    "total_watch_s": ("bigint", "INT64"),
    "avg_completion_rate": ("double", "FLOAT64"),
    "views_with_duration": ("bigint", "INT64"),
    "completion_rate_sum": ("double", "FLOAT64"),
    "completed_views": ("bigint", "INT64"),
    "likes": ("bigint", "INT64"),
    "shares": ("bigint", "INT64"),
    "comments": ("bigint", "INT64"),
    "engagement_rate": ("double", "FLOAT64"),
}
USER_COLUMNS = {
    "user_id": ("varchar", "STRING"),
    "first_seen_at": ("timestamptz", "TIMESTAMP"),
    "last_seen_at": ("timestamptz", "TIMESTAMP"),
    "active_days": ("bigint", "INT64"),
    "total_views": ("bigint", "INT64"),
    "total_watch_s": ("bigint", "INT64"),
    "distinct_contents": ("bigint", "INT64"),
    "likes": ("bigint", "INT64"),
    "shares": ("bigint", "INT64"),
    "comments": ("bigint", "INT64"),
    "primary_device": ("varchar", "STRING"),
    "engagement_segment": ("varchar", "STRING"),
}
D = dt.date(2026, 11, 20)
UTC = dt.UTC
CONTENT_ROWS = [
    ("c1", D, 10, 7, 3000, 0.5, 8, 4.0, 4, 2, 1, 0, 0.3),
    ("c1", D + dt.timedelta(days=1), 4, 4, 900, 1.0, 4, 4.0, 4, 0, 0, 1, 0.25),
    ("c2", D, 3, 3, 200, None, 0, 0.0, 0, 1, 1, 1, 1.0),
    ("c3", D + dt.timedelta(days=2), 0, 0, 0, None, 0, 0.0, 0, 1, 0, 0, None),
    ("c4", D + dt.timedelta(days=2), 8, 5, 7000, 0.95, 6, 5.75, 7, 0, 0, 0, 0.0),
]
USER_ROWS = [
    # 23:30 UTC is already the next day in UTC+1: the date range must use UTC dates.
    ("u1", dt.datetime(2026, 11, 19, 23, 30, tzinfo=UTC), dt.datetime(2026, 11, 22, 8, tzinfo=UTC),
     3, 20, 40000, 3, 2, 1, 0, "tv", "heavy"),
    ("u2", dt.datetime(2026, 11, 20, 9, tzinfo=UTC), dt.datetime(2026, 11, 20, 10, tzinfo=UTC),
     1, 2, 4000, 1, 0, 0, 0, "mobile", "regular"),
    ("u3", dt.datetime(2026, 11, 21, 9, tzinfo=UTC), dt.datetime(2026, 11, 21, 9, tzinfo=UTC),
     1, 1, 60, 1, 0, 0, 1, "mobile", "light"),
    ("u4", dt.datetime(2026, 11, 22, 9, tzinfo=UTC), dt.datetime(2026, 11, 22, 23, 59, tzinfo=UTC),
     1, 0, 0, 0, 1, 0, 0, None, "social_only"),
]  # fmt: skip


def _bq_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("'", "\\'") + "'"
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.isoformat()}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    return repr(value)


@pytest.fixture(scope="module")
def bigquery_settings() -> Iterator[Settings]:
    """A fresh dataset on the emulator holding the two marts."""
    settings = Settings.from_env()
    if not settings.bigquery_api_endpoint or not settings.bigquery_project:
        pytest.skip("no BigQuery emulator: BIGQUERY_API_ENDPOINT and BIGQUERY_PROJECT unset")
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    client = bigquery.Client(
        project=settings.bigquery_project,
        client_options=ClientOptions(api_endpoint=settings.bigquery_api_endpoint),
        credentials=AnonymousCredentials(),
    )
    dataset = f"dashboard_{uuid.uuid4().hex[:8]}"
    client.create_dataset(dataset)
    try:
        for table, columns, rows in (
            ("mart_content_performance", CONTENT_COLUMNS, CONTENT_ROWS),
            ("mart_users", USER_COLUMNS, USER_ROWS),
        ):
            name = f"`{settings.bigquery_project}.{dataset}.{table}`"
            ddl = ", ".join(f"{c} {bq}" for c, (_, bq) in columns.items())
            client.query(f"create table {name} ({ddl})").result()
            values = ", ".join("(" + ", ".join(map(_bq_literal, r)) + ")" for r in rows)
            client.query(f"insert into {name} values {values}").result()
        yield dataclasses.replace(settings, target="prod", analytics_dataset=dataset)
    finally:
        client.delete_dataset(dataset, delete_contents=True, not_found_ok=True)
        client.close()


@pytest.fixture(scope="module")
def duckdb_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    path = tmp_path_factory.mktemp("dashboard-bq") / "marts.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("set session TimeZone = 'Europe/Paris'")  # dates must not depend on it
        con.execute("create schema analytics")
        for table, columns, rows in (
            ("mart_content_performance", CONTENT_COLUMNS, CONTENT_ROWS),
            ("mart_users", USER_COLUMNS, USER_ROWS),
        ):
            ddl = ", ".join(f"{c} {duck}" for c, (duck, _) in columns.items())
            con.execute(f"create table analytics.{table} ({ddl})")
            marks = ", ".join("?" for _ in columns)
            con.executemany(f"insert into analytics.{table} values ({marks})", rows)
    # a published file, as the pipeline's publish step writes it beside the warehouse
    return Settings(
        target="ci", duckdb_path=path.with_name("writer.duckdb"), duckdb_analytics_path=path
    )


def _figures(settings: Settings) -> dict[str, Any]:
    from dashboard.metrics import collect
    from dashboard.readers import open_reader

    reader = open_reader(settings)
    try:
        data = collect(reader)
    finally:
        reader.close()
    return {
        "content": dataclasses.asdict(data.content),
        "audience": dataclasses.asdict(data.audience),
    }


def test_bigquery_and_duckdb_give_the_same_dashboard(
    bigquery_settings: Settings, duckdb_settings: Settings
) -> None:
    on_bigquery = _figures(bigquery_settings)
    on_duckdb = _figures(duckdb_settings)
    assert on_bigquery == on_duckdb
    # And the figures are the right ones, not merely equal.
    headlines = {h["key"]: h["value"] for h in on_duckdb["content"]["headlines"]}
    assert headlines["total-views"] == 25
    assert headlines["interactions"] == 8
    assert headlines["engagement-rate"] == pytest.approx(8 / 25)
    assert headlines["completion-rate"] == pytest.approx(13.75 / 18)  # sums, not a row average
    audience = on_duckdb["audience"]
    assert audience["date_range"] == {"first": dt.date(2026, 11, 19), "last": dt.date(2026, 11, 22)}
    assert audience["users_by_segment"] == [
        ("heavy", 1), ("regular", 1), ("light", 1), ("social_only", 1)
    ]  # fmt: skip
    assert sum(n for _, _, n in on_duckdb["content"]["completion_bins"]) == 3


def test_dashboard_file_from_bigquery(bigquery_settings: Settings, tmp_path: Path) -> None:
    from dashboard import build_dashboard

    out = build_dashboard(bigquery_settings, tmp_path / "bq.html")
    page = out.read_text(encoding="utf-8")
    assert (
        'id="kpi-content-total-views" data-kpi="total-views" data-kind="int" data-value="25"'
        in page
    )
    assert 'id="kpi-audience-users" data-kpi="users" data-kind="int" data-value="4"' in page
