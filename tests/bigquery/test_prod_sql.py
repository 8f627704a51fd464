"""Every model compiled for the ``prod`` target parses as BigQuery SQL; no credentials needed.

``dbt compile --target prod --no-populate-cache`` opens no connection to BigQuery: the
replace_keys models render placeholder plans outside run/build, and without the cache
nothing lists datasets. dbt-bigquery still builds credentials, so a dummy token is given
(``oauth-secrets``); it is never sent. Both SQL shapes are checked: the full build and,
with ``replace_keys_compile_as: incremental``, the nightly incremental one.

sqlglot parses functions it does not know as "anonymous" ones: a DuckDB-only function
(``timezone()``, ``strftime()``, ``list_*``...) would show up there, so none may remain;
nor may DuckDB's ``::`` cast, which sqlglot's BigQuery reader tolerates.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("dbt.adapters.bigquery", reason="needs the bigquery extra (dbt-bigquery)")
sqlglot = pytest.importorskip("sqlglot", reason="needs sqlglot (dev extra)")

from sqlglot import exp  # noqa: E402
from sqlglot.tokens import TokenType  # noqa: E402

from ingest.settings import DBT_PROJECT_DIR  # noqa: E402

#: A compile that could reach Google would fail here: no credentials, a fake project.
OFFLINE_ENV = {
    "BIGQUERY_AUTH_METHOD": "oauth-secrets",
    "BIGQUERY_TOKEN": "never-sent",
    "BIGQUERY_PROJECT": "offline-sql-check",
    "BIGQUERY_LOCATION": "EU",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
}


def compile_prod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compile_as: str) -> Path:
    from dbt.cli.main import dbtRunner

    unset = ("BIGQUERY_API_ENDPOINT", "BIGQUERY_DATASET_PREFIX", "GOOGLE_APPLICATION_CREDENTIALS")
    for name in unset:
        monkeypatch.delenv(name, raising=False)
    for name, value in OFFLINE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no gcloud credentials either
    target = tmp_path / "target"
    result = dbtRunner().invoke(
        [
            "compile",
            "--target",
            "prod",
            "--no-populate-cache",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(target),
            "--log-path",
            str(tmp_path / "logs"),
            "--vars",
            f"{{replace_keys_compile_as: {compile_as}}}",
        ]
    )
    assert result.success, f"dbt compile --target prod failed: {result.exception}"
    return target / "compiled" / "nightjar" / "models"


@pytest.mark.parametrize("compile_as", ["full", "incremental"])
def test_every_prod_model_parses_as_bigquery_sql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compile_as: str
) -> None:
    compiled = compile_prod(tmp_path, monkeypatch, compile_as)
    sources = sorted((DBT_PROJECT_DIR / "models").rglob("*.sql"))
    models = [compiled / p.relative_to(DBT_PROJECT_DIR / "models") for p in sources]
    missing = [str(p) for p in models if not p.is_file()]
    assert sources and not missing, f"models not compiled: {missing}"
    problems = []
    for path in models:
        sql = path.read_text(encoding="utf-8")
        assert "`offline-sql-check`." in sql, f"{path.name}: not compiled for the prod project"
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


def test_incremental_shape_differs_from_the_full_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The incremental compile really renders the incremental SQL (what the check is for)."""
    full = compile_prod(tmp_path / "full", monkeypatch, "full")
    incremental = compile_prod(tmp_path / "incr", monkeypatch, "incremental")
    mart = Path("marts") / "mart_content_performance.sql"
    assert (full / mart).read_text(encoding="utf-8") != (incremental / mart).read_text(
        encoding="utf-8"
    )
