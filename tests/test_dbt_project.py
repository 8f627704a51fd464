"""The dbt project itself: the staging models carry every declared raw column, and every
model compiles for the BigQuery ``prod`` target without credentials (outside run and build
the incremental models render their full build), as SQL that parses as BigQuery."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb
import pytest

from ingest.schemas import LINEAGE_COLUMNS, TABLES
from tests.dbt_helpers import run_dbt

pytestmark = pytest.mark.integration

STAGING = {
    "viewing_logs": "stg_content__viewing_logs",
    "social_interactions": "stg_content__social_interactions",
}


def test_staging_columns_follow_the_raw_declaration(tmp_path: Path, empty_raw: Path) -> None:
    """Every input and lineage column declared in ingest/schemas.py reaches staging."""
    run_dbt(["run", "--select", "staging"], tmp_path / "target")
    con = duckdb.connect(str(empty_raw))
    try:
        for table, model in STAGING.items():
            columns = {
                r[0]
                for r in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = 'staging' and table_name = ?",
                    [model],
                ).fetchall()
            }
            declared = set(TABLES[table].column_names) | {c.name for c in LINEAGE_COLUMNS}
            assert declared <= columns, f"{model} lacks {sorted(declared - columns)}"
            assert "activity_date" in columns
    finally:
        con.close()


@pytest.mark.skipif(
    importlib.util.find_spec("dbt.adapters.bigquery") is None
    or importlib.util.find_spec("sqlglot") is None,
    reason="dbt-bigquery and sqlglot are needed to compile and check the prod target",
)
def test_prod_target_compiles_to_bigquery_sql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlglot

    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "BIGQUERY_API_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    # A dummy token: nothing is sent anywhere, compilation needs no warehouse access.
    monkeypatch.setenv("BIGQUERY_AUTH_METHOD", "oauth-secrets")
    monkeypatch.setenv("BIGQUERY_TOKEN", "offline")
    monkeypatch.setenv("BIGQUERY_PROJECT", "nightjar-offline")
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    target = tmp_path / "target"
    run_dbt(
        [
            "compile",
            "--no-populate-cache",
            "--select",
            "resource_type:model",
        ],
        target,
        target="prod",
    )
    compiled = sorted((target / "compiled").rglob("*.sql"))
    names = {p.stem for p in compiled}
    assert {"mart_users", "mart_content_performance", "int_content__view_versions"} <= names
    for path in compiled:
        sql = path.read_text()
        sqlglot.parse(sql, read="bigquery")
        if path.stem.startswith("mart_"):
            # datasets named by generate_schema_name, the same as on DuckDB
            assert "`nightjar-offline`.`intermediate`.`int_content__" in sql
