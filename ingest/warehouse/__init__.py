"""Warehouses the raw tables can live in, chosen by ``settings.warehouse_kind``."""

from __future__ import annotations

from typing import Protocol

from config.settings import Settings
from ingest.validate import FileRead, SliceCounts, SliceMeta


class Warehouse(Protocol):
    """A place the raw tables live in."""

    kind: str

    def ensure_raw_tables(self) -> None: ...

    def load_file(self, plan: FileRead, meta: SliceMeta) -> SliceCounts:
        """Atomically replace (table, file date) with the file ``plan`` reads: raw rows,
        rejected rows, audit row. Raises :class:`IngestError` (nothing changed) if refused."""
        ...

    def close(self) -> None: ...


def get_warehouse(settings: Settings) -> Warehouse:
    """Open the warehouse the settings' target points at."""
    if settings.warehouse_kind == "duckdb":
        from ingest.warehouse.duckdb_warehouse import DuckDBWarehouse

        return DuckDBWarehouse(settings.duckdb_path)
    from ingest.warehouse.bigquery import BigQueryWarehouse

    return BigQueryWarehouse(settings)


__all__ = ["SliceCounts", "SliceMeta", "Warehouse", "get_warehouse"]
