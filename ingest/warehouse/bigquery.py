"""The BigQuery warehouse: raw tables in a dataset, each slice replaced in one transaction.

A file is read as on DuckDB (:func:`ingest.validate.write_rows`, in an in-memory DuckDB);
its rows and rejects are loaded, through Parquet, into a staging table per (table, file
date) with ``WRITE_TRUNCATE``. One multi-statement transaction then replaces the slice in
the raw, rejected and audit tables and checks rows in file = loaded + rejected (``ERROR()``
rolls back). Raw tables are partitioned by ``_file_date`` and clustered by event id.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
from google.api_core import exceptions as gexc
from google.cloud import bigquery

from config.bigquery import bigquery_client
from config.settings import Settings
from ingest.errors import IngestError
from ingest.schemas import (
    AUDIT_COLUMNS,
    AUDIT_TABLE,
    LINEAGE_COLUMNS,
    REJECT_RECORD_COLUMNS,
    REJECTED_COLUMNS,
    TABLES,
    Column,
)
from ingest.validate import REASON, Counts, FileRead, LoadResult, write_rows

log = logging.getLogger(__name__)

BIGQUERY_TYPES = {"string": "STRING", "int64": "INT64", "timestamp": "TIMESTAMP", "date": "DATE"}
STAGING_EXPIRY = timedelta(days=1)
#: Marks the error raised inside the load transaction when the counts do not reconcile.
RECONCILIATION_MARKER = "nightjar reconciliation failed"


def schema_fields(columns: tuple[Column, ...]) -> list[bigquery.SchemaField]:
    """BigQuery schema of ``columns`` (all NULLABLE, like the DuckDB tables)."""
    field = bigquery.SchemaField
    return [
        field(c.name, BIGQUERY_TYPES[c.type], description=c.description or None) for c in columns
    ]


def bq_string(value: str) -> str:
    """A GoogleSQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


