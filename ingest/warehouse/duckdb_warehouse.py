"""The DuckDB warehouse: a single local file; validation runs in the same connection.

**Layout.** Each raw table (``raw.viewing_logs``, ``raw.social_interactions``) is a view
over a stored table holding the input columns and ``_file_date`` (``raw._<table>_rows``),
joined to ``raw.load_audit`` for the rest of the lineage:

- ``_source_file`` and ``_loaded_at`` are the same for every row of a (table, file date)
  slice, and the audit row of the slice is written in the same transaction as its rows.
  Storing them on every row costs as much as a data column (a constant string column of
  5 M rows takes about 0.5 CPU-s to write).
- ``_source_row`` is the row's storage position (``rowid``). DuckDB keeps insertion order,
  and each file's rows are inserted in file order by one statement, so a later row of a
  file has a larger ``rowid``: that is all "the last row of a file wins" needs.

**Loading.** A file is first written straight from DuckDB's CSV reader into the stored
table, checked in the same pass (see :meth:`DuckDBWarehouse.load_file`). That is the whole
load for a clean file. A file with any reject, or one the reader refuses as read there, is
loaded through :func:`ingest.validate.validate_read` instead, which locates each reject
and handles the files DuckDB's reader needs help with.
"""

from __future__ import annotations

import logging
import uuid
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
from ingest.validate import FileRead, ValidatedFile, validate_read
from ingest.warehouse.base import (
    SliceCounts,
    SliceMeta,
    check_reconciliation,
    load_validated,
)

log = logging.getLogger(__name__)
q = rules.quote_ident
lit = rules.sql_literal

#: The lineage column stored with each row; the others come from the audit row and rowid.
STORED_LINEAGE: tuple[Column, ...] = tuple(c for c in LINEAGE_COLUMNS if c.name == "_file_date")


def rows_table(schema: TableSchema) -> str:
    """The stored table behind the ``raw.<table>`` view (unquoted name, in ``raw``)."""
    return f"_{schema.name}_rows"


def _stored(schema: TableSchema) -> str:
    """The stored table behind ``raw.<table>``, qualified and quoted."""
    return f"{RAW_SCHEMA}.{q(rows_table(schema))}"


def _stored_columns(schema: TableSchema) -> str:
    """The stored table's columns, quoted, as an INSERT or a SELECT lists them."""
    return ", ".join(q(c.name) for c in schema.columns + STORED_LINEAGE)


def _ddl(name: str, columns: tuple[Column, ...]) -> str:
    cols = ", ".join(f"{q(c.name)} {rules.SQL_TYPES[c.type]}" for c in columns)
    return f"CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.{q(name)} ({cols})"


