"""Load daily CSV drops into the raw tables, one transaction per file."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path

from config.settings import Settings
from ingest.errors import IngestError, NoInputError
from ingest.schemas import TABLES
from ingest.sources import expected_path
from ingest.validate import LoadResult, open_read

log = logging.getLogger(__name__)


def _check_tables(tables: Iterable[str]) -> list[str]:
    tables = list(tables)
    if unknown := [t for t in tables if t not in TABLES]:
        raise IngestError(f"unknown table {unknown[0]!r}; choose one of {', '.join(TABLES)}")
    return tables


def get_warehouse(settings: Settings):
    """Open the warehouse the settings' target points at (its module imported only then)."""
    if settings.warehouse_kind == "duckdb":
        from ingest.warehouse.duckdb_warehouse import DuckDBWarehouse

        return DuckDBWarehouse(settings.duckdb_path)
    from ingest.warehouse.bigquery import BigQueryWarehouse

    return BigQueryWarehouse(settings)


def load_files(settings: Settings, files: list[tuple[str, Path, date]]) -> list[LoadResult]:
    """Replace the (table, file date) slice of each (table, path, file date), in order; each
    file is its own transaction. Raises :class:`IngestError` when a file is refused."""
    warehouse = get_warehouse(settings)
    results = []
    try:
        warehouse.ensure_raw_tables()
        for table, path, day in files:
            t0, path = time.perf_counter(), Path(path)
            lineage = (table, day, path.name, uuid.uuid4().hex, datetime.now(UTC))
            with open_read(TABLES[table], path) as plan:
                counts = warehouse.load_file(plan, LoadResult(*lineage))
            result = LoadResult(*lineage, *counts, plan.extra_columns, time.perf_counter() - t0)
            log.info("%s", result.audit_line())
            if rejected := result.rows_rejected:
                name = TABLES[table].rejected_table
                log.warning("%s: %d row(s) rejected; see raw.%s", path, rejected, name)
            results.append(result)
    finally:
        warehouse.close()
    return results


def ingest_file(
    settings: Settings, table: str, path: Path, file_date: date | None = None
) -> LoadResult:
    """Load one file into ``raw.<table>``, replacing what was loaded for its date (by default
    the one in its name, ``YYYY-MM-DD.csv``); the warehouse is unchanged if it is refused."""
    _check_tables([table])
    try:
        file_date = file_date or date.fromisoformat(Path(path).stem)
    except ValueError:
        raise IngestError(
            f"{path}: cannot tell the file date from the name; name the file YYYY-MM-DD.csv "
            "or pass the file date explicitly"
        ) from None
    return load_files(settings, [(table, Path(path), file_date)])[0]


def drops_for(source_dir: Path, run_date: date, tables: Iterable[str] = TABLES) -> dict[str, Path]:
    """The files present for ``run_date``, by table; :class:`NoInputError` when there is none
    (a date with no drop at all is a mistake; one missing table is allowed)."""
    tables = _check_tables(tables)
    if not Path(source_dir).is_dir():
        raise NoInputError(f"{source_dir}: no such folder; check --source-dir")
    paths = {t: expected_path(source_dir, t, run_date) for t in tables}
    if present := {t: p for t, p in paths.items() if p.is_file()}:
        return present
    found = set()
    for path in (p for t in tables for p in (Path(source_dir) / t).glob("*.csv")):
        try:
            found.add(date.fromisoformat(path.stem))
        except ValueError:
            continue
    hint = f"{source_dir} holds no <table>/<YYYY-MM-DD>.csv file; check --source-dir"
    if found:
        near = sorted(sorted(found, key=lambda d: (abs((d - run_date).days), d))[:3])
        hint = (
            f"dates with files: {', '.join(d.isoformat() for d in near)} (nearest of "
            f"{len(found)}, {min(found)} to {max(found)}); check the date and --source-dir"
        )
    raise NoInputError(
        f"no input files for {run_date.isoformat()}: expected "
        f"{', '.join(str(p) for p in paths.values())}; {hint}"
    )


def ingest_date(
    settings: Settings, run_date: date, source_dir: Path, tables: Iterable[str] = TABLES
) -> list[LoadResult]:
    """Load every table's file for ``run_date`` from ``source_dir``. A missing table is
    skipped with a warning (its previous slice stays); earlier files stay loaded when a
    later one is refused, and a re-run of the date replaces them (the load is idempotent)."""
    tables = _check_tables(tables)
    present = drops_for(source_dir, run_date, tables)
    for t in (t for t in tables if t not in present):
        path = expected_path(source_dir, t, run_date)
        log.warning("%s: missing, skipping table %s for %s", path, t, run_date.isoformat())
    return load_files(settings, [(t, p, run_date) for t, p in present.items()])
