"""Write, audit, publish on DuckDB: analytics changes only after a fully green build.

Real flow runs through the command line (shared temporary Prefect API), real dbt builds,
and real processes killed with SIGKILL inside the publish step.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

import flows.daily_pipeline as pipeline
from config.settings import DBT_PROJECT_DIR, REPO_ROOT, Settings
from flows.cli import main
from flows.publish import MARTS, PUBLISH_LOG
from ingest import expected_path
from tests.conftest import SMALL_DROPS_START as START
from tests.dbt_helpers import project_with_test

pytestmark = pytest.mark.integration

DAY2 = START + timedelta(days=1)
INT64_MAX = 2**63 - 1


def _run(drops: Path, day: object, *extra: str) -> int:
    return main(["--run-date", str(day), "--source-dir", str(drops), "--target", "dev", *extra])


def _published(settings: Settings) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(settings.analytics_path), read_only=True)
    try:
        return {
            t: sorted(con.execute(f"select * from analytics.{t}").fetchall(), key=repr)
            for t in (*MARTS, PUBLISH_LOG)
        }
    finally:
        con.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _failing_project(tmp_path: Path) -> Path:
    """The dbt project with an error-severity test on mart_content_performance that fails."""
    return project_with_test(
        tmp_path, "assert_no_content_days", "select * from {{ ref('mart_content_performance') }}\n"
    )


def test_a_failing_test_publishes_nothing_and_the_next_good_run_publishes(
    prefect_harness: None,
    duckdb_path: Path,
    small_drops: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    drops = tmp_path / "drops"
    shutil.copytree(small_drops, drops)
    # Day 2 also holds a view of int64-max seconds: rejected with its reason at ingest.
    day2 = expected_path(drops, "viewing_logs", DAY2)
    with day2.open("a", encoding="utf-8") as f:
        f.write(f"v-max,u1,c1,drama,{DAY2}T08:00:00Z,{INT64_MAX},100,tv,DE\n")
    settings = Settings.from_env(target="dev")

    assert _run(drops, START) == 0
    before, digest = _published(settings), _digest(settings.analytics_path)
    assert all(before[m] for m in MARTS) and len(before[PUBLISH_LOG]) == 1

    monkeypatch.setattr(pipeline, "DBT_PROJECT_DIR", _failing_project(tmp_path))
    assert _run(drops, DAY2) == 1
    assert "FAILED: test.nightjar.assert_no_content_days" in capsys.readouterr().err
    assert _digest(settings.analytics_path) == digest  # bit-identical: never rewritten
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        mirrored = {
            m: sorted(con.execute(f"select * from analytics.{m}").fetchall(), key=repr)
            for m in MARTS
        }
        built = con.execute("select count(*) from marts.mart_content_performance").fetchone()
        rejected = con.execute(
            "select reason from raw.viewing_logs_rejected where line_text like 'v-max,%'"
        ).fetchall()
    assert mirrored == {m: before[m] for m in MARTS}  # the writer's analytics too
    assert built[0] > len(before["mart_content_performance"])  # built, tested, not published
    assert rejected == [(f"watch_duration_s: '{INT64_MAX}' is above the maximum 315360000",)]

    monkeypatch.setattr(pipeline, "DBT_PROJECT_DIR", DBT_PROJECT_DIR)
    assert _run(drops, DAY2) == 0
    after = _published(settings)
    assert len(after[PUBLISH_LOG]) == 2
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        for mart in MARTS:
            assert after[mart] == sorted(
                con.execute(f"select * from marts.{mart}").fetchall(), key=repr
            )
    with duckdb.connect(str(settings.analytics_path), read_only=True) as con:
        views, total_views = con.execute(
            "select (select sum(views) from analytics.mart_content_performance), "
            "(select sum(total_views) from analytics.mart_users)"
        ).fetchone()
        watermark = con.execute(f"select max(watermark) from analytics.{PUBLISH_LOG}").fetchone()[0]
    assert views == total_views > 0  # both marts from the same batch
    assert watermark is not None


def test_a_reader_of_the_published_file_never_blocks_a_run(
    prefect_harness: None, duckdb_path: Path, small_drops: Path
) -> None:
    settings = Settings.from_env(target="dev")
    assert _run(small_drops, START) == 0
    reader = duckdb.connect(str(settings.analytics_path), read_only=True)
    try:
        seen = reader.execute("select count(*) from analytics.mart_content_performance").fetchone()
        assert _run(small_drops, DAY2) == 0  # the reader holds the file all along
        still = reader.execute("select count(*) from analytics.mart_content_performance").fetchone()
        assert still == seen  # it keeps the snapshot it opened
    finally:
        reader.close()
    with duckdb.connect(str(settings.analytics_path), read_only=True) as again:
        now = again.execute("select count(*) from analytics.mart_content_performance").fetchone()
        runs = again.execute(f"select count(*) from analytics.{PUBLISH_LOG}").fetchone()
    assert now[0] > seen[0] and runs == (2,)  # the next open sees the new publish


#: A process that publishes with one step replaced by SIGKILL.
KILL_AT = """
import os, signal, sys
from pathlib import Path
import flows.publish as publish
from config.settings import Settings

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

point = sys.argv[2]
if point == "in-transaction":
    publish._duck_string = die  # called between replacing the marts and COMMIT
elif point == "before-export":
    publish._write_published_file = die
elif point == "before-rename":
    publish.os.replace = die
publish.publish(Settings(target="ci", duckdb_path=Path(sys.argv[1])))
"""


@pytest.mark.parametrize("point", ["in-transaction", "before-export", "before-rename"])
def test_a_publish_killed_anywhere_converges_on_the_next_run(
    tmp_path: Path, small_drops: Path, point: str
) -> None:
    from flows.daily_pipeline import dbt_build, ingest_day
    from flows.dbt_build import raise_for_failure
    from flows.publish import publish

    settings = Settings(target="ci", duckdb_path=tmp_path / "wh" / "nightjar.duckdb")
    ingest_day(settings, START, small_drops)
    raise_for_failure(dbt_build(settings))
    publish(settings)
    before, digest = _published(settings), _digest(settings.analytics_path)
    ingest_day(settings, DAY2, small_drops)
    raise_for_failure(dbt_build(settings))

    killed = subprocess.run(
        [sys.executable, "-c", KILL_AT, str(settings.duckdb_path), point], cwd=REPO_ROOT
    )
    assert killed.returncode == -9
    assert _digest(settings.analytics_path) == digest  # readers still see the old publish
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        logged = con.execute(f"select count(*) from analytics.{PUBLISH_LOG}").fetchone()[0]
    assert logged == (1 if point == "in-transaction" else 2)  # committed, or rolled back

    publish(settings)  # the next good run
    after = _published(settings)
    assert after != before and len(after[PUBLISH_LOG]) == logged + 1
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        for mart in MARTS:
            assert after[mart] == sorted(
                con.execute(f"select * from marts.{mart}").fetchall(), key=repr
            )
    leftovers = list(settings.analytics_path.parent.glob("*.tmp-*"))
    assert not leftovers, leftovers