class BigQueryWarehouse:
    """Raw tables in one BigQuery dataset; files read in an in-memory DuckDB."""

    kind = "bigquery"

    def __init__(self, settings: Settings, client: bigquery.Client | None = None):
        self.client = client or bigquery_client(settings)
        self.project, self.dataset = self.client.project, settings.raw_dataset
        self.location = settings.bigquery_location
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")

    def table_id(self, name: str) -> str:  # project.dataset.name
        return f"{self.project}.{self.dataset}.{name}"

    def sql_table(self, name: str) -> str:
        return f"`{self.table_id(name)}`"

    def ensure_raw_tables(self) -> None:
        """Create the raw dataset (if allowed) and tables when missing; check existing ones."""
        dataset = bigquery.Dataset(f"{self.project}.{self.dataset}")
        dataset.location = self.location
        try:
            self.client.get_dataset(dataset.reference)
        except gexc.NotFound:
            try:
                self.client.create_dataset(dataset, exists_ok=True)
            except gexc.Forbidden as exc:
                raise IngestError(
                    f"BigQuery dataset {dataset.dataset_id} does not exist and this identity "
                    "may not create it; provision it with terraform (see docs/bigquery.md) and "
                    "run again"
                ) from exc
        wanted = [(AUDIT_TABLE, AUDIT_COLUMNS, ["table_name"])]
        for schema in TABLES.values():
            wanted.append((schema.name, schema.raw_columns, [schema.key]))
            wanted.append((schema.rejected_table, REJECTED_COLUMNS, []))
        for name, columns, cluster_by in wanted:
            try:
                have = [f.name for f in self.client.get_table(self.table_id(name)).schema]
            except gexc.NotFound:
                table = bigquery.Table(self.table_id(name), schema=schema_fields(columns))
                table.time_partitioning = bigquery.TimePartitioning(field="_file_date")
                table.clustering_fields = cluster_by or None
                self.client.create_table(table, exists_ok=True)
                continue
            if have != [c.name for c in columns]:
                raise IngestError(
                    f"BigQuery table {self.table_id(name)} has columns {', '.join(have)} but "
                    f"the loader writes {', '.join(c.name for c in columns)} "
                    "(ingest/schemas.py); migrate the table (or drop it if it holds nothing to "
                    "keep) and run again"
                )

    def load_file(self, plan: FileRead, meta: LoadResult) -> Counts:
        """Read the file as on DuckDB, stage its rows and rejects, then swap its slice."""
        schema, stage = plan.schema, f"nj_stage_{uuid.uuid4().hex[:12]}"
        staged = f"_load_{schema.name}_{meta.file_date:%Y%m%d}"
        create = lambda select: f"CREATE TEMP TABLE {stage} AS {select}"  # noqa: E731
        try:
            expected, first, rejects = write_rows(self.con, plan, create, stage)
            rows = (  # a file's rows with their _source_row, then its rejects' columns
                f"FROM (SELECT * EXCLUDE ({REASON}), rowid - {first} + 1 AS _source_row "
                f"FROM {stage} WHERE {REASON} IS NULL ORDER BY rowid) "
                f"UNION ALL BY NAME FROM {rejects}"
            )
            columns = schema.columns + LINEAGE_COLUMNS[-1:] + REJECT_RECORD_COLUMNS
            self._stage(rows, staged, columns)
            self.con.execute(f"DROP TABLE {rejects}")  # a backfill: many files, one connection
            try:
                (row,) = self.client.query(self.slice_script(plan, expected, meta, staged)).result()
            except gexc.BadRequest as exc:
                if RECONCILIATION_MARKER not in str(exc):
                    raise
                raise IngestError(
                    f"{plan.path}: {exc.message}; the load was rolled back. This is a bug in "
                    "the loader: report it with the file"
                ) from exc
        finally:
            self.con.execute(f"DROP TABLE IF EXISTS {stage}")
            try:
                self.client.delete_table(self.table_id(staged), not_found_ok=True)
            except Exception as exc:  # the load is already done, or already failed
                log.warning("could not drop staging table %s (it expires): %s", staged, exc)
        return tuple(row.values())  # type: ignore[return-value]

    def _stage(self, select: str, name: str, columns: tuple[Column, ...]) -> None:
        """Load the rows of ``select`` into the staging table ``name`` (overwritten)."""
        with tempfile.TemporaryDirectory(prefix="nightjar-bq-") as tmp:
            path = Path(tmp) / "stage.parquet"
            self.con.execute(f"COPY ({select}) TO '{path}' (FORMAT parquet, COMPRESSION zstd)")
            table = bigquery.Table(self.table_id(name), schema=schema_fields(columns))
            table.expires = datetime.now(UTC) + STAGING_EXPIRY
            self.client.create_table(table, exists_ok=True)
            config = bigquery.LoadJobConfig(
                source_format=bigquery.SourceFormat.PARQUET,
                schema=schema_fields(columns),
                write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
            )
            with path.open("rb") as f:
                self.client.load_table_from_file(
                    f, table.reference, job_config=config, job_id_prefix=f"nightjar_{name}_"
                ).result()

    def slice_script(self, plan: FileRead, expected: Counts, meta: LoadResult, staged: str) -> str:
        """The one multi-statement transaction that replaces a (table, file date) slice."""
        schema = plan.schema
        raw, rejected = self.sql_table(schema.name), self.sql_table(schema.rejected_table)
        audit = self.sql_table(AUDIT_TABLE)
        day, table_name = f"DATE '{meta.file_date.isoformat()}'", bq_string(schema.name)
        source, load_id = bq_string(meta.source_file), bq_string(meta.load_id)
        at = f"TIMESTAMP '{meta.loaded_at.astimezone(UTC).replace(tzinfo=None).isoformat()}Z'"
        lineage = f"{source}, {day}, {at}"

        def names(columns: tuple[Column, ...]) -> str:
            return ", ".join(c.name for c in columns)

        statements = [
            "BEGIN TRANSACTION",
            f"DELETE FROM {raw} WHERE _file_date = {day}",
            f"DELETE FROM {rejected} WHERE _file_date = {day}",
            f"DELETE FROM {audit} WHERE _file_date = {day} AND table_name = {table_name}",
            f"INSERT INTO {raw} ({names(schema.raw_columns)})\n"
            f"SELECT {names(schema.columns)}, {lineage}, _source_row "
            f"FROM {self.sql_table(staged)} WHERE line_number IS NULL",
            f"INSERT INTO {rejected} ({names(REJECTED_COLUMNS)})\n"
            f"SELECT {lineage}, {names(REJECT_RECORD_COLUMNS)} "
            f"FROM {self.sql_table(staged)} WHERE line_number IS NOT NULL",
            f"INSERT INTO {audit} ({names(AUDIT_COLUMNS)})\n"
            f"SELECT {load_id}, {table_name}, {day}, {source}, {at}, {expected[0]},\n"
            f"  (SELECT COUNT(*) FROM {raw} WHERE _file_date = {day}),\n"
            f"  (SELECT COUNT(*) FROM {rejected} WHERE _file_date = {day}),\n"
            f"  {bq_string(','.join(plan.extra_columns))}",
            # Checked inside the transaction: ERROR() aborts it, so nothing is committed.
            f"SELECT IF(rows_loaded = {expected[1]} AND rows_rejected = "
            f"{expected[2]} AND rows_in_file = rows_loaded + rows_rejected, 'ok', "
            f"ERROR(CONCAT({bq_string(f'{RECONCILIATION_MARKER}: {plan.path}: ')}, "
            "CAST(rows_in_file AS STRING), ' rows in file, ', CAST(rows_loaded AS STRING), "
            "' loaded, ', CAST(rows_rejected AS STRING), ' rejected')))\n"
            f"FROM {audit} WHERE load_id = {load_id}",
            "COMMIT TRANSACTION",
            "SELECT rows_in_file, rows_loaded, rows_rejected "
            f"FROM {audit} WHERE load_id = {load_id}",
        ]
        return ";\n".join(statements) + ";\n"

    def close(self) -> None:
        self.con.close()
        self.client.close()
