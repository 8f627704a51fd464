"""Replay a statement log (``tests/bigquery/statement_log.py``) through ZetaSQL.

Events are taken in order. Tables created through the API (``tables.insert``, load jobs)
enter the catalog with their declared schema and leave it when dropped; every query is
analyzed statement by statement, its DDL changing the catalog as it changes the warehouse.
Statements sent by the tests themselves (to set up or read back) keep the catalog right but
are not the pipeline's, so they are counted apart and their verdict does not count.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.googlesql.analyzer import Analyzer, Catalog, GoogleSQLError, api_type


@dataclass
class Report:
    """What the replay found: statements per source and kind, and the rejected ones."""

    statements: Counter = field(default_factory=Counter)
    kinds: dict[str, Counter] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    test_statements: int = 0

    def summary(self) -> str:
        lines = [f"{sum(self.statements.values())} pipeline statements analyzed by ZetaSQL:"]
        for source, n in sorted(self.statements.items()):
            done = self.kinds.get(source, Counter())
            kinds = ", ".join(f"{k} {c}" for k, c in sorted(done.items()))
            lines.append(f"  {source}: {n} ({kinds})")
        lines.append(f"  (and {self.test_statements} sent by the tests themselves, not counted)")
        return "\n".join(lines)


def source_of(caller: str) -> str:
    """The part of the pipeline a caller belongs to: ``dbt model``, ``ingest``, …"""
    if caller.startswith("dbt "):
        return "dbt " + caller.split()[1].split(".")[0]  # dbt model, dbt test, …
    return caller.split(".")[0].split(":")[0]  # ingest, dashboard, flows, tests, dbt, unknown


def read_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def replay(analyzer: Analyzer, events: list[dict[str, Any]]) -> Report:
    catalog, report = Catalog(), Report()
    for event in events:
        if event["kind"] == "table":
            if event["fields"]:
                columns = [(f["name"], api_type(f, analyzer.m)) for f in event["fields"]]
                catalog.add(event["project"], event["dataset"], event["table"], columns)
        elif event["kind"] == "drop":
            catalog.drop(event["project"], event["dataset"], event["table"])
        else:
            source = source_of(event["caller"])
            try:
                kinds = analyzer.analyze_script(event["sql"], catalog, event["project"])
            except GoogleSQLError as exc:
                if source != "tests":
                    report.failures.append(
                        f"{event['caller']}: ZetaSQL says: {exc.message}\n"
                        f"  statement: {exc.statement[:4000]}"
                    )
                    report.statements[source] += len(exc.analyzed) + 1
                else:
                    report.test_statements += len(exc.analyzed) + 1
                continue
            if source == "tests":
                report.test_statements += len(kinds)
                continue
            report.statements[source] += len(kinds)
            report.kinds.setdefault(source, Counter()).update(kinds)
    return report
