"""The project's command line: ``nightjar run|ingest|dashboard …`` (``[project.scripts]``).

``nightjar run`` (also ``python -m flows.cli run``) is the nightly pipeline. It is fast
on a mistake: the arguments, the target, the source folder, the dates and every file's header
are checked before Prefect is even imported (``--help`` needs none of it either).
``nightjar ingest`` is ``python -m ingest`` and ``nightjar dashboard`` is ``python -m dashboard``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from config.settings import TARGETS, Settings
from flows.preflight import DEFAULT_SOURCE_DIR, check_headers, default_run_date, run_dates


def _iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="nightjar run",
        description="Run the nightly pipeline: ingest the CSV drops for a date (or a range), "
        "then one dbt build (models and tests), then print a summary.",
    )
    parser.add_argument(
        "--run-date",
        type=_iso_date,
        default=None,
        help="file date to load, YYYY-MM-DD (default: yesterday in UTC, "
        f"which is {default_run_date()} now)",
    )
    parser.add_argument(
        "--end-date",
        type=_iso_date,
        default=None,
        help="backfill: load every date from --run-date to this date, in order "
        "(default: only --run-date)",
    )
    parser.add_argument(
        "--target",
        choices=sorted(TARGETS),
        default=None,
        help="warehouse and dbt target (default: $NIGHTJAR_TARGET, else dev)",
    )
    parser.add_argument(
        "--source-dir",
        default=DEFAULT_SOURCE_DIR,
        help="folder, or gs://bucket/prefix, holding <table>/<YYYY-MM-DD>.csv "
        f"(default: {DEFAULT_SOURCE_DIR})",
    )
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild incremental models from all of raw (default: incremental)",
    )
    parser.add_argument(
        "--wait",
        action="store_true",
        help="if another run holds the warehouse, wait for it instead of failing at once",
    )
    parser.add_argument(
        "--dashboard",
        action="store_true",
        help="render the local dashboard from the marts at the end (default: off)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit status."""
    args = parse_args(argv)
    try:
        settings = Settings.from_env(target=args.target)
        dates = run_dates(args.run_date, args.end_date)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from flows.dbt_build import DbtBuildError
    from flows.run_lock import RunLockedError, run_lock
    from ingest import HeaderError, IngestError, NoInputError
    from ingest.sources import is_gcs

    try:
        # Before Prefect starts, so a mistake is told at once: a missing folder, a date without
        # files (with the nearest dates that have some), a refused header. The flow checks
        # again (deployments do not come through here).
        if not is_gcs(args.source_dir):
            check_headers(args.source_dir, dates)
        from flows import daily_pipeline as pipeline  # imports Prefect: only after the checks

        # Taken before Prefect starts too, so a second run fails at once; the flow re-enters it.
        with run_lock(settings.run_lock_path, wait=args.wait), pipeline.patient_ephemeral_api():
            if not os.environ.get("PREFECT_API_URL"):
                print(
                    "Starting a temporary Prefect API for this run (about 20 s, up to 100 s on a "
                    "busy machine; set PREFECT_API_URL to use a running server) ...",
                    file=sys.stderr,
                    flush=True,
                )
            summary = pipeline.daily_pipeline(
                run_date=dates[0],
                target=settings.target,
                source_dir=args.source_dir,
                end_date=args.end_date,
                full_refresh=args.full_refresh,
                dashboard=args.dashboard,
                wait=args.wait,
            )
    except RunLockedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except DbtBuildError as exc:
        print(f"\nPIPELINE FAILED in dbt {exc.result.command}.\n{exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        step = "ingest" if isinstance(exc, IngestError) else "the pipeline"
        print(f"\nPIPELINE FAILED in {step}.\n{type(exc).__name__}: {exc}", file=sys.stderr)
        if isinstance(exc, HeaderError | NoInputError):
            print(
                "Nothing was loaded: every date's files and headers are checked before any "
                "file is loaded. Fix the cause above and re-run the same command.",
                file=sys.stderr,
            )
        elif step == "ingest":
            print(
                "Files loaded before this one are kept (each file load is atomic); fix the file "
                "named above and re-run the same command.",
                file=sys.stderr,
            )
        return 1
    loaded = sum(load.rows_loaded for load in summary.loads)
    rejected = sum(load.rows_rejected for load in summary.loads)
    print(
        f"\nPipeline succeeded on {summary.target}: {len(summary.loads)} files, "
        f"{loaded} rows loaded, {rejected} rejected; warehouse: {summary.warehouse}"
    )
    print(how_to_query(settings))
    return 0


def how_to_query(settings: Settings) -> str:
    """Where the published marts are, and a command that reads them."""
    if settings.warehouse_kind == "bigquery":
        project = settings.bigquery_project or "<project>"
        return f"Published marts: BigQuery dataset {project}.{settings.analytics_dataset}"
    here = Path.cwd()
    published, python = settings.analytics_path, Path(sys.executable)
    published = published.relative_to(here) if published.is_relative_to(here) else published
    python = python.relative_to(here) if python.is_relative_to(here) else python
    query = "select * from analytics.mart_content_performance order by 1, 2 limit 10"
    return "\n".join(
        [
            f"Published marts (the file readers open; a reader never blocks a run): {published}",
            f"  {python} -c \"import duckdb; duckdb.connect('{published}', read_only=True)"
            f".sql('{query}').show()\"",
            f'  duckdb -readonly {published} "select * from analytics.mart_users limit 10"',
        ]
    )


COMMANDS = {
    "run": "the nightly pipeline: ingest, dbt build, publish, summary",
    "ingest": "load one file, or every table's file for a date, into raw",
    "dashboard": "render the published marts as one HTML file",
}


def nightjar(argv: Sequence[str] | None = None) -> int:
    """``nightjar <command> …``: each command's own arguments follow it."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        listing = "\n".join(f"  {name:<10} {what}" for name, what in COMMANDS.items())
        print(f"usage: nightjar <command> [--help] ...\n\ncommands:\n{listing}", file=sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    command, rest = argv[0], argv[1:]
    if command == "ingest":
        from ingest.__main__ import main as ingest_main

        return ingest_main(rest)
    if command == "dashboard":
        from dashboard.__main__ import main as dashboard_main

        return dashboard_main(rest)
    return main(rest)


if __name__ == "__main__":
    sys.exit(nightjar())
