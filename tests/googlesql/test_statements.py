"""Every statement the pipeline sent to BigQuery during the BigQuery tests analyzes clean.

``nox -s bigquery`` first runs ``tests/bigquery`` against the emulator while
``tests/bigquery/statement_log.py`` records each request (``NIGHTJAR_STATEMENT_LOG``): the
models' full and incremental builds as dbt ran them (DDL, MERGE, scripts, its own queries),
dbt's data tests, the ingest's slice-replace scripts, the publish step's transaction and the
dashboard's reader queries.
This test replays that log through ZetaSQL, BigQuery's SQL front end. A failure names the
dbt node or the Python caller, the statement and ZetaSQL's message.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.googlesql.analyzer import Analyzer
from tests.googlesql.replay import read_events, replay

#: Each of these must have sent something, or the log cannot prove anything about it
#: (``flows`` is the publish step).
SOURCES = ("dbt model", "dbt test", "dbt unit_test", "ingest", "dashboard", "flows")


@pytest.fixture(scope="module")
def events() -> list:
    path = os.environ.get("NIGHTJAR_STATEMENT_LOG")
    if not path or not Path(path).is_file():
        pytest.skip("no statement log: `nox -s bigquery` records one while tests/bigquery run")
    return read_events(Path(path))


def test_every_pipeline_statement_analyzes_as_googlesql(
    analyzer: Analyzer, events: list, capsys: pytest.CaptureFixture
) -> None:
    report = replay(analyzer, events)
    with capsys.disabled():
        print("\n" + report.summary())
    missing = [s for s in SOURCES if not report.statements.get(s)]
    assert not missing, f"nothing recorded from {missing}: {report.summary()}"
    # Both shapes of the incremental models ran: full builds and the nightly merges.
    kinds = report.kinds["dbt model"]
    assert kinds["CreateTableAsSelect"] and kinds["Merge"], kinds
    assert not report.failures, (
        f"{len(report.failures)} statement(s) BigQuery would reject:\n\n"
        + "\n\n".join(report.failures)
    )


def test_nothing_in_the_log_is_of_unknown_origin(events: list) -> None:
    """Every recorded request is attributed: to a dbt node, dbt itself, or our code."""
    unknown = [e for e in events if e["caller"] == "unknown"]
    assert not unknown, f"{len(unknown)} requests of unknown origin, e.g. {unknown[0]}"
