"""Every model compiled for ``--target prod`` analyzes as GoogleSQL.

The models are compiled offline (no credentials) and analyzed in build order by ZetaSQL,
BigQuery's own SQL front end, against the raw tables as the loader declares them
(``ingest/schemas.py``); each model then joins the catalog with the columns ZetaSQL derived
for it, so every later model is checked against the real upstream types. This is the check
that catches SQL which the emulator and sqlglot both accept and BigQuery refuses. The
offline compile renders each model's full build; the nightly incremental SQL is analyzed
as the emulator runs sent it (test_statements.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("dbt.adapters.bigquery", reason="needs the bigquery extra (dbt-bigquery)")

from tests.bigquery.prod_compile import compile_prod, compiled_models
from tests.googlesql.analyzer import Analyzer, GoogleSQLError, raw_catalog

PROJECT = "no-project-configured"


def analyze_models(
    analyzer: Analyzer, models: list[dict], replace: dict | None = None, catalog: Any = None
) -> dict:
    """Model name -> ZetaSQL's message (or ``None`` when it analyzed clean)."""
    catalog = catalog or raw_catalog(analyzer, PROJECT)
    results = {}
    for model in models:
        sql = (replace or {}).get(model["name"], model["sql"])
        kind = "view" if model["materialized"] == "view" else "table"
        try:
            analyzer.analyze_script(
                f"create or replace {kind} {model['relation']} as (\n{sql}\n)", catalog, PROJECT
            )
            results[model["name"]] = None
        except GoogleSQLError as exc:
            results[model["name"]] = exc.message
    return results


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    monkeypatch = pytest.MonkeyPatch()
    try:
        return compiled_models(compile_prod(tmp_path_factory.mktemp("prod"), monkeypatch))
    finally:
        monkeypatch.undo()


def test_every_prod_model_analyzes_as_googlesql(analyzer: Analyzer, models: list[dict]) -> None:
    sources = sorted(p.stem for p in (Path(__file__).parents[2] / "dbt" / "models").rglob("*.sql"))
    assert sorted(m["name"] for m in models) == sources
    results = analyze_models(analyzer, models)
    problems = [f"{name}: {message}" for name, message in results.items() if message]
    assert not problems, "ZetaSQL rejects these prod models:\n" + "\n".join(problems)


def test_a_column_named_like_its_cte_is_caught(analyzer: Analyzer, models: list[dict]) -> None:
    """The first version of mart_users: its CTE ``device_views`` had a column
    ``device_views``, and ``order by device_views`` ordered by the whole row (in GoogleSQL the
    range variable shadows the column). The emulator and sqlglot read it as the column."""
    (mart,) = [m for m in models if m["name"] == "mart_users"]
    assert "views_on_device" in mart["sql"]
    first_version = mart["sql"].replace("views_on_device", "device_views")
    results = analyze_models(analyzer, models, {"mart_users": first_version})
    assert results["mart_users"] is not None
    assert "Ordering by expressions of type STRUCT is not allowed" in results["mart_users"]
