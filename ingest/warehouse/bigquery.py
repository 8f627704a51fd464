"""The BigQuery warehouse: raw tables in a BigQuery dataset, each slice replaced atomically.

Validation is the same as for DuckDB (:mod:`ingest.validate`, in an in-memory DuckDB);
this module only moves the validated rows into BigQuery:

1. the valid rows (and the rejected ones, if any) are written to Parquet by DuckDB and
   loaded with load jobs, with explicit schemas derived from :mod:`ingest.schemas`, into
   staging tables whose names are fixed per (table, file date), with ``WRITE_TRUNCATE``:
   a retried load overwrites its own staging table and never appends twice;
2. one multi-statement transaction deletes the (table, file date) slice from the raw
   table, the rejected table and the audit table, inserts the staged rows with their
   lineage, writes the audit row from what was actually inserted, checks that rows in
   file = loaded + rejected (``ERROR()`` aborts and rolls back otherwise) and commits;
3. the staging tables are dropped (they also expire after a day, should a run die first).

Raw tables are partitioned by ``_file_date`` (the slice a re-delivery replaces, so the
delete prunes to one partition) and clustered by the event id (what the dbt models dedupe
and join on).
"""

from __future__ import annotations

import logging
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from config.bigquery import bigquery_client
from ingest import rules
from ingest.errors import IngestError
from ingest.schemas import (
    AUDIT_COLUMNS,
    AUDIT_TABLE,
    LINEAGE_COLUMNS,
    REJECT_RECORD_COLUMNS,
    REJECTED_COLUMNS,
    TABLES,
    Column,
    TableSchema,
)
from ingest.validate import FileRead, ValidatedFile
from ingest.warehouse.base import SliceCounts, SliceMeta, check_reconciliation, load_validated

if TYPE_CHECKING:
    from google.cloud import bigquery

    from config.settings import Settings

log = logging.getLogger(__name__)

#: Column type in ingest/schemas.py -> BigQuery type.
BIGQUERY_TYPES = {"string": "STRING", "int64": "INT64", "timestamp": "TIMESTAMP", "date": "DATE"}
#: Staging tables expire on their own if a run dies before dropping them.
STAGING_EXPIRY = timedelta(days=1)
#: Marks the error raised inside the load transaction when the counts do not reconcile.
RECONCILIATION_MARKER = "nightjar reconciliation failed"


def schema_fields(columns: tuple[Column, ...]) -> list[bigquery.SchemaField]:
    """BigQuery schema of ``columns`` (all NULLABLE, like the DuckDB tables)."""
    from google.cloud import bigquery

    return [
        bigquery.SchemaField(c.name, BIGQUERY_TYPES[c.type], description=c.description or None)
        for c in columns
    ]


def raw_columns(schema: TableSchema) -> tuple[Column, ...]:
    """Columns of ``raw.<table>``: the input columns, then the lineage columns."""
    return schema.columns + LINEAGE_COLUMNS


def staged_columns(schema: TableSchema) -> tuple[Column, ...]:
    """Columns of a staging table: input columns and ``_source_row`` (lineage comes on insert)."""
    return schema.columns + tuple(c for c in LINEAGE_COLUMNS if c.name == "_source_row")


