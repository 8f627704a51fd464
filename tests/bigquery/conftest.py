"""Where the BigQuery tests run: the local emulator, or (opt-in) a live BigQuery project.

- ``BIGQUERY_API_ENDPOINT`` set (``nox -s bigquery`` starts the emulator and sets it): each
  test gets a project of its own on the emulator, so tests never see each other's tables.
- ``NIGHTJAR_BIGQUERY_LIVE=1`` with ``BIGQUERY_PROJECT`` and credentials (``nox -s
  bigquery-live``): each test gets throwaway datasets named with a random prefix, deleted
  at the end of the test.
- Neither: the tests that need BigQuery skip, saying why.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings

NO_BIGQUERY = (
    "no BigQuery to run against: BIGQUERY_API_ENDPOINT is unset (`nox -s bigquery` starts the "
    "local emulator and sets it) and this is not a live run (`nox -s bigquery-live`)"
)


def _live() -> bool:
    return os.environ.get("NIGHTJAR_BIGQUERY_LIVE") == "1"


@pytest.fixture
def bigquery_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings for target prod in an isolated namespace; the environment follows them, so
    the flow and dbt (which read it) land in the same place."""
    base = Settings.from_env(target="prod")
    tag = uuid.uuid4().hex[:8]
    if base.bigquery_api_endpoint:
        monkeypatch.setenv("BIGQUERY_PROJECT", f"nj-test-{tag}")
        monkeypatch.delenv("BIGQUERY_DATASET_PREFIX", raising=False)
    elif _live() and base.bigquery_project:
        monkeypatch.setenv("BIGQUERY_DATASET_PREFIX", f"nightjar_test_{tag}_")
    else:
        pytest.skip(NO_BIGQUERY)
    monkeypatch.setenv("NIGHTJAR_TARGET", "prod")
    settings = Settings.from_env(target="prod")
    try:
        yield settings
    finally:
        if settings.bigquery_dataset_prefix:
            _drop_datasets(settings)


def _drop_datasets(settings: Settings) -> None:
    from config.bigquery import bigquery_client

    client = bigquery_client(settings)
    try:
        for dataset in client.list_datasets():
            if dataset.dataset_id.startswith(settings.bigquery_dataset_prefix):
                client.delete_dataset(dataset.reference, delete_contents=True, not_found_ok=True)
    finally:
        client.close()


@pytest.fixture
def bigquery(bigquery_settings: Settings) -> Iterator[Any]:
    """A BigQuery client for the test's namespace."""
    from config.bigquery import bigquery_client

    client = bigquery_client(bigquery_settings)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def duckdb_settings(tmp_path: Path) -> Settings:
    """A fresh local DuckDB warehouse to run the same days on, for comparison."""
    return Settings(target="ci", duckdb_path=tmp_path / "duckdb" / "nightjar.duckdb")


@pytest.fixture(scope="session", autouse=True)
def statement_log() -> Iterator[None]:
    """With ``NIGHTJAR_STATEMENT_LOG`` set (``nox -s bigquery`` sets it), record every
    statement sent to BigQuery for the ZetaSQL check (``tests/bigquery/statement_log.py``)."""
    path = os.environ.get("NIGHTJAR_STATEMENT_LOG")
    if not path:
        yield
        return
    from statement_log import StatementLog

    log = StatementLog(Path(path))
    log.install()
    try:
        yield
    finally:
        log.uninstall()
