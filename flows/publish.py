"""Publish: after a fully green ``dbt build``, what consumers read changes, all marts at once.

Write, audit, publish. dbt builds and tests the marts in the private ``marts`` schema
(dataset); only this step changes ``analytics``, and only after the build passed, so a
failed run anywhere leaves ``analytics`` exactly as it was and the next good run publishes
everything pending (it copies the marts whole). Each publish is recorded in
``analytics.publish_log``: when, the batch watermark (the newest load it includes) and the
flow run, for "data as of".

- **DuckDB.** One transaction replaces both marts and appends the log row in the writer's
  ``analytics`` schema. Then the published file that readers open
  (:attr:`config.settings.Settings.analytics_path`) is written anew beside it and renamed
  into place: a reader keeps the snapshot it opened, the next open sees the new one, and the
  writer never holds the published file (so no reader can block a run).
- **BigQuery.** Consumer tables are created once with the built marts' schema, partitioning
  and clustering (read from the tables dbt made); then one multi-statement transaction
  replaces both tables' rows and appends the log row. A reader sees the old marts or the new
  ones, never a mix.

A run killed anywhere in here converges on the next good run: the transaction commits or
not, a half-written published file has a temporary name (removed by the next publish), and
the rename is atomic.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config.settings import PUBLISH_LOG, Settings
from ingest.schemas import AUDIT_TABLE

log = logging.getLogger(__name__)

MARTS = ("mart_content_performance", "mart_users")
#: What a publish copies: the marts, and the data-quality table the local dashboard reads.
PUBLISHED = (*MARTS, "mart_data_quality")
#: Columns of ``analytics.publish_log`` (DuckDB type, BigQuery type).
PUBLISH_LOG_COLUMNS = {
    "published_at": ("TIMESTAMP", "TIMESTAMP"),
    "watermark": ("TIMESTAMP", "TIMESTAMP"),
    "flow_run_id": ("VARCHAR", "STRING"),
    "mart_content_performance_rows": ("BIGINT", "INT64"),
    "mart_users_rows": ("BIGINT", "INT64"),
}


@dataclass(frozen=True)
class Publication:
    """One publish: what ``analytics.publish_log`` recorded."""

    published_at: datetime
    watermark: datetime | None
    flow_run_id: str | None
    rows: dict[str, int]


def publish(settings: Settings, flow_run_id: str | None = None) -> Publication:
    """Publish the marts of ``settings``' warehouse (see the module docstring)."""
    if settings.warehouse_kind == "duckdb":
        return _publish_duckdb(settings, flow_run_id)
    return _publish_bigquery(settings, flow_run_id)


