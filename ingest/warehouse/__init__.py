"""Warehouses the raw tables can live in: :mod:`.duckdb_warehouse` and :mod:`.bigquery`."""
