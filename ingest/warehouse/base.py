"""The warehouse seam: what a loader needs from a warehouse, and nothing more.

Validation happens before and outside the warehouse (see :mod:`ingest.validate`); a
warehouse only creates the raw tables and atomically replaces one (table, file date)
slice: raw rows, rejected rows and the audit row together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

import duckdb

from ingest.errors import IngestError
from ingest.validate import ValidatedFile


@dataclass(frozen=True)
class SliceMeta:
    """Lineage of one file load."""

    table: str
    file_date: date
    source_file: str
    load_id: str
    loaded_at: datetime


@dataclass(frozen=True)
class SliceCounts:
    """What the warehouse actually wrote for one slice."""

    rows_in_file: int
    rows_loaded: int
    rows_rejected: int


class Warehouse(Protocol):
    """A place the raw tables live in."""

    kind: str

    def validation_connection(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection files are validated in (the warehouse itself, or in-memory)."""
        ...

    def ensure_raw_tables(self) -> None:
        """Create the raw schema/dataset and its tables if they do not exist."""
        ...

    def replace_slice(self, batch: ValidatedFile, meta: SliceMeta) -> SliceCounts:
        """Atomically replace (table, file date): raw rows, rejected rows, audit row."""
        ...

    def close(self) -> None: ...


def check_reconciliation(batch: ValidatedFile, loaded: int, rejected: int) -> SliceCounts:
    """Raise (so the caller rolls back) unless rows in file = rows loaded + rows rejected."""
    counts = SliceCounts(batch.rows_in_file, loaded, rejected)
    if (
        loaded != batch.rows_valid
        or rejected != batch.rows_rejected
        or (batch.rows_in_file != loaded + rejected)
    ):
        raise IngestError(
            f"{batch.path}: reconciliation failed: {batch.rows_in_file} rows in file but "
            f"{loaded} loaded (expected {batch.rows_valid}) + {rejected} rejected "
            f"(expected {batch.rows_rejected}); the load was rolled back. This is a bug in "
            "the loader: report it with the file"
        )
    return counts
