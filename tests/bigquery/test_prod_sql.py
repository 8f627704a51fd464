"""Every model compiled for the ``prod`` target parses as BigQuery SQL; no credentials needed.

``dbt compile --target prod --no-populate-cache`` runs with no BigQuery variable and no
credentials at all: dbt does not list datasets up front, the incremental models render
their full build outside run and build, and with no project configured ``dbt/profiles.yml``
opens dbt-bigquery's client with a placeholder token that is never sent. Any request that
did leave would hit a dead proxy and fail the compile at once.
The nightly incremental SQL is checked where it runs: tests/googlesql replays every
statement the emulator runs received through BigQuery's own SQL front end.

sqlglot parses functions it does not know as "anonymous" ones: a DuckDB-only function
(``timezone()``, ``strftime()``, ``list_*``...) would show up there, so none may remain;
nor may DuckDB's ``::`` cast, which sqlglot's BigQuery reader tolerates.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("dbt.adapters.bigquery", reason="needs the bigquery extra (dbt-bigquery)")
sqlglot = pytest.importorskip("sqlglot", reason="needs sqlglot (dev extra)")

from prod_compile import DEAD_PROXY, compile_prod  # noqa: E402
from sqlglot import exp  # noqa: E402
from sqlglot.tokens import TokenType  # noqa: E402

from config.settings import DBT_PROJECT_DIR  # noqa: E402


def test_every_prod_model_parses_as_bigquery_sql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled = compile_prod(tmp_path, monkeypatch)
    sources = sorted((DBT_PROJECT_DIR / "models").rglob("*.sql"))
    models = [compiled / p.relative_to(DBT_PROJECT_DIR / "models") for p in sources]
    missing = [str(p) for p in models if not p.is_file()]
    assert sources and not missing, f"models not compiled: {missing}"
    problems = []
    for path in models:
        sql = path.read_text(encoding="utf-8")
        assert "`no-project-configured`." in sql, f"{path.name}: not compiled for the prod project"
        try:
            statements = [s for s in sqlglot.parse(sql, read="bigquery") if s is not None]
        except sqlglot.errors.ParseError as exc:
            problems.append(f"{path.name}: does not parse as BigQuery SQL: {exc}")
            continue
        if not statements:
            problems.append(f"{path.name}: no statement")
        if any(t.token_type == TokenType.DCOLON for t in sqlglot.tokenize(sql, read="bigquery")):
            problems.append(f"{path.name}: uses the '::' cast, which BigQuery does not have")
        for statement in statements:
            for func in statement.find_all(exp.Anonymous):
                problems.append(f"{path.name}: function {func.name}() is unknown to BigQuery")
    assert not problems, "\n".join(problems)


def test_plain_prod_compile_without_a_project_stops_at_once_naming_the_fix(
    tmp_path: Path,
) -> None:
    """Typed plainly, ``dbt compile --target prod`` would list the datasets up front and wait
    minutes on the client's retries; with no project it stops before any request instead."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BIGQUERY_", "GOOGLE_"))}
    env |= {"HTTPS_PROXY": DEAD_PROXY, "HTTP_PROXY": DEAD_PROXY, "HOME": str(tmp_path)}
    env |= {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_TARGET_PATH": str(tmp_path / "t")}
    env["DBT_LOG_PATH"] = str(tmp_path)
    dbt = Path(sys.executable).with_name("dbt")
    done = subprocess.run(
        [str(dbt), "compile", "--target", "prod"],
        cwd=DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "BIGQUERY_PROJECT (or add --no-populate-cache to compile offline)" in output, output
    assert "Traceback" not in output and "Concurrency" not in output, output
