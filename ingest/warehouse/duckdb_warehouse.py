"""The DuckDB warehouse: a single local file, validation runs in the same connection."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

from ingest import rules
from ingest.schemas import (
    ANALYTICS_SCHEMA,
    AUDIT_COLUMNS,
    AUDIT_TABLE,
    LINEAGE_COLUMNS,
    RAW_SCHEMA,
    REJECTED_COLUMNS,
    TABLES,
    Column,
)
from ingest.validate import ValidatedFile
from ingest.warehouse.base import SliceCounts, SliceMeta, check_reconciliation

log = logging.getLogger(__name__)
q = rules.quote_ident


def _ddl(name: str, columns: tuple[Column, ...]) -> str:
    cols = ", ".join(f"{q(c.name)} {rules.SQL_TYPES[c.type]}" for c in columns)
    return f"CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.{q(name)} ({cols})"


class DuckDBWarehouse:
    """Raw tables in a DuckDB file; each slice replaced in one transaction."""

    kind = "duckdb"

    def __init__(self, path: Path, threads: int | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(self.path))
        self.con.execute("SET TimeZone = 'UTC'")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")

    def validation_connection(self) -> duckdb.DuckDBPyConnection:
        return self.con

    def ensure_raw_tables(self) -> None:
        con = self.con
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {ANALYTICS_SCHEMA}")
        for schema in TABLES.values():
            con.execute(_ddl(schema.name, schema.columns + LINEAGE_COLUMNS))
            con.execute(_ddl(schema.rejected_table, REJECTED_COLUMNS))
        con.execute(_ddl(AUDIT_TABLE, AUDIT_COLUMNS))

    def _after_delete(self, meta: SliceMeta) -> None:
        """Hook between deleting the old slice and writing the new one (tests use it)."""

    def replace_slice(self, batch: ValidatedFile, meta: SliceMeta) -> SliceCounts:
        if batch.con is not self.con:
            raise ValueError("batch was validated in another connection")
        schema = batch.schema
        raw = f"{RAW_SCHEMA}.{q(schema.name)}"
        rej = f"{RAW_SCHEMA}.{q(schema.rejected_table)}"
        audit = f"{RAW_SCHEMA}.{q(AUDIT_TABLE)}"
        target_cols = ", ".join(q(c.name) for c in schema.columns + LINEAGE_COLUMNS)
        data_cols = ", ".join(q(c) for c in schema.column_names)
        con = self.con
        lit = rules.sql_literal
        file_date, source_file, loaded_at = (
            lit(meta.file_date),
            lit(meta.source_file),
            lit(meta.loaded_at),
        )
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"DELETE FROM {raw} WHERE _file_date = {file_date}")
            con.execute(f"DELETE FROM {rej} WHERE _file_date = {file_date}")
            con.execute(
                f"DELETE FROM {audit} WHERE table_name = {lit(schema.name)} "
                f"AND _file_date = {file_date}"
            )
            self._after_delete(meta)
            loaded = con.execute(
                f"INSERT INTO {raw} ({target_cols}) SELECT {data_cols}, "
                f"{source_file}, {file_date}, {loaded_at}, _source_row "
                f"FROM ({batch.valid_sql})"
            ).fetchone()[0]  # type: ignore[index]
            rejected = 0
            if batch.rejects_table:
                rejected = con.execute(
                    f"INSERT INTO {rej} SELECT {source_file}, {file_date}, {loaded_at}, "
                    f"line_number, reason, line_text FROM {batch.rejects_table}"
                ).fetchone()[0]  # type: ignore[index]
            counts = check_reconciliation(batch, int(loaded), int(rejected))
            audit_row = (
                meta.load_id,
                schema.name,
                meta.file_date,
                meta.source_file,
                meta.loaded_at,
                counts.rows_in_file,
                counts.rows_loaded,
                counts.rows_rejected,
                ",".join(batch.extra_columns),
            )
            con.execute(f"INSERT INTO {audit} VALUES ({', '.join(map(lit, audit_row))})")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return counts

    def close(self) -> None:
        self.con.close()
