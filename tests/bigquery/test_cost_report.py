"""The cost of a nightly prod run, from the queries it sends (see ``cost_report.py``).

A backfill of the sample week but its last day, published, then the last day as a nightly
run of the flow's own ``dbt build``; every query that build sent is read back from the
statement log. The report lists, per node, the tables each query reads and whether a
literal partition filter prunes them, and estimates the bytes a night processes after 30
and after 365 days of 100,000 views and 30,000 interactions a day, next to the size of the
night's new data. It fails when a nightly query reads an event-level table without a
literal partition filter, except the reads listed in ``LOOKUPS``, each with its reason.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from bq_pipeline import SAMPLE_DATA, run_days, sample_days
from cost_report import MB, estimate, measure, nightly_reads, unpruned

from config.settings import Settings

pytestmark = [pytest.mark.emulator, pytest.mark.integration]

#: Reads of event-level tables that no partition filter can prune, and why.
LOOKUPS = {
    # Per id, the copy from the most recent file date wins, however late a copy comes: the
    # latest logged version of each id in the batch may sit in any batch partition.
    ("int_content__view_versions", "intermediate.int_content__view_versions"),
    ("int_content__interaction_versions", "intermediate.int_content__interaction_versions"),
}
VIEWS_PER_DAY, INTERACTIONS_PER_DAY = 100_000, 30_000
#: Where the estimate is kept for the benchmark to print.
COST_FILE = Path(__file__).resolve().parents[2] / "bench" / "results" / "bigquery-cost.json"


def _events_since(offset: int) -> list[dict[str, Any]]:
    path = Path(os.environ["NIGHTJAR_STATEMENT_LOG"])
    with path.open(encoding="utf-8") as f:
        f.seek(offset)
        return [json.loads(line) for line in f if line.strip()]


def test_a_nightly_run_reads_the_batch_and_what_it_costs(
    bigquery_settings: Settings, bigquery: Any, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from flows.daily_pipeline import dbt_build, ingest_day
    from flows.dbt_build import raise_for_failure

    if not os.environ.get("NIGHTJAR_STATEMENT_LOG"):
        pytest.skip("no statement log: `nox -s bigquery` records one")
    days = sample_days()
    run_days(bigquery_settings, SAMPLE_DATA, days[:-1], tmp_path / "backfill")
    ingest_day(bigquery_settings, days[-1], SAMPLE_DATA)
    offset = Path(os.environ["NIGHTJAR_STATEMENT_LOG"]).stat().st_size
    raise_for_failure(dbt_build(bigquery_settings))
    reads = nightly_reads(_events_since(offset))
    assert reads, "the nightly build sent no query"

    tables = measure(bigquery, bigquery.project, {r.table for r in reads})
    raw = {name: tables[name] for name in ("raw.viewing_logs", "raw.social_interactions")}
    sample_views_per_day = raw["raw.viewing_logs"].rows / raw["raw.viewing_logs"].partitions
    scale = VIEWS_PER_DAY / sample_views_per_day
    new_bytes = sum(t.bytes_per_row({"*"}) * t.rows / t.partitions * scale for t in raw.values())
    days_loaded = raw["raw.viewing_logs"].partitions
    estimates = [estimate(reads, tables, scale, h, days_loaded) for h in (30, 365)]
    references = len(reads)

    with capsys.disabled():
        print(f"\nNightly prod run: {len(reads)} table reads")
        for read in reads:
            pruned = "all partitions" if read.partitions is None else f"{read.partitions} part."
            kind = "event" if read.event_level else "state"
            print(f"  {read.node:<40} {read.table:<52} {kind:<7} {pruned}")
        print(
            f"new data a night: {new_bytes / MB:.1f} MB ({VIEWS_PER_DAY:,} views, "
            f"{INTERACTIONS_PER_DAY:,} interactions)"
        )
        for e in estimates:
            top = sorted(e.by_table.items(), key=lambda kv: -kv[1])[:4]
            print(
                f"after {e.history_days} days: {e.bytes / MB:,.0f} MB processed "
                f"({e.bytes / new_bytes:.0f}x the new data); largest: "
                + ", ".join(f"{t} {b / MB:,.0f} MB" for t, b in top)
            )
        print(
            f"table references a night: {references}; BigQuery bills at least 10 MB each, "
            f"so at least {references * 10:,} MB however small the reads"
        )
    # for `nox -s bench`, which prints it beside the timings
    COST_FILE.parent.mkdir(parents=True, exist_ok=True)
    COST_FILE.write_text(
        json.dumps(
            {
                "views_per_day": VIEWS_PER_DAY,
                "interactions_per_day": INTERACTIONS_PER_DAY,
                "new_data_mb": round(new_bytes / MB, 1),
                "table_references": references,
                "minimum_billed_mb": references * 10,
                "nights": {
                    str(e.history_days): {
                        "processed_mb": round(e.bytes / MB),
                        "over_new_data": round(e.bytes / new_bytes, 1),
                    }
                    for e in estimates
                },
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )

    offenders = [r for r in unpruned(reads) if (r.node.split(".")[-1], r.table) not in LOOKUPS]
    assert not offenders, "event-level tables read without a literal partition filter:\n" + (
        "\n".join(f"{r.node}: {r.table}" for r in offenders)
    )
