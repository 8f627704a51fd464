"""The DuckDB warehouse's layout (raw views over stored rows) and its one-pass load."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest
from test_ingest import GOOD_VIEW, REJECT_BODY, VIEW_HEADER, rows, write

from config.settings import Settings
from ingest import ingest_file
from ingest.load import load_into
from ingest.schemas import LINEAGE_COLUMNS, TABLES
from ingest.warehouse.duckdb_warehouse import DuckDBWarehouse

DAY = date(2026, 11, 25)
VIEWS = TABLES["viewing_logs"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(target="ci", duckdb_path=tmp_path / "wh" / "test.duckdb")


class StagedOnly(DuckDBWarehouse):
    """Loads every file through validation first, as files with rejects are."""

    def _load_direct(self, plan, meta):
        return None


def load_with(warehouse: DuckDBWarehouse, path: Path, table: str = "viewing_logs") -> None:
    """Load ``path`` as the ``DAY`` file of ``table`` through ``warehouse``, then close it."""
    try:
        warehouse.ensure_raw_tables()
        load_into(warehouse, table, path, DAY)
    finally:
        warehouse.close()


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
    expected = [*VIEWS.column_names, *(c.name for c in LINEAGE_COLUMNS)]
    assert [r[0] for r in described] == expected
    lineage = rows(
        settings,
        "SELECT DISTINCT v._source_file, v._file_date, v._loaded_at = a._loaded_at "
        "FROM raw.viewing_logs v, raw.load_audit a",
    )
    assert lineage == [("2026-11-25.csv", DAY, True)]


@pytest.mark.parametrize(
    "body", [REJECT_BODY, VIEW_HEADER + "\n" + GOOD_VIEW + "\n"], ids=["rejects", "clean"]
)
def test_one_pass_and_validated_loads_write_the_same_rows_in_the_same_order(
    tmp_path: Path, body: str
) -> None:
    # Rows with repeated ids and a value that tells them apart: the order must survive.
    body = (body if isinstance(body, bytes) else body.encode()) + "".join(
        GOOD_VIEW.replace(",100,", f",{i},").replace("v1,", f"v{i % 7},") + "\n" for i in range(200)
    ).encode()
    path = write(tmp_path, "viewing_logs", body)
    columns = ", ".join(VIEWS.column_names)
    got = {}
    for cls in (DuckDBWarehouse, StagedOnly):
        db = tmp_path / f"{cls.__name__}.duckdb"
        load_with(cls(db), path)
        got[cls] = rows(
            Settings(target="ci", duckdb_path=db),
            f"SELECT {columns}, _source_file, _file_date FROM raw.viewing_logs "
            "ORDER BY _source_row",
        )
    assert len(got[DuckDBWarehouse]) > 200
    assert got[DuckDBWarehouse] == got[StagedOnly]


def test_a_file_is_loaded_in_one_pass_and_read_again_only_for_its_rejects(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clean = VIEW_HEADER + "\n" + GOOD_VIEW + "\n"
    with caplog.at_level(logging.INFO, logger="ingest"):
        r = ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", clean))
    assert (r.rows_in_file, r.rows_loaded, r.rows_rejected) == (1, 1, 0)
    assert "validating it" not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="ingest"):
        r = ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", REJECT_BODY))
    assert (r.rows_in_file, r.rows_loaded, r.rows_rejected) == (13, 2, 11)
    assert "has rejects; reading it again to locate them" in caplog.text
    assert "validating it" not in caplog.text  # the rows of the first pass were kept
    # The rows that failed a check were written, then deleted: none is left without its slice.
    assert rows(settings, "SELECT count(*) FROM raw._viewing_logs_rows") == [(2,)]
    assert rows(settings, "SELECT count(*) FROM raw.viewing_logs WHERE _source_file IS NULL") == [
        (0,)
    ]


def test_a_file_with_rejects_that_needs_another_read_is_validated_first(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A record over the reader's default line limit is only read on a second, larger
    # read: the rows of the first pass are then not the file's valid rows.
    long_genre = "x" * (3 << 20)
    body = (
        VIEW_HEADER
        + "\n"
        + GOOD_VIEW.replace("drama", long_genre)
        + "\n"
        + GOOD_VIEW.replace(",100,", ",1.5,")
        + "\n"
        + GOOD_VIEW.replace("v1,", "v2,")
        + "\n"
    )
    with caplog.at_level(logging.INFO, logger="ingest"):
        r = ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", body))
    assert "read differently for its rejects; validating it" in caplog.text
    assert (r.rows_in_file, r.rows_loaded, r.rows_rejected) == (3, 2, 1)
    assert rows(
        settings, "SELECT view_id, length(genre) FROM raw.viewing_logs ORDER BY _source_row"
    ) == [("v1", 3 << 20), ("v2", 5)]
    assert rows(settings, "SELECT line_number, reason FROM raw.viewing_logs_rejected") == [
        (3, "watch_duration_s: '1.5' is not an integer")
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
    load_with(DuckDBWarehouse(settings.duckdb_path, threads=4), path)
    # watch_duration_s is the row's index in the file: _source_row must order it exactly.
    assert rows(
        settings,
        "SELECT count(*), count(*) FILTER (WHERE watch_duration_s <> position - 1) FROM "
        "(SELECT watch_duration_s, row_number() OVER (ORDER BY _source_row) AS position "
        "FROM raw.viewing_logs)",
    ) == [(n, 0)]


OLD_RAW_DDL = (
    "CREATE TABLE raw.viewing_logs (view_id VARCHAR, user_id VARCHAR, content_id VARCHAR, "
    "genre VARCHAR, started_at TIMESTAMPTZ, watch_duration_s BIGINT, "
    "content_duration_s BIGINT, device VARCHAR, country VARCHAR, _source_file VARCHAR, "
    "_file_date DATE, _loaded_at TIMESTAMPTZ, _source_row BIGINT)"
)


def test_a_warehouse_from_the_earlier_layout_is_converted_in_place(
    settings: Settings, tmp_path: Path
) -> None:
    # raw.viewing_logs as a table with lineage on every row, as earlier versions wrote it;
    # rows stored out of file order, so the conversion must sort by _source_row.
    loaded_at = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
    db = settings.duckdb_path
    db.parent.mkdir(parents=True)
    con = duckdb.connect(str(db))
    con.execute("CREATE SCHEMA raw")
    con.execute(OLD_RAW_DDL)
    con.execute(
        "CREATE TABLE raw.load_audit (load_id VARCHAR, table_name VARCHAR, _file_date DATE, "
        "_source_file VARCHAR, _loaded_at TIMESTAMPTZ, rows_in_file BIGINT, "
        "rows_loaded BIGINT, rows_rejected BIGINT, extra_columns VARCHAR)"
    )
    stamp = f"TIMESTAMPTZ '{loaded_at.isoformat()}'"
    for view_id, watch, row in (("v1", 2, 2), ("v1", 1, 1), ("v9", 5, 3)):
        con.execute(
            f"INSERT INTO raw.viewing_logs VALUES ('{view_id}', 'u1', 'c1', NULL, "
            f"TIMESTAMPTZ '2026-11-25 08:00:00+00', {watch}, NULL, NULL, NULL, "
            f"'2026-11-25.csv', DATE '2026-11-25', {stamp}, {row})"
        )
    con.execute(
        f"INSERT INTO raw.load_audit VALUES ('l1', 'viewing_logs', DATE '2026-11-25', "
        f"'2026-11-25.csv', {stamp}, 3, 3, 0, '')"
    )
    con.close()

    warehouse = DuckDBWarehouse(db)
    try:
        warehouse.ensure_raw_tables()
    finally:
        warehouse.close()
    assert rows(
        settings,
        "SELECT view_id, watch_duration_s, _source_file, _file_date, _loaded_at "
        "FROM raw.viewing_logs ORDER BY _source_row",
    ) == [
        ("v1", 1, "2026-11-25.csv", DAY, loaded_at),
        ("v1", 2, "2026-11-25.csv", DAY, loaded_at),
        ("v9", 5, "2026-11-25.csv", DAY, loaded_at),
    ]
    # And it loads as usual afterwards.
    ingest_file(
        settings, "viewing_logs", write(tmp_path, "viewing_logs", REJECT_BODY, date(2026, 11, 26))
    )
    assert rows(settings, "SELECT count(*) FROM raw.viewing_logs") == [(5,)]


def test_a_raw_table_that_cannot_be_converted_is_refused_with_what_to_do(
    settings: Settings,
) -> None:
    from ingest import IngestError

    db = settings.duckdb_path
    db.parent.mkdir(parents=True)
    con = duckdb.connect(str(db))
    con.execute("CREATE SCHEMA raw; CREATE TABLE raw.viewing_logs (view_id VARCHAR)")
    con.close()
    warehouse = DuckDBWarehouse(db)
    try:
        with pytest.raises(IngestError, match=r"(?s)cannot convert .* new warehouse"):
            warehouse.ensure_raw_tables()
    finally:
        warehouse.close()
    # Nothing changed: the table is still there, as it was.
    assert rows(
        settings,
        "SELECT table_type FROM information_schema.tables WHERE table_name = 'viewing_logs'",
    ) == [("BASE TABLE",)]


def test_rows_that_failed_a_check_are_hidden_until_deleted_after_the_commit(
    settings: Settings, tmp_path: Path
) -> None:
    class CutShort(DuckDBWarehouse):
        """As if the process stopped between the load's commit and the clean-up."""

        def _delete_failed_rows(self, schema):
            pass

    load_with(CutShort(settings.duckdb_path), write(tmp_path, "viewing_logs", REJECT_BODY))
    # The rows that failed a rule are still stored, with no file date, but not in raw.
    stored = "SELECT count(*) FROM raw._viewing_logs_rows"
    assert rows(settings, stored + " WHERE _file_date IS NULL") > [(0,)]
    assert rows(settings, "SELECT view_id FROM raw.viewing_logs ORDER BY _source_row") == [
        ("v1",),
        ("v10",),
    ]
    # The next load deletes them.
    ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", REJECT_BODY))
    assert rows(settings, stored + " WHERE _file_date IS NULL") == [(0,)]
    assert rows(settings, stored) == [(2,)]