def _view_sql(schema: TableSchema) -> str:
    """``raw.<table>``: the stored rows with their slice's lineage (see the module doc)."""
    lineage = {
        "_source_file": "a._source_file",
        "_file_date": "r._file_date",
        "_loaded_at": "a._loaded_at",
        "_source_row": "r.rowid",
    }
    if set(lineage) != {c.name for c in LINEAGE_COLUMNS}:
        raise AssertionError("the raw view does not cover every lineage column")
    select = [f"r.{q(c)}" for c in schema.column_names] + [
        f"{lineage[c.name]} AS {q(c.name)}" for c in LINEAGE_COLUMNS
    ]
    return (
        f"CREATE OR REPLACE VIEW {RAW_SCHEMA}.{q(schema.name)} AS SELECT {', '.join(select)} "
        f"FROM {_stored(schema)} AS r "
        f"LEFT JOIN {RAW_SCHEMA}.{q(AUDIT_TABLE)} AS a "
        f"ON a.table_name = {lit(schema.name)} AND a._file_date = r._file_date "
        # rows that failed a check in a one-pass load, deleted right after its commit
        "WHERE r._file_date IS NOT NULL"
    )


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
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {ANALYTICS_SCHEMA}")
            con.execute(_ddl(AUDIT_TABLE, AUDIT_COLUMNS))
            for schema in TABLES.values():
                self._migrate_stored_lineage(schema)
                con.execute(_ddl(rows_table(schema), schema.columns + STORED_LINEAGE))
                con.execute(_ddl(schema.rejected_table, REJECTED_COLUMNS))
                con.execute(_view_sql(schema))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def _migrate_stored_lineage(self, schema: TableSchema) -> None:
        """Move a warehouse written by earlier versions, where ``raw.<table>`` was a table
        with every lineage column on every row, to the view layout (same rows, same order
        within each file)."""
        kind = self.con.execute(
            "SELECT table_type FROM information_schema.tables WHERE table_schema = "
            f"{lit(RAW_SCHEMA)} AND table_name = {lit(schema.name)}"
        ).fetchone()
        if kind is None or kind[0] != "BASE TABLE":
            return
        log.info("raw.%s: moving to the view layout (lineage kept per slice)", schema.name)
        try:
            self.con.execute(
                f"CREATE TABLE {_stored(schema)} AS SELECT {_stored_columns(schema)} "
                f"FROM {RAW_SCHEMA}.{q(schema.name)} ORDER BY _file_date, _source_row"
            )
        except duckdb.Error as exc:
            raise IngestError(
                f"{self.path}: raw.{schema.name} is a table this version cannot convert "
                f"({str(exc).splitlines()[0]}); load the drops into a new warehouse (set "
                "DUCKDB_PATH or delete the file)"
            ) from exc
        self.con.execute(f"DROP TABLE {RAW_SCHEMA}.{q(schema.name)}")

    def _after_delete(self, meta: SliceMeta) -> None:
        """Hook between deleting the old slice and writing the new one (tests use it)."""

    def _delete_slice(self, schema: TableSchema, meta: SliceMeta) -> None:
        day = lit(meta.file_date)
        for table in (_stored(schema), f"{RAW_SCHEMA}.{q(schema.rejected_table)}"):
            self.con.execute(f"DELETE FROM {table} WHERE _file_date = {day}")
        self.con.execute(
            f"DELETE FROM {RAW_SCHEMA}.{q(AUDIT_TABLE)} WHERE table_name = {lit(schema.name)} "
            f"AND _file_date = {day}"
        )

    def _write_audit(
        self, schema: TableSchema, meta: SliceMeta, counts: SliceCounts, extra: tuple[str, ...]
    ) -> None:
        audit_row = (
            meta.load_id,
            schema.name,
            meta.file_date,
            meta.source_file,
            meta.loaded_at,
            counts.rows_in_file,
            counts.rows_loaded,
            counts.rows_rejected,
            ",".join(extra),
        )
        self.con.execute(
            f"INSERT INTO {RAW_SCHEMA}.{q(AUDIT_TABLE)} VALUES ({', '.join(map(lit, audit_row))})"
        )

    def _stored_count(self, schema: TableSchema, meta: SliceMeta) -> int:
        return self.con.execute(
            f"SELECT count(*) FROM {_stored(schema)} WHERE _file_date = {lit(meta.file_date)}"
        ).fetchone()[0]  # type: ignore[index]

    def load_file(self, plan: FileRead, meta: SliceMeta) -> SliceCounts:
        """Replace the (table, file date) slice with the file ``plan`` reads, atomically.

        The file is written in one pass where it can be (:meth:`_load_direct`); otherwise it
        goes through :func:`validate_read` and :meth:`replace_slice`.
        """
        counts = self._load_direct(plan, meta)
        if counts is not None:
            return counts
        return load_validated(self, plan, meta)

    def _load_direct(self, plan: FileRead, meta: SliceMeta) -> SliceCounts | None:
        """Write the file straight from the CSV reader into the stored table, in one
        transaction with the deletion of the old slice, the rejects and the audit row.

        Every value is checked in the same pass; a row that fails is written with a NULL
        ``_file_date``, which the view hides, and deleted after the commit. When there are
        rejects, the file is read again for them only (:func:`validate_read` without
        values), which locates each one. Returns None, with the transaction rolled back,
        when the reader refuses the file as read here or the second read had to read it
        differently (longer records, mixed line ends): then the caller loads the validated
        file instead.
        """
        schema, con = plan.schema, self.con
        self._delete_failed_rows(schema)  # left by a load cut short, if any
        tag = uuid.uuid4().hex[:12]
        rejects, scan = f"nj_rej_{tag}", f"nj_rejscan_{tag}"
        stored, columns = _stored(schema), _stored_columns(schema)
        batch: ValidatedFile | None = None
        con.execute("BEGIN TRANSACTION")
        try:
            self._delete_slice(schema, meta)
            self._after_delete(meta)
            try:
                parsed = con.execute(
                    f"INSERT INTO {stored} ({columns}) SELECT {plan.typed_select}, "
                    f"CASE WHEN {plan.valid} THEN {lit(meta.file_date)} END "
                    f"FROM {plan.source_sql(rejects, scan)}"
                ).fetchone()[0]  # type: ignore[index]
            except duckdb.Error as exc:
                log.info("%s: not read in one pass (%s); validating it first", plan.path, exc)
                con.execute("ROLLBACK")
                return None
            failed = con.execute(
                f"SELECT (SELECT count(*) FROM temp.{rejects}) "
                f"+ (SELECT count(*) FROM {stored} WHERE _file_date IS NULL)"
            ).fetchone()[0]  # type: ignore[index]
            expected = SliceCounts(rows_in_file=parsed, rows_loaded=parsed, rows_rejected=0)
            rejected = 0
            if failed:
                log.info("%s: has rejects; reading it again to locate them", plan.path)
                batch = validate_read(con, plan, values=False)
                if not batch.read_as_planned:
                    log.info("%s: read differently for its rejects; validating it", plan.path)
                    con.execute("ROLLBACK")
                    return None
                expected = batch.expected_counts
                rejected = self._insert_rejects(batch, meta)
            counts = self._reconcile(
                plan.path, expected, self._stored_count(schema, meta), rejected
            )
            self._write_audit(schema, meta, counts, plan.extra_columns)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            if batch is not None:
                batch.drop()
            for name in (rejects, scan):
                con.execute(f"DROP TABLE IF EXISTS temp.{name}")
        if failed:
            self._delete_failed_rows(schema)
        return counts

    def _delete_failed_rows(self, schema: TableSchema) -> None:
        """Delete the rows a one-pass load wrote for failing a check (NULL ``_file_date``;
        the view never shows them). Done in a transaction of its own, after the load's:
        deleting rows a transaction wrote itself makes DuckDB rewrite all of them at commit
        (seconds on millions of rows), while deleting committed ones only marks them. A
        load cut short in between leaves them to the next load."""
        self.con.execute(f"DELETE FROM {_stored(schema)} WHERE _file_date IS NULL")

    def _insert_rejects(self, batch: ValidatedFile, meta: SliceMeta) -> int:
        if not batch.rejects_table:
            return 0
        rej = f"{RAW_SCHEMA}.{q(batch.schema.rejected_table)}"
        return self.con.execute(
            f"INSERT INTO {rej} SELECT {lit(meta.source_file)}, {lit(meta.file_date)}, "
            f"{lit(meta.loaded_at)}, line_number, reason, line_text FROM {batch.rejects_table}"
        ).fetchone()[0]  # type: ignore[index]

    def _reconcile(
        self, path: Path, expected: SliceCounts, loaded: int, rejected: int
    ) -> SliceCounts:
        return check_reconciliation(path, expected, loaded, rejected)

    def replace_slice(self, batch: ValidatedFile, meta: SliceMeta) -> SliceCounts:
        if batch.con is not self.con:
            raise ValueError("batch was validated in another connection")
        if batch.valid_sql is None:
            raise ValueError("batch was validated without its values")
        schema = batch.schema
        stored, columns = _stored(schema), _stored_columns(schema)
        data_cols = ", ".join(q(c) for c in schema.column_names)
        con = self.con
        file_date = lit(meta.file_date)
        con.execute("BEGIN TRANSACTION")
        try:
            self._delete_slice(schema, meta)
            self._after_delete(meta)
            # Inserted in file order: the rows' storage order is their order in the file.
            loaded = con.execute(
                f"INSERT INTO {stored} ({columns}) SELECT {data_cols}, {file_date} "
                f"FROM ({batch.valid_sql})"
            ).fetchone()[0]  # type: ignore[index]
            rejected = self._insert_rejects(batch, meta)
            counts = self._reconcile(batch.path, batch.expected_counts, int(loaded), int(rejected))
            self._write_audit(schema, meta, counts, batch.extra_columns)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return counts

    def close(self) -> None:
        self.con.close()
