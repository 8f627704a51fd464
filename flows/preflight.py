"""What a run checks before it loads anything: its dates, and every file's header.

Plain functions with no Prefect: the command line runs them before Prefect is imported,
and the flow runs them again (deployments do not come through the command line).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

DEFAULT_SOURCE_DIR = "sample_data"


def default_run_date(today: date | None = None) -> date:
    """Yesterday, in UTC: the day the nightly drop covers."""
    return (today or datetime.now(UTC).date()) - timedelta(days=1)


def run_dates(run_date: date | None, end_date: date | None = None) -> list[date]:
    """The dates to load, in order: ``run_date`` alone, or ``run_date`` to ``end_date``."""
    start = run_date or default_run_date()
    if end_date is None:
        return [start]
    if end_date < start:
        raise ValueError(
            f"end date {end_date} is before run date {start}; "
            "a backfill runs from --run-date up to and including --end-date"
        )
    return [start + timedelta(days=i) for i in range((end_date - start).days + 1)]


def check_headers(source_dir: str | Path, dates: Sequence[date]) -> int:
    """Refuse the run before loading anything if a date has no file at all, or a file
    lacks a required column.

    Every file of every date is checked up front (headers only, cheap), so a bad file in a
    backfill or in the second table of a day leaves the warehouse exactly as it was.
    Returns the number of files checked. Raises :class:`ingest.NoInputError` for a date
    without files, :class:`ingest.HeaderError` (of which :class:`ingest.MissingColumnError`
    is one kind) for a refused header.
    """
    from ingest import check_header, drops_for
    from ingest.schemas import TABLES

    checked = 0
    for day in dates:
        for table, path in drops_for(Path(source_dir), day).items():
            check_header(TABLES[table], path)
            checked += 1
    return checked