def bq_string(value: str) -> str:
    """A GoogleSQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def bq_date(value: date) -> str:
    return f"DATE '{value.isoformat()}'"


def bq_timestamp(value: datetime) -> str:
    """ISO 8601 with 'T' and 'Z', the form the emulator also reads right everywhere."""
    return f"TIMESTAMP '{value.astimezone(UTC).replace(tzinfo=None).isoformat()}Z'"


def bq_ident(name: str) -> str:
    return "`" + name.replace("`", "") + "`"


class BigQueryWarehouse:
    """Raw tables in one BigQuery dataset; validation in an in-memory DuckDB."""

    kind = "bigquery"

    def __init__(self, settings: Settings, client: bigquery.Client | None = None):
        self.settings = settings
        self.client = client or bigquery_client(settings)
        self.project = self.client.project
        self.dataset = settings.raw_dataset
        self.location = settings.bigquery_location
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")

    # --- names ---------------------------------------------------------------------------

    def table_id(self, name: str) -> str:
        """``project.dataset.table`` of a table in the raw dataset."""
        return f"{self.project}.{self.dataset}.{name}"

    def sql_table(self, name: str) -> str:
        return bq_ident(self.table_id(name))

    @staticmethod
    def staging_name(table: str, file_date: date, part: str) -> str:
        """Fixed name per (table, file date, part): a retried load reuses and overwrites it."""
        return f"_load_{table}_{file_date:%Y%m%d}_{part}"

    # --- Warehouse protocol --------------------------------------------------------------

    def validation_connection(self) -> duckdb.DuckDBPyConnection:
        return self.con

    def ensure_raw_tables(self) -> None:
        """Create the raw dataset (if allowed) and tables when missing; check existing ones."""
        from google.api_core import exceptions as gexc
        from google.cloud import bigquery

        dataset_id = f"{self.project}.{self.dataset}"
        try:
            self.client.get_dataset(dataset_id)
        except gexc.NotFound:
            dataset = bigquery.Dataset(dataset_id)
            dataset.location = self.location
            try:
                self.client.create_dataset(dataset, exists_ok=True)
            except gexc.Forbidden as exc:
                raise IngestError(
                    f"BigQuery dataset {dataset_id} does not exist and this identity may not "
                    "create it; provision it with terraform (see docs/bigquery.md) and run again"
                ) from exc
            log.info("created dataset %s in %s", dataset_id, self.location)

        wanted: list[tuple[str, tuple[Column, ...], tuple[str, ...]]] = []
        for schema in TABLES.values():
            wanted.append((schema.name, raw_columns(schema), schema.cluster_by))
            wanted.append((schema.rejected_table, REJECTED_COLUMNS, ()))
        wanted.append((AUDIT_TABLE, AUDIT_COLUMNS, ("table_name",)))
        for name, columns, cluster_by in wanted:
            self._ensure_table(name, columns, cluster_by)

    def _ensure_table(
        self, name: str, columns: tuple[Column, ...], cluster_by: tuple[str, ...]
    ) -> None:
        from google.api_core import exceptions as gexc
        from google.cloud import bigquery

        table_id = self.table_id(name)
        try:
            existing = self.client.get_table(table_id)
        except gexc.NotFound:
            table = bigquery.Table(table_id, schema=schema_fields(columns))
            table.time_partitioning = bigquery.TimePartitioning(
                type_=bigquery.TimePartitioningType.DAY, field="_file_date"
            )
            if cluster_by:
                table.clustering_fields = list(cluster_by)
            self.client.create_table(table, exists_ok=True)
            log.info("created table %s", table_id)
            return
        have = [f.name for f in existing.schema]
        want = [c.name for c in columns]
        if have != want:
            raise IngestError(
                f"BigQuery table {table_id} has columns {', '.join(have)} but the loader "
                f"writes {', '.join(want)} (ingest/schemas.py); migrate the table (or drop it "
                "if it holds nothing to keep) and run again"
            )

    def load_file(self, plan: FileRead, meta: SliceMeta) -> SliceCounts:
        """Validate the file in the local DuckDB connection, then replace its slice."""
        return load_validated(self, plan, meta)

    def replace_slice(self, batch: ValidatedFile, meta: SliceMeta) -> SliceCounts:
        if batch.con is not self.con:
            raise ValueError("batch was validated in another connection")
        schema = batch.schema
        rows_name = self.staging_name(schema.name, meta.file_date, "rows")
        rejects_name = self.staging_name(schema.name, meta.file_date, "rejects")
        staged = [rows_name]
        try:
            with tempfile.TemporaryDirectory(prefix="nightjar-bq-") as tmp:
                rows_file = Path(tmp) / "rows.parquet"
                data_cols = ", ".join(rules.quote_ident(c.name) for c in staged_columns(schema))
                self._copy_parquet(f"SELECT {data_cols} FROM ({batch.valid_sql})", rows_file)
                loaded = self._load_parquet(rows_file, rows_name, staged_columns(schema))
                if loaded != batch.rows_valid:
                    raise IngestError(
                        f"{batch.path}: staging load wrote {loaded} rows, expected "
                        f"{batch.rows_valid}; nothing was changed in {self.dataset}. Run again; "
                        "if it persists, report it with the file"
                    )
                if batch.rejects_table:
                    staged.append(rejects_name)
                    rejects_file = Path(tmp) / "rejects.parquet"
                    self._write_rejects(batch, rejects_file)
                    self._load_parquet(rejects_file, rejects_name, REJECT_RECORD_COLUMNS)
            counts = self._swap_slice(
                batch, meta, rows_name, rejects_name if batch.rejects_table else None
            )
        finally:
            for name in staged:
                self._drop_quietly(name)
        return check_reconciliation(
            batch.path, batch.expected_counts, counts.rows_loaded, counts.rows_rejected
        )

    def close(self) -> None:
        self.con.close()
        self.client.close()

    # --- steps ---------------------------------------------------------------------------

    def _copy_parquet(self, select_sql: str, path: Path) -> None:
        self.con.execute(
            f"COPY ({select_sql}) TO {rules.quote_literal(str(path))} "
            "(FORMAT parquet, COMPRESSION zstd)"
        )

    def _write_rejects(self, batch: ValidatedFile, path: Path) -> None:
        self._copy_parquet(f"SELECT * FROM {batch.rejects_table}", path)

    def _load_parquet(self, path: Path, name: str, columns: tuple[Column, ...]) -> int:
        """Load a Parquet file into the staging table ``name`` (overwritten); rows written."""
        from google.cloud import bigquery

        table_id = self.table_id(name)
        self._drop_quietly(name)
        table = bigquery.Table(table_id, schema=schema_fields(columns))
        table.expires = datetime.now(UTC) + STAGING_EXPIRY
        self.client.create_table(table, exists_ok=True)
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            schema=schema_fields(columns),
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
            create_disposition=bigquery.CreateDisposition.CREATE_IF_NEEDED,
        )
        with path.open("rb") as f:
            job = self.client.load_table_from_file(
                f, table_id, job_config=config, job_id_prefix=f"nightjar_{name}_"
            )
        job.result()
        return int(job.output_rows or 0)

    def slice_script(
        self, batch: ValidatedFile, meta: SliceMeta, rows_table: str, rejects_table: str | None
    ) -> str:
        """The one multi-statement transaction that replaces a (table, file date) slice."""
        schema = batch.schema
        raw = self.sql_table(schema.name)
        rejected = self.sql_table(schema.rejected_table)
        audit = self.sql_table(AUDIT_TABLE)
        day = bq_date(meta.file_date)
        source = bq_string(meta.source_file)
        loaded_at = bq_timestamp(meta.loaded_at)
        load_id = bq_string(meta.load_id)
        data_cols = ", ".join(c.name for c in schema.columns)
        raw_cols = ", ".join(c.name for c in raw_columns(schema))
        rejected_cols = ", ".join(c.name for c in REJECTED_COLUMNS)
        audit_cols = ", ".join(c.name for c in AUDIT_COLUMNS)
        table_name = bq_string(schema.name)
        statements = [
            "BEGIN TRANSACTION",
            f"DELETE FROM {raw} WHERE _file_date = {day}",
            f"DELETE FROM {rejected} WHERE _file_date = {day}",
            f"DELETE FROM {audit} WHERE _file_date = {day} AND table_name = {table_name}",
            f"INSERT INTO {raw} ({raw_cols})\n"
            f"SELECT {data_cols}, {source}, {day}, {loaded_at}, _source_row\n"
            f"FROM {self.sql_table(rows_table)}",
        ]
        if rejects_table is not None:
            statements.append(
                f"INSERT INTO {rejected} ({rejected_cols})\n"
                f"SELECT {source}, {day}, {loaded_at}, line_number, reason, line_text\n"
                f"FROM {self.sql_table(rejects_table)}"
            )
        statements += [
            f"INSERT INTO {audit} ({audit_cols})\n"
            f"SELECT {load_id}, {table_name}, {day}, {source}, {loaded_at}, "
            f"{int(batch.rows_in_file)},\n"
            f"  (SELECT COUNT(*) FROM {raw} WHERE _file_date = {day}),\n"
            f"  (SELECT COUNT(*) FROM {rejected} WHERE _file_date = {day}),\n"
            f"  {bq_string(','.join(batch.extra_columns))}",
            # Checked inside the transaction: ERROR() aborts it, so nothing is committed.
            "SELECT IF(rows_loaded = "
            f"{int(batch.rows_valid)} AND rows_rejected = {int(batch.rows_rejected)} "
            "AND rows_in_file = rows_loaded + rows_rejected, 'ok', ERROR(CONCAT("
            f"{bq_string(RECONCILIATION_MARKER + ': ')}, "
            f"{bq_string(str(batch.path) + ': ')}, "
            "CAST(rows_in_file AS STRING), ' rows in file, ', "
            "CAST(rows_loaded AS STRING), ' loaded, ', "
            "CAST(rows_rejected AS STRING), ' rejected')))\n"
            f"FROM {audit} WHERE load_id = {load_id}",
            "COMMIT TRANSACTION",
            "SELECT rows_in_file, rows_loaded, rows_rejected "
            f"FROM {audit} WHERE load_id = {load_id}",
        ]
        return ";\n".join(statements) + ";\n"

    def _swap_slice(
        self, batch: ValidatedFile, meta: SliceMeta, rows_table: str, rejects_table: str | None
    ) -> SliceCounts:
        from google.api_core import exceptions as gexc

        script = self.slice_script(batch, meta, rows_table, rejects_table)
        try:
            rows = list(self.client.query(script).result())
        except gexc.BadRequest as exc:
            if RECONCILIATION_MARKER in str(exc):
                raise IngestError(
                    f"{batch.path}: {exc.message}; the load was rolled back. This is a bug in "
                    "the loader: report it with the file"
                ) from exc
            raise
        if len(rows) != 1:
            raise IngestError(
                f"{batch.path}: expected one audit row for load {meta.load_id}, found "
                f"{len(rows)}; check {self.table_id(AUDIT_TABLE)}"
            )
        row: Any = rows[0]
        return SliceCounts(int(row[0]), int(row[1]), int(row[2]))

    def _drop_quietly(self, name: str) -> None:
        """Drop a staging table; a failure only leaves it to expire on its own."""
        try:
            self.client.delete_table(self.table_id(name), not_found_ok=True)
        except Exception as exc:  # the load itself is already done or already failed
            log.warning("could not drop staging table %s (it expires by itself): %s", name, exc)
