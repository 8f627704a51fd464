"""Read the marts of the selected target: DuckDB locally, BigQuery in production.

Both readers expose the same small interface (:class:`MartReader`): qualify a mart name and
run a read-only query written in the SQL both dialects share. Everything else in the
dashboard is warehouse-agnostic.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from config.settings import Settings

log = logging.getLogger(__name__)

MARTS = ("mart_content_performance", "mart_users")


class DashboardError(RuntimeError):
    """The dashboard cannot be built; the message says why and what to do."""


class MissingMartsError(DashboardError):
    """The warehouse has no marts yet (the pipeline has not run on this target)."""


class MartReader(Protocol):
    """Read-only access to the ``analytics`` marts of one warehouse."""

    #: Short human description of where the data comes from (no credentials).
    source: str

    def table(self, name: str) -> str:
        """Fully qualified, quoted name of the mart ``name``."""
        ...

    def missing(self, names: Iterable[str]) -> list[str]:
        """The marts among ``names`` that do not exist."""
        ...

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Run ``sql`` and return the rows as dicts keyed by column name."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


class DuckDBMartReader:
    """Marts in a local DuckDB file, opened read-only (a running pipeline is not disturbed)."""

    def __init__(self, path: Path, schema: str = "analytics") -> None:
        import duckdb

        if not path.exists():
            raise MissingMartsError(
                f"no published marts at {path}; run the pipeline first "
                "(`nox -s pipeline` or `python -m flows.daily_pipeline ...`) "
                "or point DUCKDB_PATH at an existing warehouse"
            )
        try:
            try:
                self._con = duckdb.connect(str(path), read_only=True)
            except duckdb.ConnectionException:
                # This process already holds the file read-write (the flow's dbt build ran
                # in-process); DuckDB then shares that database instance. Only reads follow.
                self._con = duckdb.connect(str(path))
        except duckdb.Error as exc:
            raise DashboardError(
                f"cannot open the DuckDB warehouse {path} read-only ({exc}); "
                "if another process is writing to it, wait for it to finish and retry"
            ) from exc
        # Dates derived from timestamps are UTC dates, as in the marts' definitions. SESSION:
        # never change the setting for another connection sharing the database instance.
        self._con.execute("SET SESSION TimeZone = 'UTC'")
        self._schema = schema
        self.source = f"DuckDB {path.name}, schema {schema}"

    def table(self, name: str) -> str:
        return f'"{self._schema}"."{name}"'

    def missing(self, names: Iterable[str]) -> list[str]:
        present = {
            row[0]
            for row in self._con.execute(
                "select table_name from information_schema.tables where table_schema = ?",
                [self._schema],
            ).fetchall()
        }
        return [name for name in names if name not in present]

    def query(self, sql: str) -> list[dict[str, Any]]:
        cursor = self._con.execute(sql)
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def close(self) -> None:
        self._con.close()


class BigQueryMartReader:
    """Marts in a BigQuery dataset; the local API emulator is used when an endpoint is set."""

    def __init__(self, settings: Settings) -> None:
        try:
            from google.cloud import bigquery  # noqa: F401 - only to check it is installed
        except ImportError as exc:
            raise DashboardError(
                f"reading BigQuery needs google-cloud-bigquery ({exc}); "
                "install the project with the `bigquery` extra: pip install -e '.[bigquery]'"
            ) from exc
        if not settings.bigquery_project:
            raise DashboardError(
                "no BigQuery project configured for --target prod; set BIGQUERY_PROJECT"
            )
        from config.bigquery import bigquery_client

        # Endpoint and credentials (emulator or Google) are decided in that one place.
        self._client = bigquery_client(settings)
        self._project = settings.bigquery_project
        self._dataset = settings.analytics_dataset
        self.source = f"BigQuery {self._project}.{self._dataset}"

    def table(self, name: str) -> str:
        return f"`{self._project}.{self._dataset}.{name}`"

    def missing(self, names: Iterable[str]) -> list[str]:
        from google.api_core.exceptions import NotFound

        absent = []
        for name in names:
            try:
                self._client.get_table(f"{self._project}.{self._dataset}.{name}")
            except NotFound:
                absent.append(name)
        return absent

    def query(self, sql: str) -> list[dict[str, Any]]:
        return [dict(row.items()) for row in self._client.query(sql).result()]

    def close(self) -> None:
        self._client.close()


def open_reader(settings: Settings) -> MartReader:
    """The reader for ``settings.target``; raises :class:`MissingMartsError` if marts are absent."""
    reader: MartReader
    if settings.warehouse_kind == "duckdb":
        # The published file: the writer never holds it, so reading it never blocks a run.
        if not settings.analytics_path.exists():
            raise MissingMartsError(
                f"no published {', '.join(MARTS)} at {settings.analytics_path} (from the "
                f"warehouse {settings.duckdb_path}); run the pipeline first (`nox -s "
                "pipeline` or `python -m flows.daily_pipeline ...`) or point DUCKDB_PATH at "
                "an existing warehouse"
            )
        reader = DuckDBMartReader(settings.analytics_path, settings.analytics_dataset)
    else:
        reader = BigQueryMartReader(settings)
    absent = reader.missing(MARTS)
    if absent:
        reader.close()
        raise MissingMartsError(
            f"{reader.source} has no {', '.join(absent)}; build the marts first "
            "(`nox -s pipeline`, or `python -m flows.daily_pipeline --target "
            f"{settings.target} ...`)"
        )
    log.info("reading marts from %s", reader.source)
    return reader
