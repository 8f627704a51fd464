"""Shared fixtures.

Flow tests share ONE temporary Prefect API server per pytest run: request the
``prefect_harness`` fixture (not autouse, so plain unit tests start no server).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A temporary Prefect API server (SQLite in a temp dir) for every flow run in the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture
def duckdb_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh DuckDB file for this test, selected through ``DUCKDB_PATH``."""
    path = tmp_path / "warehouse" / "nightjar.duckdb"
    path.parent.mkdir(parents=True)
    monkeypatch.setenv("DUCKDB_PATH", str(path))
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return path
