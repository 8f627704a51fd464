"""Shared fixtures.

Flow tests share ONE temporary Prefect API server per pytest run: request the
``prefect_harness`` fixture (not autouse, so plain unit tests start no server).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A temporary Prefect API server (SQLite in a temp dir) for every flow run in the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(scope="session")
def analyzer() -> Iterator[Any]:
    """ZetaSQL, BigQuery's SQL front end (``tests/googlesql/analyzer.py``), on the local server
    that ``nox -s bigquery`` starts; skips, saying why, without it."""
    from tests.googlesql.analyzer import connect

    if not (os.environ.get("ZETASQL_ENDPOINT") and os.environ.get("ZETASQL_STUBS")):
        pytest.skip(
            "no ZetaSQL server: ZETASQL_ENDPOINT/ZETASQL_STUBS are unset (`nox -s bigquery` "
            "installs and starts it)"
        )
    client = connect()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def duckdb_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh DuckDB file for this test, selected through ``DUCKDB_PATH``."""
    path = tmp_path / "warehouse" / "nightjar.duckdb"
    path.parent.mkdir(parents=True)
    monkeypatch.setenv("DUCKDB_PATH", str(path))
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return path


@pytest.fixture
def empty_raw(duckdb_path: Path) -> Path:
    """``duckdb_path`` with the raw tables created and holding nothing."""
    from config.settings import Settings
    from ingest.load import get_warehouse

    warehouse = get_warehouse(Settings.from_env(duckdb_path=duckdb_path))
    try:
        warehouse.ensure_raw_tables()
    finally:
        warehouse.close()
    return duckdb_path


#: The small generated drop set: two days from this date.
SMALL_DROPS_START = date(2026, 3, 1)
SMALL_DROPS_DAYS = 2


@pytest.fixture(scope="session")
def small_drops(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two days of generated drops (bad rows, late and re-sent events), shared read-only.

    Copy it before changing a file.
    """
    from tools.generate import GeneratorConfig, generate

    out = tmp_path_factory.mktemp("drops")
    generate(
        out,
        GeneratorConfig(
            start_date=SMALL_DROPS_START,
            days=SMALL_DROPS_DAYS,
            views_per_day=80,
            interactions_per_day=30,
            seed=11,
        ),
    )
    return out
