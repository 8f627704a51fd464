"""The DuckDB warehouse: one local file, in which files are also read and checked.

``raw.<table>`` is a view, with the BigQuery table's columns, over ``raw._<table>_rows``:
every parsed record of each file, typed, with ``_reject_reason`` (NULL when loaded) and
``_file_date``, written by the reader's own ``INSERT … SELECT`` (the bench's ``table layout``
case shows what that saves). ``_source_file`` and ``_loaded_at`` come from the slice's audit
row; ``_source_row`` from ``rowid``, consecutive in file order (only whole slices are deleted).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingest import rules
from ingest.errors import IngestError
from ingest.schemas import (
    ANALYTICS_SCHEMA,
    AUDIT_COLUMNS,
    AUDIT_TABLE,
    LINEAGE_COLUMNS,
    RAW_SCHEMA,
    REJECTED_COLUMNS,
    TABLES,
    Column,
    TableSchema,
)
from ingest.validate import REASON, Counts, FileRead, LoadResult, write_rows

q, lit = rules.quote_ident, rules.sql_literal
STORED = (Column(REASON), Column("_file_date", "date"))
AUDIT = f"{RAW_SCHEMA}.{AUDIT_TABLE}"


def stored_table(schema: TableSchema) -> str:
    return f"{RAW_SCHEMA}._{schema.name}_rows"


def _ddl(name: str, columns: tuple[Column, ...]) -> str:
    cols = ", ".join(f"{q(c.name)} {rules.SQL_TYPES[c.type]}" for c in columns)
    return f"CREATE TABLE IF NOT EXISTS {name} ({cols})"


def _view(schema: TableSchema) -> str:
    lineage = {
        "_source_file": "a._source_file",
        "_file_date": "r._file_date",
        "_loaded_at": "a._loaded_at",
        "_source_row": "r.rowid - f.first_rowid + 1",
    }
    select = [f"r.{q(c)}" for c in schema.column_names]
    select += [f"{lineage[c.name]} AS {c.name}" for c in LINEAGE_COLUMNS]
    stored = stored_table(schema)
    return (
        f"CREATE OR REPLACE VIEW {RAW_SCHEMA}.{schema.name} AS SELECT {', '.join(select)} "
        f"FROM {stored} AS r JOIN {AUDIT} AS a "
        f"ON a.table_name = {lit(schema.name)} AND a._file_date = r._file_date "
        f"JOIN (SELECT _file_date, min(rowid) AS first_rowid FROM {stored} GROUP BY 1) AS f "
        f"ON f._file_date = r._file_date WHERE r.{REASON} IS NULL"
    )


class DuckDBWarehouse:
    """Raw tables in a DuckDB file; each slice replaced in one transaction."""

    kind = "duckdb"

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(self.path))
        self.con.execute("SET TimeZone = 'UTC'")

    def ensure_raw_tables(self) -> None:
        found = self.con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            f"WHERE table_schema = {lit(RAW_SCHEMA)}"
        ).fetchall()
        tables = {table for table, _ in found}
        if any(t in tables and (f"_{t}_rows", REASON) not in found for t in TABLES):
            raise IngestError(
                f"{self.path}: its raw tables were written by another version of the loader; "
                "load the drops into a new warehouse (set DUCKDB_PATH or delete the file)"
            )
        statements = [
            f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}",
            f"CREATE SCHEMA IF NOT EXISTS {ANALYTICS_SCHEMA}",
            _ddl(AUDIT, AUDIT_COLUMNS),
        ]
        for schema in TABLES.values():
            statements.append(_ddl(stored_table(schema), schema.columns + STORED))
            statements.append(_ddl(f"{RAW_SCHEMA}.{schema.rejected_table}", REJECTED_COLUMNS))
            statements.append(_view(schema))
        self.con.execute(";\n".join(statements))  # each idempotent: no transaction needed

    def load_file(self, plan: FileRead, meta: LoadResult) -> Counts:
        """Replace the (table, file date) slice, its rejects and its audit row, atomically."""
        schema, con, day = plan.schema, self.con, lit(meta.file_date)
        stored, rejected = stored_table(schema), f"{RAW_SCHEMA}.{schema.rejected_table}"
        con.execute("BEGIN TRANSACTION")
        try:
            for table in (stored, rejected, AUDIT):
                con.execute(
                    f"DELETE FROM {table} WHERE _file_date = {day}"
                    + (f" AND table_name = {lit(schema.name)}" if table == AUDIT else "")
                )
            sql = lambda select: f"INSERT INTO {stored} SELECT *, {day} FROM ({select})"  # noqa: E731
            counts, _, rejects = write_rows(con, plan, sql, stored, f"_file_date = {day}")
            con.execute(
                f"INSERT INTO {rejected} SELECT {lit(meta.source_file)}, {day}, "
                f"{lit(meta.loaded_at)}, * FROM {rejects}; DROP TABLE {rejects}"
            )
            # The rejects written must be the ones the file held (rows are counted as written).
            (n_rejected,) = con.execute(
                f"SELECT count(*) FROM {rejected} WHERE _file_date = {day}"
            ).fetchone()  # type: ignore[misc]
            if (n_rejected, counts[0]) != (counts[2], counts[1] + n_rejected):
                raise IngestError(
                    f"{plan.path}: reconciliation failed: {counts[0]} rows in file but "
                    f"{counts[1]} loaded + {n_rejected} rejected (expected {counts[2]}); the load "
                    "was rolled back. This is a bug in the loader: report it with the file"
                )
            audit = (meta.load_id, schema.name, meta.file_date, meta.source_file, meta.loaded_at)
            audit += (*counts, ",".join(plan.extra_columns))
            con.execute(f"INSERT INTO {AUDIT} VALUES ({', '.join(map(lit, audit))})")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        return counts

    def close(self) -> None:
        self.con.close()
