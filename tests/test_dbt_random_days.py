"""Seeded random days, messy in every way the contract allows, through ingest and ``dbt build``.

Unlike the generator's data, these files pad text and numbers, put line breaks and quotes in
fields, give timestamps offsets (including half hours) that move events across UTC dates,
repeat ids across and within files, and are then re-delivered smaller and empty. After the
daily runs and after the re-deliveries the marts must equal the plain-Python reference
computed from the files.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from config.settings import Settings
from ingest import expected_path, ingest_date
from ingest.schemas import TABLES
from tests.dbt_helpers import Reference, assert_marts_equal, fetch_marts, run_dbt
from tests.messy_csv import TEXT, write_messy_csv

pytestmark = pytest.mark.integration

START = date(2026, 11, 10)
DAYS = 5
DEVICES = ["tv", "web", "ios", "Android", "", " tv "]


class Days:
    """Writes one table's file for one day from a seeded random source."""

    def __init__(self, seed: int, root: Path) -> None:
        self.rng = random.Random(seed)
        self.root = root

    def timestamp(self, day: date) -> str:
        rng = self.rng
        instant = datetime.combine(day, datetime.min.time(), UTC) + timedelta(
            seconds=rng.randrange(-6 * 3600, 30 * 3600)
        )
        offset = rng.choice([0, 0, 2, -5, 5.5])
        text = (instant + timedelta(hours=offset)).strftime("%Y-%m-%dT%H:%M:%S")
        if rng.random() < 0.3:
            text += f".{rng.randrange(1000):03d}"
        if offset == 0:
            return text + rng.choice(["Z", "", "+00:00"])
        hours, minutes = int(abs(offset)), round(abs(offset) % 1 * 60)
        return text + f"{'+' if offset > 0 else '-'}{hours:02d}:{minutes:02d}"

    def view(self, day: date, n: int) -> dict[str, str]:
        rng = self.rng
        row = {
            "view_id": f"v{rng.randrange(3 * n + 1)}",
            "user_id": f"u{rng.randrange(40)}",
            "content_id": f"c{rng.randrange(15)}",
            "genre": rng.choice(TEXT),
            "started_at": self.timestamp(day - timedelta(days=rng.choice([0, 0, 0, 1, 3]))),
            "watch_duration_s": rng.choice(["0", "30", " 600", "3000", "40000"]),
            "content_duration_s": rng.choice(["", "600", "1200", "0", "-1"]),
            "device": rng.choice(DEVICES),
            "country": rng.choice(["FR", "DE", ""]),
        }
        bad = rng.random()
        if bad < 0.03:
            row["watch_duration_s"] = rng.choice(["1.5", "-3", "", "ten"])
        elif bad < 0.05:
            row["started_at"] = rng.choice(["", "yesterday", "2026-13-01T00:00:00Z"])
        elif bad < 0.06:
            row["view_id"] = " "
        return row

    def interaction(self, day: date, n: int) -> dict[str, str]:
        rng = self.rng
        return {
            "interaction_id": f"i{rng.randrange(3 * n + 1)}",
            "user_id": f"u{rng.randrange(50)}",
            "content_id": f"c{rng.randrange(15)}",
            "interaction_type": rng.choice(["like", "LIKE", " Share ", "comment", "dislike"]),
            "platform": rng.choice(["ios", "", "web"]),
            "created_at": self.timestamp(day - timedelta(days=rng.choice([0, 0, 2]))),
        }

    def write(self, table: str, day: date, n: int) -> Path:
        make = self.view if table == "viewing_logs" else self.interaction
        columns = list(TABLES[table].column_names)
        self.rng.shuffle(columns)
        records = (make(day, n) for _ in range(n))
        return write_messy_csv(self.rng, expected_path(self.root, table, day), columns, records)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_days_then_redeliveries(tmp_path: Path, duckdb_path: Path, seed: int) -> None:
    warehouse = duckdb_path
    settings = Settings.from_env(duckdb_path=warehouse)
    target = tmp_path / "dbt-target"
    source = tmp_path / "drops"
    days = Days(seed, source)
    reference = Reference()

    def deliver(day: date, views: int, interactions: int) -> None:
        for table, n in (("viewing_logs", views), ("social_interactions", interactions)):
            reference.deliver(table, day, days.write(table, day, n))
        ingest_date(settings, day, source)
        run_dbt(["build"], target)

    for offset in range(DAYS):
        day = START + timedelta(days=offset)
        deliver(day, days.rng.choice([0, 40, 300]), days.rng.choice([0, 30, 150]))
    assert_marts_equal(fetch_marts(warehouse), reference.marts(), "after the daily runs")

    deliver(START + timedelta(days=1), 25, 25)  # corrected: smaller, ids and dates moved
    deliver(START + timedelta(days=3), 0, 0)  # corrected: everything withdrawn
    marts = fetch_marts(warehouse)
    assert_marts_equal(marts, reference.marts(), "after the re-deliveries")
    assert all(marts.values()), "the scenario must leave rows in both marts"
