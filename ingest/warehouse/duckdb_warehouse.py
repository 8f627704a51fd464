"""The DuckDB warehouse: one local file; files are read and checked in the same connection.

**Layout.** Each ``raw.<table>`` is a view with the same columns as the BigQuery table, over
a stored table ``raw._<table>_rows`` that holds every parsed record of each file: its
typed input columns, ``_file_date`` and ``_reject_reason`` (NULL for a loaded row). That is
the one storage trick, and the bench's ``table layout`` case shows what it buys: the load is
the reader's own ``INSERT … SELECT``, with no per-row lineage to write.

- ``_source_file`` and ``_loaded_at`` come from the slice's ``raw.load_audit`` row, written
  in the same transaction as its rows.
- ``_source_row`` is the record's position among its file's parsed records. One statement
  inserts them in file order, so their storage positions (``rowid``) are consecutive, and
  stay so: only whole slices are ever deleted.
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
from ingest.validate import (
    REASON,
    FileRead,
    SliceCounts,
    SliceMeta,
    check_reconciliation,
    write_rows,
)

q, lit = rules.quote_ident, rules.sql_literal
#: What the stored table holds besides the input columns.
STORED: tuple[Column, ...] = (
    Column(REASON, description="Why the record was rejected; NULL for a loaded row."),
    Column("_file_date", "date"),
)


def stored_table(schema: TableSchema) -> str:
    return f"{RAW_SCHEMA}.{q(f'_{schema.name}_rows')}"


def _ddl(name: str, columns: tuple[Column, ...]) -> str:
    cols = ", ".join(f"{q(c.name)} {rules.SQL_TYPES[c.type]}" for c in columns)
    return f"CREATE TABLE IF NOT EXISTS {name} ({cols})"


def _view_sql(schema: TableSchema) -> str:
    lineage = {
        "_source_file": "a._source_file",
        "_file_date": "r._file_date",
        "_loaded_at": "a._loaded_at",
        "_source_row": "r.rowid - f.first_rowid + 1",
    }
    select = [f"r.{q(c)}" for c in schema.column_names]
    select += [f"{lineage[c.name]} AS {q(c.name)}" for c in LINEAGE_COLUMNS]
    return (
        f"CREATE OR REPLACE VIEW {RAW_SCHEMA}.{q(schema.name)} AS SELECT {', '.join(select)} "
        f"FROM {stored_table(schema)} AS r "
        f"JOIN {RAW_SCHEMA}.{q(AUDIT_TABLE)} AS a "
        f"ON a.table_name = {lit(schema.name)} AND a._file_date = r._file_date "
        f"JOIN (SELECT _file_date, min(rowid) AS first_rowid FROM {stored_table(schema)} "
        "GROUP BY _file_date) AS f ON f._file_date = r._file_date "
        f"WHERE r.{REASON} IS NULL"
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
        self._check_layout()
        statements = [
            f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}",
            f"CREATE SCHEMA IF NOT EXISTS {ANALYTICS_SCHEMA}",
            _ddl(f"{RAW_SCHEMA}.{q(AUDIT_TABLE)}", AUDIT_COLUMNS),
        ]
        for schema in TABLES.values():
            statements += [
                _ddl(stored_table(schema), schema.columns + STORED),
                _ddl(f"{RAW_SCHEMA}.{q(schema.rejected_table)}", REJECTED_COLUMNS),
                _view_sql(schema),
            ]
        self._transaction(lambda: [self.con.execute(s) for s in statements])

    def _check_layout(self) -> None:
        """Refuse, with what to do, a warehouse whose raw tables another layout wrote."""
        found = dict(
            self.con.execute(
                "SELECT table_name, list(column_name ORDER BY ordinal_position) FROM "
                f"information_schema.columns WHERE table_schema = {lit(RAW_SCHEMA)} GROUP BY 1"
            ).fetchall()
        )
        for schema in TABLES.values():
            name = stored_table(schema).split(".")[1].strip('"')
            want = [*schema.column_names, *(c.name for c in STORED)]
            if schema.name in found and found.get(name) != want:
                raise IngestError(
                    f"{self.path}: raw.{schema.name} was written by another version of the "
                    "loader; load the drops into a new warehouse (set DUCKDB_PATH or delete "
                    "the file)"
                )

    def _transaction(self, work):  # type: ignore[no-untyped-def]
        self.con.execute("BEGIN TRANSACTION")
        try:
            result = work()
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return result

    def load_file(self, plan: FileRead, meta: SliceMeta) -> SliceCounts:
        """Replace the (table, file date) slice with the file ``plan`` reads, atomically:
        its rows, its rejects and its audit row."""
        return self._transaction(lambda: self._replace_slice(plan, meta))

    def _replace_slice(self, plan: FileRead, meta: SliceMeta) -> SliceCounts:
        schema, con, day = plan.schema, self.con, lit(meta.file_date)
        stored, rejected = stored_table(schema), f"{RAW_SCHEMA}.{q(schema.rejected_table)}"
        audit = f"{RAW_SCHEMA}.{q(AUDIT_TABLE)}"
        con.execute(f"DELETE FROM {stored} WHERE _file_date = {day}")
        con.execute(f"DELETE FROM {rejected} WHERE _file_date = {day}")
        con.execute(
            f"DELETE FROM {audit} WHERE table_name = {lit(schema.name)} AND _file_date = {day}"
        )
        written = write_rows(
            con,
            plan,
            lambda select: f"INSERT INTO {stored} SELECT *, {day} FROM ({select})",
            stored,
            f"_file_date = {day}",
        )
        if written.rejects_table:
            con.execute(
                f"INSERT INTO {rejected} SELECT {lit(meta.source_file)}, {day}, "
                f"{lit(meta.loaded_at)}, * FROM {written.rejects_table}"
            )
            con.execute(f"DROP TABLE {written.rejects_table}")
        (loaded,) = con.execute(
            f"SELECT count(*) FROM {stored} WHERE _file_date = {day} AND {REASON} IS NULL"
        ).fetchone()  # type: ignore[misc]
        (n_rejected,) = con.execute(
            f"SELECT count(*) FROM {rejected} WHERE _file_date = {day}"
        ).fetchone()  # type: ignore[misc]
        counts = written.counts
        check_reconciliation(plan.path, counts, loaded, n_rejected)
        audit_row = (meta.load_id, schema.name, meta.file_date, meta.source_file, meta.loaded_at)
        audit_row += (counts.rows_in_file, counts.rows_loaded, counts.rows_rejected)
        con.execute(
            f"INSERT INTO {audit} VALUES ({', '.join(map(lit, audit_row))}, "
            f"{lit(','.join(plan.extra_columns))})"
        )
        return counts

    def close(self) -> None:
        self.con.close()
