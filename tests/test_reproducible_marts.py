"""The same input gives bit-identical marts, whatever DuckDB's thread count or load order.

Two warehouses get the same generated files, one in date order, the other in reverse, and
each is built by ``dbt build`` with its own DuckDB thread count (1 and 4, through a copy of
the committed profile). The marts, apart from the run's own stamp, must be equal as sets
of rows, compared bit for bit with ``EXCEPT ALL`` in both directions. The data is large
enough (several of DuckDB's row groups per day) for parallel aggregation to happen.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from config.settings import Settings
from flows.dbt_build import release_duckdb
from ingest import ingest_date
from tests.dbt_helpers import DBT_DIR, MARTS, run_dbt
from tools.generate import GeneratorConfig, generate

pytestmark = pytest.mark.integration

START = date(2026, 3, 1)
DAYS = 2


def _build(tmp: Path, drops: Path, name: str, threads: int, days: list[date]) -> Path:
    path = tmp / name / "nightjar.duckdb"
    settings = Settings(target="ci", duckdb_path=path)
    for day in days:
        ingest_date(settings, day, drops)
    profiles = yaml.safe_load((DBT_DIR / "profiles.yml").read_text(encoding="utf-8"))
    output = profiles["nightjar"]["outputs"]["ci"]
    output["path"] = str(path)
    output["settings"] = {"threads": threads}
    profile_dir = tmp / name / "profile"
    profile_dir.mkdir()
    (profile_dir / "profiles.yml").write_text(yaml.safe_dump(profiles), encoding="utf-8")
    try:
        run_dbt(["build"], tmp / name / "target", target="ci", profiles_dir=profile_dir)
    finally:
        release_duckdb()  # dbt-duckdb keeps the file open in this process otherwise
    return path


def test_marts_are_bit_identical_across_thread_counts_and_load_orders(tmp_path: Path) -> None:
    drops = tmp_path / "drops"
    generate(
        drops,
        GeneratorConfig(
            start_date=START, days=DAYS, views_per_day=150_000, interactions_per_day=2_000, seed=5
        ),
    )
    days = [START + timedelta(days=i) for i in range(DAYS)]
    one = _build(tmp_path, drops, "one-thread", 1, days)
    four = _build(tmp_path, drops, "four-threads", 4, list(reversed(days)))
    con = duckdb.connect()
    con.execute(f"ATTACH '{one}' AS one (READ_ONLY)")
    con.execute(f"ATTACH '{four}' AS four (READ_ONLY)")
    for mart in MARTS:
        columns = [
            name
            for (name,) in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = 'one' "
                f"AND table_name = '{mart}' AND column_name <> 'batch_loaded_at' "
                "ORDER BY column_index"
            ).fetchall()
        ]
        select = ", ".join(f'"{c}"' for c in columns)
        rows = con.execute(f"SELECT count(*) FROM one.marts.{mart}").fetchone()[0]
        assert rows > 1000, f"{mart}: too few rows ({rows}) to prove anything"
        for a, b in (("one", "four"), ("four", "one")):
            diff = con.execute(
                f"SELECT count(*) FROM (SELECT {select} FROM {a}.marts.{mart} "
                f"EXCEPT ALL SELECT {select} FROM {b}.marts.{mart})"
            ).fetchone()[0]
            assert diff == 0, f"{mart}: {diff} rows of {a} are not bit-identical in {b}"
