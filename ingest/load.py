"""Load daily CSV drops into the raw tables: the public entry points of the ingest package."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from config.settings import Settings
from ingest.errors import HeaderError, IngestError, MissingColumnError, NoInputError
from ingest.schemas import TABLES
from ingest.validate import plan_read
from ingest.warehouse import SliceMeta, Warehouse, get_warehouse

log = logging.getLogger(__name__)

__all__ = [
    "HeaderError",
    "IngestError",
    "LoadResult",
    "MissingColumnError",
    "NoInputError",
    "drops_for",
    "expected_path",
    "file_date_from_path",
    "ingest_date",
    "ingest_file",
    "load_into",
]


@dataclass(frozen=True)
class LoadResult:
    """The outcome of loading one file. ``rows_in_file == rows_loaded + rows_rejected``."""

    table: str
    file_date: date
    source_file: str
    load_id: str
    rows_in_file: int
    rows_loaded: int
    rows_rejected: int
    extra_columns: tuple[str, ...]
    seconds: float

    def audit_line(self) -> str:
        extra = f"; ignored columns: {', '.join(self.extra_columns)}" if self.extra_columns else ""
        return (
            f"{self.table} {self.file_date.isoformat()} ({self.source_file}): "
            f"rows in file {self.rows_in_file} = loaded {self.rows_loaded} + rejected "
            f"{self.rows_rejected} [{self.seconds:.2f}s]{extra}"
        )


def expected_path(source_dir: Path, table: str, file_date: date) -> Path:
    """Where the drop for ``table`` and ``file_date`` lives: ``<source-dir>/<table>/<date>.csv``."""
    return Path(source_dir) / table / f"{file_date.isoformat()}.csv"


def file_date_from_path(path: Path) -> date:
    """The file date encoded in a drop's name (``YYYY-MM-DD.csv``)."""
    try:
        return date.fromisoformat(Path(path).stem)
    except ValueError:
        raise IngestError(
            f"{path}: cannot tell the file date from the name; name the file YYYY-MM-DD.csv "
            "or pass the file date explicitly"
        ) from None


def _check_table(table: str) -> None:
    if table not in TABLES:
        raise IngestError(f"unknown table {table!r}; choose one of {', '.join(TABLES)}")


def load_into(warehouse: Warehouse, table: str, path: Path, file_date: date) -> LoadResult:
    """Validate ``path`` and replace the (table, file_date) slice in an open warehouse."""
    _check_table(table)
    t0 = time.perf_counter()
    path = Path(path)
    plan = plan_read(TABLES[table], path)
    meta = SliceMeta(
        table=table,
        file_date=file_date,
        source_file=path.name,
        load_id=uuid.uuid4().hex,
        loaded_at=datetime.now(UTC),
    )
    counts = warehouse.load_file(plan, meta)
    result = LoadResult(
        table=table,
        file_date=file_date,
        source_file=path.name,
        load_id=meta.load_id,
        rows_in_file=counts.rows_in_file,
        rows_loaded=counts.rows_loaded,
        rows_rejected=counts.rows_rejected,
        extra_columns=plan.extra_columns,
        seconds=time.perf_counter() - t0,
    )
    log.info("%s", result.audit_line())
    if result.rows_rejected:
        log.warning(
            "%s: %d row(s) rejected; see %s",
            path,
            result.rows_rejected,
            f"raw.{TABLES[table].rejected_table}",
        )
    return result


def ingest_file(
    settings: Settings, table: str, path: Path, file_date: date | None = None
) -> LoadResult:
    """Load one file into ``raw.<table>``, replacing what was loaded before for its date.

    The file date defaults to the one in the file name. Raises :class:`IngestError`
    (warehouse unchanged) when the file is refused.
    """
    _check_table(table)
    file_date = file_date or file_date_from_path(Path(path))
    warehouse = get_warehouse(settings)
    try:
        warehouse.ensure_raw_tables()
        return load_into(warehouse, table, Path(path), file_date)
    finally:
        warehouse.close()


def drops_for(source_dir: Path, run_date: date, tables: Iterable[str] = TABLES) -> dict[str, Path]:
    """The files present for ``run_date``, by table; :class:`NoInputError` when there is none
    (a date with no drop at all is a mistake; one missing table is allowed)."""
    tables = list(tables)
    for t in tables:
        _check_table(t)
    if not Path(source_dir).is_dir():
        raise NoInputError(f"{source_dir}: no such folder; check --source-dir")
    paths = {t: expected_path(source_dir, t, run_date) for t in tables}
    present = {t: p for t, p in paths.items() if p.is_file()}
    if not present:
        raise NoInputError(
            f"no input files for {run_date.isoformat()}: expected "
            f"{', '.join(str(p) for p in paths.values())}; "
            f"{_nearest_dates(Path(source_dir), tables, run_date)}"
        )
    return present


def _nearest_dates(source_dir: Path, tables: list[str], wanted: date, n: int = 3) -> str:
    """The file dates that do exist, nearest ``wanted`` first, for the message."""
    found = set()
    for table in tables:
        for path in (Path(source_dir) / table).glob("*.csv"):
            try:
                found.add(file_date_from_path(path))
            except IngestError:
                continue
    if not found:
        return f"{source_dir} holds no <table>/<YYYY-MM-DD>.csv file; check --source-dir"
    nearest = sorted(sorted(found, key=lambda d: (abs((d - wanted).days), d))[:n])
    return (
        f"dates with files: {', '.join(d.isoformat() for d in nearest)} (nearest of "
        f"{len(found)}, {min(found)} to {max(found)}); check the date and --source-dir"
    )


def ingest_date(
    settings: Settings,
    run_date: date,
    source_dir: Path,
    tables: Iterable[str] = TABLES,
) -> list[LoadResult]:
    """Load every table's file for ``run_date`` from ``source_dir``.

    A table whose file is missing is skipped with a warning (its previous slice, if any,
    is left as it was); the returned results cover the files that were present, so
    ``{r.table for r in results}`` tells the caller which were skipped. If no file exists
    at all for the date, :class:`IngestError` names the expected paths. Each file is its
    own transaction: when a later file is refused, earlier ones stay loaded and a re-run
    of the date replaces them (the load is idempotent).
    """
    tables = list(tables)
    present = drops_for(source_dir, run_date, tables)
    for t in tables:
        if t not in present:
            path = expected_path(source_dir, t, run_date)
            log.warning("%s: missing, skipping table %s for %s", path, t, run_date.isoformat())
    warehouse = get_warehouse(settings)
    try:
        warehouse.ensure_raw_tables()
        return [load_into(warehouse, t, p, run_date) for t, p in present.items()]
    finally:
        warehouse.close()
