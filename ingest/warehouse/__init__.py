"""Warehouses the raw tables can live in, chosen by ``settings.warehouse_kind``."""

from __future__ import annotations

from config.settings import Settings
from ingest.warehouse.base import SliceCounts, SliceMeta, Warehouse, check_reconciliation


def get_warehouse(settings: Settings) -> Warehouse:
    """Open the warehouse the settings' target points at."""
    kind = settings.warehouse_kind
    if kind == "duckdb":
        from ingest.warehouse.duckdb_warehouse import DuckDBWarehouse

        return DuckDBWarehouse(settings.duckdb_path)
    if kind == "bigquery":
        from ingest.warehouse.bigquery import BigQueryWarehouse

        return BigQueryWarehouse(settings)
    raise NotImplementedError(
        f"target {settings.target!r} uses warehouse {kind!r}, which has no loader yet; "
        "use target dev or ci"
    )


__all__ = ["SliceCounts", "SliceMeta", "Warehouse", "check_reconciliation", "get_warehouse"]
