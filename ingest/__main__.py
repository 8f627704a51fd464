"""Command line: load one file, or every table's file for a date.

python -m ingest --date 2026-11-16 --source-dir sample_data
python -m ingest --file sample_data/viewing_logs/2026-11-16.csv --table viewing_logs
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date
from pathlib import Path

from config.settings import DEFAULT_DUCKDB_PATH, TARGETS, Settings
from ingest.errors import IngestError
from ingest.load import ingest_date, ingest_file
from ingest.schemas import TABLES


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m ingest",
        description="Load daily CSV drops into the raw tables. For each file it prints the "
        "audit line: rows in file = rows loaded + rows rejected. Rejected rows are kept in "
        "raw.<table>_rejected with their line number, reason and text.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    what = p.add_mutually_exclusive_group(required=True)
    day = date.fromisoformat
    what.add_argument("--date", type=day, help="load <source-dir>/<table>/<DATE>.csv per table")
    what.add_argument("--file", type=Path, help="load this one file (needs --table)")
    p.add_argument("--source-dir", type=Path, default=Path("sample_data"), help="with --date")
    p.add_argument("--table", choices=sorted(TABLES), help="table of --file; with --date, only it")
    p.add_argument("--file-date", type=day, help="with --file (default: from its name)")
    p.add_argument("--target", choices=sorted(TARGETS), help="default: $NIGHTJAR_TARGET or dev")
    p.add_argument(
        "--duckdb-path", type=Path, help=f"default: $DUCKDB_PATH or {DEFAULT_DUCKDB_PATH}"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="only print the audit lines")
    args = p.parse_args(argv)
    if args.file and not args.table:
        p.error("--file needs --table")
    level = logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    duckdb_path = args.duckdb_path and args.duckdb_path.resolve()
    try:
        settings = Settings.from_env(target=args.target, duckdb_path=duckdb_path)
        if args.file:
            results = [ingest_file(settings, args.table, args.file, args.file_date)]
        else:
            tables = [args.table] if args.table else list(TABLES)
            results = ingest_date(settings, args.date, args.source_dir, tables)
    except (IngestError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for r in results:
        print(r.audit_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
