"""Tests of event-level models check the batch, and still catch what a nightly run can break.

``--vars '{published_watermark: <watermark>}'`` (the flow passes the last publish's) turns the
``__batch_days__`` / ``__batch_slices__`` placeholders of their ``where`` config into literal
filters (``dbt/macros/batch_tests.sql``). A nightly run only writes the days its versions
touch, before and after each change, so a uniqueness break it writes lands on one of those
days; these tests inject one and expect the filtered test to fail.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from config.settings import Settings
from ingest import ingest_date
from tests.dbt_helpers import DbtFailed, run_dbt
from tools.generate import GeneratorConfig, generate

pytestmark = pytest.mark.integration

CURRENT = "intermediate.int_content__views_current"
START = date(2026, 5, 1)
DAYS = 4


def _watermark(path: Path) -> str:
    con = duckdb.connect(str(path))
    try:
        (value,) = con.execute("select max(_loaded_at)::timestamp from raw.load_audit").fetchone()
    finally:
        con.close()
    return value.isoformat()


def _duplicate_a_live_view(path: Path, where: str) -> str:
    """Insert a second live row for one view of ``where``: what a broken dedupe would write."""
    con = duckdb.connect(str(path))
    try:
        (view_id,) = con.execute(
            f"select min(view_id) from {CURRENT} where not is_deleted and {where}"
        ).fetchone()
        assert view_id is not None, f"no live view where {where}"
        con.execute(f"insert into {CURRENT} select * from {CURRENT} where view_id = ?", [view_id])
    finally:
        con.close()
    return view_id


@pytest.fixture
def nightly(tmp_path: Path, duckdb_path: Path) -> tuple[Path, str, str]:
    """Three days built and 'published', then the fourth loaded and built as a nightly run.
    No late or re-sent events, so the first day is one the nightly run does not touch."""
    drops = tmp_path / "drops"
    generate(drops, GeneratorConfig(START, DAYS, 60, 20, seed=3, late_rate=0, resend_rate=0))
    settings = Settings.from_env(duckdb_path=duckdb_path)
    target = tmp_path / "target"
    for offset in range(DAYS - 1):
        ingest_date(settings, START + timedelta(days=offset), drops)
    run_dbt(["build"], target)
    published = _watermark(duckdb_path)
    ingest_date(settings, START + timedelta(days=DAYS - 1), drops)
    run_dbt(["build", "--vars", f"{{published_watermark: '{published}'}}"], target)
    return duckdb_path, published, str(target)


def _test_current(target: str, since: str | None) -> None:
    args = ["test", "--select", "int_content__views_current"]
    run_dbt(
        args + (["--vars", f"{{published_watermark: '{since}'}}"] if since else []), Path(target)
    )


def test_a_duplicate_written_by_the_nightly_run_is_caught(nightly: tuple[Path, str, str]) -> None:
    path, published, target = nightly
    _test_current(target, published)  # clean before the break
    batch_day = f"batch_loaded_at > timestamp '{published}'"
    view_id = _duplicate_a_live_view(path, batch_day)
    with pytest.raises(DbtFailed, match="unique_int_content__views_current_view_id"):
        _test_current(target, published)
    compiled = next(Path(target).rglob("unique_int_content__views_current_view_id.sql"))
    sql = compiled.read_text(encoding="utf-8")
    assert "activity_date in (date '" in sql, "the batch filter is not a literal date list"
    assert view_id


def test_the_batch_filter_looks_at_the_batch_only(nightly: tuple[Path, str, str]) -> None:
    """A duplicate on a day the nightly run did not write is outside its tests; a run
    without the variable (everything) still catches it."""
    path, published, target = nightly
    con = duckdb.connect(str(path))
    try:
        (touched,) = con.execute(
            "select list(distinct d) from (select activity_date as d from "
            "intermediate.int_content__view_versions where batch_loaded_at > ? union all "
            "select previous_activity_date from intermediate.int_content__view_versions "
            "where batch_loaded_at > ?) where d is not null",
            [published, published],
        ).fetchone()
    finally:
        con.close()
    assert START not in touched
    _duplicate_a_live_view(path, f"activity_date = date '{START}'")
    _test_current(target, published)
    with pytest.raises(DbtFailed, match="unique_int_content__views_current_view_id"):
        _test_current(target, None)