@pytest.mark.parametrize("seed", range(12))
def test_one_pass_and_validated_loads_agree_on_random_messy_files(
    tmp_path: Path, seed: int
) -> None:
    import random

    from test_ingest_random_files import _write_random_file

    table = list(TABLES)[seed % len(TABLES)]
    schema = TABLES[table]
    path = _write_random_file(random.Random(seed), tmp_path / "src", table)
    written = {}
    for cls in (DuckDBWarehouse, StagedOnly):
        db = tmp_path / f"{cls.__name__}.duckdb"
        load_with(cls(db), path, table)
        s = Settings(target="ci", duckdb_path=db)
        written[cls] = (
            rows(
                s, f"SELECT {', '.join(schema.column_names)} FROM raw.{table} ORDER BY _source_row"
            ),
            rows(
                s,
                f"SELECT line_number, reason, line_text FROM raw.{schema.rejected_table} "
                "ORDER BY line_number",
            ),
            rows(s, "SELECT rows_in_file, rows_loaded, rows_rejected FROM raw.load_audit"),
        )
    assert written[DuckDBWarehouse] == written[StagedOnly]


def test_file_order_survives_redelivery_and_checkpoint(settings: Settings, tmp_path: Path) -> None:
    # rowids are storage positions: deleting a re-delivered slice and checkpointing (which
    # vacuums deleted rows) may renumber the rows stored after it, but must keep their order.
    def drop(day: date, n: int, first: int) -> Path:
        lines = [VIEW_HEADER] + [
            f"v{i % 500},u1,c1,drama,2026-11-25T08:15:30Z,{i},600,tv,DE"
            for i in range(first, first + n)
        ]
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
    # In each file, watch_duration_s counts up with the row: _source_row must order it so.
    out_of_order = rows(
        settings,
        "SELECT _file_date, count(*), count(*) FILTER (WHERE watch_duration_s <= previous) "
        "FROM (SELECT _file_date, watch_duration_s, lag(watch_duration_s) OVER "
        "(PARTITION BY _file_date ORDER BY _source_row) AS previous FROM raw.viewing_logs) "
        "GROUP BY 1 ORDER BY 1",
    )
    assert out_of_order == [(day1, 1_000, 0), (day2, 300_000, 0), (day3, 1_000, 0)]
