"""Nox sessions: lint, tests, the local end-to-end run and the benchmarks.

``nox`` with no arguments runs the default set, which is what CI runs.
Every session installs what it needs, pinned by ``constraints.txt``.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
CONSTRAINTS = ROOT / "constraints.txt"

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
# A session that cannot find its interpreter fails instead of being skipped silently.
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["lint", "tests", "e2e"]

#: Sessions run on the interpreter that runs nox (any Python 3.11+), so a machine with a
#: single Python needs nothing else.
PYTHON = None
BASE_ENV = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "PYTHONUTF8": "1"}
SAMPLE_DATA = ROOT / "sample_data"


def install(session: nox.Session, *extras: str) -> None:
    """Install the project (editable) with ``extras``, pinned by the constraints file."""
    spec = f".[{','.join(extras)}]" if extras else "."
    session.install("-e", spec, "-c", str(CONSTRAINTS))


def session_env(session: nox.Session, **extra: str) -> dict[str, str]:
    """Environment shared by the sessions.

    Prefect keeps its state (the temporary API server's database) in the session's tmp dir,
    so concurrent sessions never share it; ``DUCKDB_PATH`` passes through unless overridden.
    """
    env = dict(BASE_ENV)
    env.setdefault("DUCKDB_PATH", os.environ.get("DUCKDB_PATH", ""))
    env["PREFECT_HOME"] = str(Path(session.create_tmp()) / "prefect")
    env["PREFECT_SERVER_ALLOW_EPHEMERAL_MODE"] = "true"
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
    env.update(extra)
    return {k: v for k, v in env.items() if v}


def sample_dates(source_dir: Path = SAMPLE_DATA) -> list[str]:
    """Every file date present under ``source_dir/<table>/``, sorted."""
    dates = {p.stem for p in source_dir.glob("*/*.csv")}
    if not dates:
        raise RuntimeError(f"no <table>/<YYYY-MM-DD>.csv files under {source_dir}")
    return sorted(dates)


def fresh_warehouse(session: nox.Session, name: str) -> str:
    """Path of a new, empty DuckDB file inside the session's tmp dir."""
    path = Path(session.create_tmp()) / name
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)
    return str(path)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Lint: ruff check, ruff format --check, and sqlfluff (dbt templater, DuckDB target)."""
    install(session, "dev")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    env = session_env(session, DUCKDB_PATH=fresh_warehouse(session, "lint.duckdb"))
    with session.chdir(ROOT / "dbt"):
        if Path("packages.yml").exists():
            session.run("dbt", "deps", "--quiet", env=env)
        session.run("sqlfluff", "lint", "models", env=env)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit tests and DuckDB/dbt/Prefect integration tests (pytest; fails if none ran)."""
    install(session, "dev", "dashboard")
    env = session_env(session, DUCKDB_PATH=fresh_warehouse(session, "tests.duckdb"))
    session.run("pytest", "--ignore=tests/e2e", *session.posargs, env=env)


@nox.session(python=PYTHON)
def e2e(session: nox.Session) -> None:
    """End to end: the flow on a fresh DuckDB over every sample day in date order, a
    corrected re-delivery, then the marts checked against an independent computation."""
    install(session, "dev")
    env = session_env(session, DUCKDB_PATH=fresh_warehouse(session, "e2e.duckdb"))
    session.run("pytest", "tests/e2e", *session.posargs, env=env)


@nox.session(python=PYTHON)
def pipeline(session: nox.Session) -> None:
    """The main job: run the flow locally over all the sample data (a backfill of every
    sample day), then print where the warehouse is and how to query it.

    Extra arguments go to the flow's command line, e.g. ``nox -s pipeline -- --full-refresh``.
    """
    install(session)
    dates = sample_dates()
    env = session_env(session)
    session.run(
        "python",
        "-m",
        "flows.daily_pipeline",
        "--run-date",
        dates[0],
        "--end-date",
        dates[-1],
        "--source-dir",
        str(SAMPLE_DATA.relative_to(ROOT)),
        *session.posargs,
        env=env,
    )
    warehouse = env.get("DUCKDB_PATH") or str(Path("warehouse") / "nightjar.duckdb")
    python = Path(session.bin, "python")
    if python.is_relative_to(ROOT):
        python = python.relative_to(ROOT)
    query = "select * from analytics.mart_content_performance order by 1, 2 limit 10"
    session.log(
        "\n".join(
            [
                f"Warehouse (DuckDB file): {warehouse}",
                "Query it from Python (read-only, so it never blocks a run):",
                f'  {python} -c "import duckdb; '
                f"duckdb.connect('{warehouse}', read_only=True).sql('{query}').show()\"",
                "or with the DuckDB CLI, if installed:",
                f'  duckdb -readonly {warehouse} "select * from analytics.mart_users limit 10"',
            ]
        )
    )


@nox.session(python=PYTHON)
def dashboard(session: nox.Session) -> None:
    """The local dashboard: the marts of a target rendered as one self-contained HTML file
    that opens offline (default ``reports/dashboard.html``; the path is printed at the end).

    Works on its own: on a DuckDB target (dev/ci) whose warehouse has no marts yet, it first
    runs the flow over all the sample data, like ``pipeline``. Arguments go to
    ``python -m dashboard``, e.g. ``nox -s dashboard -- --out my.html`` or
    ``nox -s dashboard -- --target prod`` (BigQuery: needs BIGQUERY_PROJECT and credentials).
    """
    args = list(session.posargs)
    target = os.environ.get("NIGHTJAR_TARGET") or "dev"
    for i, arg in enumerate(args):
        if arg.startswith("--target="):
            target = arg.split("=", 1)[1]
        elif arg == "--target" and i + 1 < len(args):
            target = args[i + 1]
    prod = target == "prod"
    install(session, "dashboard", *(["bigquery"] if prod else []))
    env = session_env(session)
    status = session.run(
        "python", "-m", "dashboard", "--check", *args, env=env, silent=True, success_codes=[0, 3]
    )
    if "marts present" not in str(status):
        if prod:
            session.error(f"no marts on BigQuery; run the flow with --target prod first:\n{status}")
        session.log("No marts in the warehouse yet: running the flow over the sample data first.")
        dates = sample_dates()
        session.run(
            "python",
            "-m",
            "flows.daily_pipeline",
            "--run-date",
            dates[0],
            "--end-date",
            dates[-1],
            "--source-dir",
            str(SAMPLE_DATA.relative_to(ROOT)),
            "--target",
            target,
            env=env,
        )
    session.run("python", "-m", "dashboard", *args, env=env)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: our ingest vs a bare DuckDB read_csv on a generated 5M-row file, and the
    full flow vs ingest plus a bare dbt build on the sample data. Writes bench/results/.

    Arguments go to the benchmark, e.g. ``nox -s bench -- --rows 200000 --rounds 1``.
    """
    install(session)
    env = session_env(session, DUCKDB_PATH=fresh_warehouse(session, "bench.duckdb"))
    session.run("python", "-m", "bench.run", *session.posargs, env=env)
