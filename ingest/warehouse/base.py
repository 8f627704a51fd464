"""The warehouse seam: what a loader needs from a warehouse, and nothing more.

Validation SQL comes from :mod:`ingest.validate`; a warehouse creates the raw tables and
atomically replaces one (table, file date) slice: raw rows, rejected rows and the audit
row together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Protocol

import duckdb

from ingest.errors import IngestError
from ingest.validate import FileRead, SliceCounts, ValidatedFile, validate_read

__all__ = [
    "SliceCounts",
    "SliceMeta",
    "Warehouse",
    "check_reconciliation",
    "load_validated",
]


@dataclass(frozen=True)
class SliceMeta:
    """Lineage of one file load."""

    table: str
    file_date: date
    source_file: str
    load_id: str
    loaded_at: datetime


class Warehouse(Protocol):
    """A place the raw tables live in."""

    kind: str

    def validation_connection(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection files are validated in (the warehouse itself, or in-memory)."""
        ...

    def ensure_raw_tables(self) -> None:
        """Create the raw schema/dataset and its tables if they do not exist."""
        ...

    def load_file(self, plan: FileRead, meta: SliceMeta) -> SliceCounts:
        """Atomically replace (table, file date) with the file ``plan`` reads: raw rows,
        rejected rows, audit row. Raises :class:`IngestError` (nothing changed) if refused."""
        ...

    def replace_slice(self, batch: ValidatedFile, meta: SliceMeta) -> SliceCounts:
        """Atomically replace (table, file date) with a validated file."""
        ...

    def close(self) -> None: ...


def check_reconciliation(
    path: Path, expected: SliceCounts, loaded: int, rejected: int
) -> SliceCounts:
    """Raise (so the caller rolls back) unless the rows written match what the file held:
    rows in file = rows loaded + rows rejected, each as ``expected``."""
    if (
        loaded != expected.rows_loaded
        or rejected != expected.rows_rejected
        or expected.rows_in_file != loaded + rejected
    ):
        raise IngestError(
            f"{path}: reconciliation failed: {expected.rows_in_file} rows in file but "
            f"{loaded} loaded (expected {expected.rows_loaded}) + {rejected} rejected "
            f"(expected {expected.rows_rejected}); the load was rolled back. This is a bug in "
            "the loader: report it with the file"
        )
    return SliceCounts(expected.rows_in_file, loaded, rejected)


def load_validated(warehouse: Warehouse, plan: FileRead, meta: SliceMeta) -> SliceCounts:
    """Validate the file ``plan`` reads into temporary tables of the warehouse's validation
    connection, then replace its slice from them."""
    batch = validate_read(warehouse.validation_connection(), plan)
    try:
        return warehouse.replace_slice(batch, meta)
    finally:
        batch.drop()