def _sql_string(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# --- DuckDB ------------------------------------------------------------------------------------


def published_watermark(settings: Settings) -> datetime | None:
    """The newest load analysts already see: the watermark of the last publish (``None``
    before the first). What was loaded after it is the batch the build's tests check."""
    log_table = f"{settings.analytics_dataset}.{PUBLISH_LOG}"
    if settings.warehouse_kind == "duckdb":
        import duckdb

        con = duckdb.connect(str(settings.duckdb_path))
        try:
            known = con.execute(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = ? AND table_name = ?",
                [settings.analytics_dataset, PUBLISH_LOG],
            ).fetchone()
            if not known or not known[0]:
                return None
            return con.execute(f"SELECT max(watermark) FROM {log_table}").fetchone()[0]
        finally:
            con.close()
    from google.api_core import exceptions as gexc

    from config.bigquery import bigquery_client

    client = bigquery_client(settings)
    try:
        client.get_table(f"{client.project}.{log_table}")
    except gexc.NotFound:
        client.close()
        return None
    try:
        rows = client.query(f"SELECT max(watermark) FROM `{client.project}.{log_table}`").result()
        return next(iter(rows))[0]
    finally:
        client.close()


def _publish_duckdb(settings: Settings, flow_run_id: str | None) -> Publication:
    import duckdb

    marts, analytics, raw = settings.marts_dataset, settings.analytics_dataset, settings.raw_dataset
    published_at = datetime.now(UTC)
    con = duckdb.connect(str(settings.duckdb_path))
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {analytics}")
            for mart in PUBLISHED:
                con.execute(
                    f"CREATE OR REPLACE TABLE {analytics}.{mart} AS SELECT * FROM {marts}.{mart}"
                )
            columns = ", ".join(f"{c} {t}" for c, (t, _) in PUBLISH_LOG_COLUMNS.items())
            con.execute(f"CREATE TABLE IF NOT EXISTS {analytics}.{PUBLISH_LOG} ({columns})")
            row = con.execute(
                f"INSERT INTO {analytics}.{PUBLISH_LOG} SELECT "
                f"TIMESTAMP '{published_at.replace(tzinfo=None).isoformat()}', "
                f"(SELECT max(_loaded_at)::TIMESTAMP FROM {raw}.{AUDIT_TABLE}), "
                f"{_duck_string(flow_run_id)}, "
                + ", ".join(f"(SELECT count(*) FROM {analytics}.{m})" for m in MARTS)
                + " RETURNING watermark, mart_content_performance_rows, mart_users_rows"
            ).fetchone()
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        _write_published_file(con, settings)
    finally:
        con.close()
    assert row is not None
    publication = Publication(
        published_at,
        row[0],
        flow_run_id,
        {"mart_content_performance": row[1], "mart_users": row[2]},
    )
    log.info("published %s to %s", publication.rows, settings.analytics_path)
    return publication


def _duck_string(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


def _write_published_file(con: Any, settings: Settings) -> None:
    """The writer's ``analytics`` tables into a new file, renamed over the published one."""
    target = settings.analytics_path
    target.parent.mkdir(parents=True, exist_ok=True)
    for leftover in target.parent.glob(target.name + ".tmp-*"):
        leftover.unlink()  # from a publish killed before its rename; the run lock is ours
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    analytics = settings.analytics_dataset
    con.execute(f"ATTACH '{str(tmp).replace(chr(39), chr(39) * 2)}' AS nj_published")
    try:
        con.execute(f"CREATE SCHEMA nj_published.{analytics}")
        for table in (*PUBLISHED, PUBLISH_LOG):
            con.execute(
                f"CREATE TABLE nj_published.{analytics}.{table} AS "
                f"SELECT * FROM {analytics}.{table}"
            )
    finally:
        con.execute("DETACH nj_published")
    _fsync(tmp)
    os.replace(tmp, target)
    _fsync(target.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- BigQuery ----------------------------------------------------------------------------------


def _publish_bigquery(settings: Settings, flow_run_id: str | None) -> Publication:
    from config.bigquery import bigquery_client

    client = bigquery_client(settings)
    try:
        return _publish_with(client, settings, flow_run_id)
    finally:
        client.close()


def _publish_with(client: Any, settings: Settings, flow_run_id: str | None) -> Publication:
    from google.api_core import exceptions as gexc
    from google.cloud import bigquery

    project = client.project

    def table(dataset: str, name: str) -> str:
        return f"`{project}.{dataset}.{name}`"

    analytics, marts = settings.analytics_dataset, settings.marts_dataset
    try:
        client.get_dataset(f"{project}.{analytics}")
    except gexc.NotFound:
        dataset = bigquery.Dataset(f"{project}.{analytics}")
        dataset.location = settings.bigquery_location
        client.create_dataset(dataset, exists_ok=True)
    columns: dict[str, list[str]] = {}
    for mart in PUBLISHED:
        built = client.get_table(f"{project}.{marts}.{mart}")
        try:
            shown = client.get_table(f"{project}.{analytics}.{mart}")
        except gexc.NotFound:
            shown = None
        if shown is None or shown.schema != built.schema:
            # First publish, or the mart's columns changed: the consumer table takes the
            # built mart's schema, partitioning and clustering (as dbt set them), and stays
            # empty until the transaction below fills it.
            if shown is not None:
                log.warning("%s.%s: columns changed; recreating it", analytics, mart)
                client.delete_table(shown)
            consumer = bigquery.Table(f"{project}.{analytics}.{mart}", schema=built.schema)
            consumer.time_partitioning = built.time_partitioning
            consumer.clustering_fields = built.clustering_fields
            consumer.description = built.description
            client.create_table(consumer)
        columns[mart] = [f.name for f in built.schema]
    log_columns = ", ".join(f"{c} {t}" for c, (_, t) in PUBLISH_LOG_COLUMNS.items())
    client.query(
        f"CREATE TABLE IF NOT EXISTS {table(analytics, PUBLISH_LOG)} ({log_columns})"
    ).result()
    published_at = datetime.now(UTC)
    stamp = f"TIMESTAMP '{published_at.replace(tzinfo=None).isoformat()}Z'"
    statements = ["BEGIN TRANSACTION"]
    for mart in PUBLISHED:
        names = ", ".join(f"`{c}`" for c in columns[mart])
        statements += [
            f"DELETE FROM {table(analytics, mart)} WHERE TRUE",
            f"INSERT INTO {table(analytics, mart)} ({names}) "
            f"SELECT {names} FROM {table(marts, mart)}",
        ]
    statements += [
        f"INSERT INTO {table(analytics, PUBLISH_LOG)} ({', '.join(PUBLISH_LOG_COLUMNS)}) "
        f"SELECT {stamp}, "
        f"(SELECT MAX(_loaded_at) FROM {table(settings.raw_dataset, AUDIT_TABLE)}), "
        f"{_sql_string(flow_run_id)}, "
        + ", ".join(f"(SELECT COUNT(*) FROM {table(analytics, m)})" for m in MARTS),
        "COMMIT TRANSACTION",
        f"SELECT watermark, mart_content_performance_rows, mart_users_rows "
        f"FROM {table(analytics, PUBLISH_LOG)} WHERE published_at = {stamp}",
    ]
    rows = list(client.query(";\n".join(statements) + ";").result())
    watermark, performance_rows, users_rows = rows[0][0], rows[0][1], rows[0][2]
    publication = Publication(
        published_at,
        watermark,
        flow_run_id,
        {"mart_content_performance": int(performance_rows), "mart_users": int(users_rows)},
    )
    log.info("published %s to %s.%s", publication.rows, project, analytics)
    return publication
