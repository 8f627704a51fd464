"""Command line: ``python -m dashboard --target dev --out reports/dashboard.html``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from config.settings import TARGETS, Settings
from dashboard import DEFAULT_OUT, DashboardError, MissingMartsError, build_dashboard

#: Exit status when the marts do not exist yet (distinct from other failures).
EXIT_NO_MARTS = 3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m dashboard",
        description=(
            "Render the marts of a target as one self-contained HTML dashboard "
            "(pages 'Content performance' and 'Audience') that opens offline."
        ),
    )
    parser.add_argument(
        "--target",
        choices=sorted(TARGETS),
        default=None,
        help="warehouse to read: dev/ci = DuckDB (DUCKDB_PATH), prod = BigQuery "
        "(BIGQUERY_PROJECT, dataset analytics); default: NIGHTJAR_TARGET or dev",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="HTML file to write, relative to the working directory (default: %(default)s)",
    )
    parser.add_argument(
        "--duckdb-path",
        type=Path,
        default=None,
        help="DuckDB warehouse for dev/ci; default: DUCKDB_PATH or warehouse/nightjar.duckdb",
    )
    parser.add_argument(
        "--top",
        type=int,
        default=10,
        help="how many contents the engagement chart ranks (default: %(default)s)",
    )
    parser.add_argument(
        "--min-views",
        type=int,
        default=1,
        help="rank only contents with at least this many views (default: %(default)s)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"only check that the marts exist: exit 0 if they do, {EXIT_NO_MARTS} if not",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    duckdb_path = args.duckdb_path.resolve() if args.duckdb_path else None
    try:
        settings = Settings.from_env(target=args.target, duckdb_path=duckdb_path)
        if args.check:
            from dashboard.readers import open_reader

            open_reader(settings).close()
            print(f"marts present for target {settings.target}")
            return 0
        out = build_dashboard(settings, args.out, top_n=args.top, min_views=args.min_views)
    except MissingMartsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NO_MARTS
    except (DashboardError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
