"""The DuckDB warehouse's layout: ``raw.<table>`` views over stored records, with the same
columns and meaning as the BigQuery tables."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from test_ingest import REJECT_BODY, VIEW_HEADER, rows, write

from config.settings import Settings
from ingest import IngestError, ingest_file
from ingest.schemas import LINEAGE_COLUMNS, TABLES

DAY = date(2026, 11, 25)
VIEWS = TABLES["viewing_logs"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(target="ci", duckdb_path=tmp_path / "wh" / "test.duckdb")


def test_raw_tables_are_views_with_every_lineage_column(settings: Settings, tmp_path: Path) -> None:
    ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", REJECT_BODY))
    kinds = dict(
        rows(
            settings,
            "SELECT table_name, table_type FROM information_schema.tables "
            "WHERE table_schema = 'raw'",
        )
    )
    assert kinds["viewing_logs"] == kinds["social_interactions"] == "VIEW"
    assert kinds["viewing_logs_rejected"] == kinds["load_audit"] == "BASE TABLE"
    described = rows(settings, "DESCRIBE raw.viewing_logs")
    assert [r[0] for r in described] == [*VIEWS.column_names, *(c.name for c in LINEAGE_COLUMNS)]
    lineage = rows(
        settings,
        "SELECT DISTINCT v._source_file, v._file_date, v._loaded_at = a._loaded_at "
        "FROM raw.viewing_logs v, raw.load_audit a",
    )
    assert lineage == [("2026-11-25.csv", DAY, True)]
    # _source_row is the position among the file's parsed records: v10 is the tenth (the
    # record on line 15 is not UTF-8, so the reader cannot parse it; it is rejected).
    assert rows(settings, "SELECT view_id, _source_row FROM raw.viewing_logs ORDER BY 2") == [
        ("v1", 1),
        ("v10", 10),
    ]


def test_file_order_is_kept_on_a_file_read_in_parallel(settings: Settings, tmp_path: Path) -> None:
    # Large enough for DuckDB's reader to split it between threads.
    n = 1_000_000
    lines = [VIEW_HEADER]
    lines += [
        f"v{i % 1000},u{i % 97},c{i % 13},drama,2026-11-25T08:15:30Z,{i},600,tv,DE"
        for i in range(n)
    ]
    path = write(tmp_path, "viewing_logs", "\n".join(lines) + "\n")
    assert path.stat().st_size > 40 << 20
    ingest_file(settings, "viewing_logs", path)
    # watch_duration_s is the row's index in the file: _source_row is that index plus one.
    assert rows(
        settings,
        "SELECT count(*), count(*) FILTER (WHERE watch_duration_s <> _source_row - 1) "
        "FROM raw.viewing_logs",
    ) == [(n, 0)]


def test_a_warehouse_of_another_layout_is_refused_with_what_to_do(
    settings: Settings, tmp_path: Path
) -> None:
    settings.duckdb_path.parent.mkdir(parents=True)
    con = duckdb.connect(str(settings.duckdb_path))
    con.execute("CREATE SCHEMA raw")
    con.execute("CREATE TABLE raw.viewing_logs (view_id VARCHAR, _source_row BIGINT)")
    con.close()
    with pytest.raises(IngestError, match=r"another version of the loader.*DUCKDB_PATH"):
        ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", REJECT_BODY))


def test_file_positions_survive_redelivery_and_checkpoint(
    settings: Settings, tmp_path: Path
) -> None:
    # rowids are storage positions: deleting a re-delivered slice and checkpointing (which
    # vacuums deleted rows) may renumber the rows stored after it; positions must not move.
    def drop(day: date, n: int, first: int) -> Path:
        lines = [VIEW_HEADER] + [
            f"v{i % 500},u1,c1,drama,2026-11-25T08:15:30Z,{i},600,tv,DE"
            for i in range(first, first + n)
        ]
        lines[7] = lines[7].replace(",600,", ",-1,")  # a rejected record still counts
        return write(tmp_path, "viewing_logs", "\n".join(lines) + "\n", day)

    day1, day2, day3 = date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 26)
    ingest_file(settings, "viewing_logs", drop(day1, 300_000, 0))
    ingest_file(settings, "viewing_logs", drop(day2, 300_000, 1_000_000))
    ingest_file(settings, "viewing_logs", drop(day1, 1_000, 5_000_000))  # re-delivered, smaller
    ingest_file(settings, "viewing_logs", drop(day3, 1_000, 9_000_000))
    con = duckdb.connect(str(settings.duckdb_path))
    try:
        con.execute("FORCE CHECKPOINT")
    finally:
        con.close()
    # In each file, watch_duration_s - first value is the record's index.
    misplaced = rows(
        settings,
        "SELECT _file_date, count(*), count(*) FILTER (WHERE watch_duration_s - first "
        "<> _source_row - 1) FROM (SELECT *, min(watch_duration_s) OVER (PARTITION BY "
        "_file_date) AS first FROM raw.viewing_logs) GROUP BY 1 ORDER BY 1",
    )
    assert misplaced == [(day1, 999, 0), (day2, 299_999, 0), (day3, 999, 0)]
