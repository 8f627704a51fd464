"""The CSV loader against real DuckDB files: input contract, rejects, reconciliation, atomicity."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pytest

from config.settings import REPO_ROOT, Settings
from ingest import IngestError, MissingColumnError, expected_path, ingest_date, ingest_file
from ingest.schemas import TABLES

VIEW_HEADER = ",".join(TABLES["viewing_logs"].column_names)
SOCIAL_HEADER = ",".join(TABLES["social_interactions"].column_names)
DAY = date(2026, 11, 25)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(target="ci", duckdb_path=tmp_path / "wh" / "test.duckdb")


def write(tmp_path: Path, table: str, body: bytes | str, day: date = DAY) -> Path:
    path = expected_path(tmp_path / "src", table, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body.encode() if isinstance(body, str) else body)
    return path


def rows(settings: Settings, sql: str) -> list[tuple]:
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def snapshot(settings: Settings) -> dict[str, list[tuple]]:
    tables = ["viewing_logs", "viewing_logs_rejected", "social_interactions", "load_audit"]
    return {t: sorted(map(repr, rows(settings, f"SELECT * FROM raw.{t}"))) for t in tables}


GOOD_VIEW = "v1,u1,c1,drama,2026-11-25T08:15:30Z,100,200,tv,DE"
#: A loaded row's position among its file's loaded rows, from ``_source_row`` (which only
#: orders a file's rows: on DuckDB it is the storage position).
FILE_ORDER = "row_number() OVER (PARTITION BY _file_date ORDER BY _source_row)"


def test_bom_crlf_quoting_and_multiline_fields(settings: Settings, tmp_path: Path) -> None:
    body = (
        "\ufeff" + VIEW_HEADER + "\r\n"
        'v1,u1,c1,"Sci-Fi, ""Space""",2026-11-25T08:15:30Z,100,200,tv,DE\r\n'
        'v2,u1,c2,"Talk\r\nShow",2026-11-25T08:15:30.250+02:00,0,,,\r\n'
        "v3,u2,c2,,2026-11-25 23:59:59,7,60,web,FR\r\n"
    )
    r = ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", body))
    assert (r.rows_in_file, r.rows_loaded, r.rows_rejected) == (3, 3, 0)
    got = rows(
        settings,
        "SELECT view_id, genre, strftime(started_at AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S.%g'), "
        f"watch_duration_s, content_duration_s, device, {FILE_ORDER}, _file_date, _source_file "
        "FROM raw.viewing_logs ORDER BY _source_row",
    )
    assert got == [
        (
            "v1",
            'Sci-Fi, "Space"',
            "2026-11-25 08:15:30.000",
            100,
            200,
            "tv",
            1,
            DAY,
            "2026-11-25.csv",
        ),
        ("v2", "Talk\r\nShow", "2026-11-25 06:15:30.250", 0, None, None, 2, DAY, "2026-11-25.csv"),
        ("v3", None, "2026-11-25 23:59:59.000", 7, 60, "web", 3, DAY, "2026-11-25.csv"),
    ]


@pytest.mark.parametrize(
    ("spelling", "utc"),
    [
        ("2026-11-25T08:15:30+0200", "2026-11-25 06:15:30.000"),
        ("2026-11-25T08:15:30+02", "2026-11-25 06:15:30.000"),
        ("2026-11-25T08:15+02:00", "2026-11-25 06:15:00.000"),
        ("2026-11-25T08:15Z", "2026-11-25 08:15:00.000"),
        ("2026-11-25 08:15", "2026-11-25 08:15:00.000"),
        ("2026-11-25T08:15:30,25Z", "2026-11-25 08:15:30.250"),
        ("2026-11-25t08:15:30.5z", None),
        ("2026-11-25T23:30:00.5z", "2026-11-25 23:30:00.500"),
        (" 2026-11-25T08:15:30-05:00 ", "2026-11-25 13:15:30.000"),
        ("20261125T081530Z", None),
        ("2026-11-25", None),
        ("2026-11-25T08Z", None),
        ("2026-11-25T08:15:30+23:59", "2026-11-24 08:16:30.000"),
        ("2026-11-25T08:15:30+24:00", None),
        ("2026-11-25T08:15:30-05:60", None),
        ("2026-11-25T08:15:30+99:99", None),
        ("2026-11-25T08:15:30 +01:00", None),
        ("2026-11-25T08:15:30.Z", None),
        ("0001-01-01T00:00:00Z", "0001-01-01 00:00:00.000"),
    ],
)
def test_iso_8601_spellings(settings: Settings, tmp_path: Path, spelling: str, utc: str) -> None:
    body = f'{VIEW_HEADER}\nv1,u1,c1,drama,"{spelling}",100,200,tv,DE\n'
    r = ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", body))
    got = rows(
        settings,
        "SELECT strftime(started_at AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S.%g') "
        "FROM raw.viewing_logs",
    )
    if utc is None:
        assert (r.rows_loaded, r.rows_rejected) == (0, 1)
        (reason,) = rows(settings, "SELECT reason FROM raw.viewing_logs_rejected")[0]
        assert "started_at" in reason and "ISO 8601" in reason
    else:
        assert (r.rows_loaded, r.rows_rejected) == (1, 0)
        assert got == [(utc,)]


@pytest.mark.parametrize("spelling", ["0000-12-31T23:59:59Z", "9999-12-31T23:30:00-01:00"])
def test_timestamp_outside_what_both_warehouses_store_is_rejected(
    settings: Settings, tmp_path: Path, spelling: str
) -> None:
    # DuckDB stores year 0 and year 10000; BigQuery does not: the row is rejected everywhere.
    body = f"{VIEW_HEADER}\n{GOOD_VIEW}\nv2,u1,c1,drama,{spelling},100,200,tv,DE\n"
    r = ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", body))
    assert (r.rows_loaded, r.rows_rejected) == (1, 1)
    assert rows(settings, "SELECT line_number, reason FROM raw.viewing_logs_rejected") == [
        (3, f"started_at: '{spelling}' is outside 0001-01-01 to 9999-12-31 UTC")
    ]


def test_columns_any_order_extra_columns_reported(settings: Settings, tmp_path: Path) -> None:
    body = (
        "created_at,note,INTERACTION_TYPE_X,platform,interaction_type,content_id,user_id,"
        "interaction_id\n"
        "2026-11-25T01:00:00-05:00,hello,x,ios,  LiKe ,c1,u1,i1\n"
        "2026-11-25T01:00:00Z,,x,,Comment,c1,u1,i2\n"
    )
    r = ingest_file(settings, "social_interactions", write(tmp_path, "social_interactions", body))
    assert r.extra_columns == ("note", "INTERACTION_TYPE_X")
    assert (r.rows_loaded, r.rows_rejected) == (2, 0)
    assert rows(
        settings,
        "SELECT interaction_id, interaction_type, platform, "
        "strftime(created_at AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M') "
        "FROM raw.social_interactions ORDER BY 1",
    ) == [("i1", "like", "ios", "2026-11-25 06:00"), ("i2", "comment", None, "2026-11-25 01:00")]
    assert rows(settings, "SELECT extra_columns FROM raw.load_audit") == [
        ("note,INTERACTION_TYPE_X",)
    ]


def test_trailing_comma_in_header_is_an_unnamed_extra_column(
    settings: Settings, tmp_path: Path
) -> None:
    body = f"{VIEW_HEADER},\n{GOOD_VIEW},\n{GOOD_VIEW.replace('v1', 'v2')},ignored\n"
    r = ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", body))
    assert (r.rows_in_file, r.rows_loaded, r.rows_rejected) == (2, 2, 0)
    assert r.extra_columns == ("(unnamed column 10)",)
    assert rows(settings, "SELECT extra_columns FROM raw.load_audit") == [("(unnamed column 10)",)]


def test_missing_required_column_refuses_file_and_leaves_warehouse_unchanged(
    settings: Settings, tmp_path: Path
) -> None:
    ingest_file(
        settings,
        "viewing_logs",
        write(tmp_path, "viewing_logs", VIEW_HEADER + "\n" + GOOD_VIEW + "\n"),
    )
    before = snapshot(settings)
    header = VIEW_HEADER.replace("watch_duration_s,", "").replace("user_id,", "")
    bad = write(tmp_path, "viewing_logs", header + "\nv9,c9,x,2026-11-25T08:15:30Z,5,tv,DE\n")
    with pytest.raises(MissingColumnError) as exc:
        ingest_file(settings, "viewing_logs", bad)
    msg = str(exc.value)
    assert str(bad) in msg and "user_id" in msg and "watch_duration_s" in msg
    assert snapshot(settings) == before


@pytest.mark.parametrize("large_file_path", [False, True], ids=["exact-scan", "parity-scan"])
def test_mixed_lf_and_crlf_line_ends_load_with_exact_line_numbers(
    settings: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    large_file_path: bool,
) -> None:
    # DuckDB's strict reader refuses a file whose lines end in both LF and CRLF (as files
    # joined from several sources do); the loader reads a copy with LF ends instead.
    if large_file_path:
        monkeypatch.setattr("ingest.validate.EXACT_SPANS_MAX_BYTES", 0)
    body = (
        VIEW_HEADER
        + "\r\n"  # line 1
        + GOOD_VIEW
        + "\n"  # 2
        + 'v2,u1,c1,"two\r\nlines",2026-11-25T08:15:30Z,5,60,tv,DE\r\n'  # 3-4
        + "v3,u1,c1,drama,2026-11-25T08:15:30Z,ten,60,tv,DE\n"  # 5: rejected
        + "v4,u1,c1,drama,2026-11-25T08:15:30Z,7,60,tv\r\n"  # 6: a field short
        + "v5,u1,c1,drama,2026-11-25T08:15:30Z,9,60,tv,FR\n"  # 7
    )
    with caplog.at_level("INFO", logger="ingest.validate"):
        r = ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", body))
    assert "both LF and CRLF line ends; reading a copy with LF" in caplog.text
    assert (r.rows_in_file, r.rows_loaded, r.rows_rejected) == (5, 3, 2)
    assert rows(settings, "SELECT view_id, genre, country FROM raw.viewing_logs ORDER BY 1") == [
        ("v1", "drama", "DE"),
        ("v2", "two\r\nlines", "DE"),  # a CRLF inside quotes is data, kept
        ("v5", "drama", "FR"),
    ]
    assert rows(settings, "SELECT line_number FROM raw.viewing_logs_rejected ORDER BY 1") == [
        (5,),
        (6,),
    ]


@pytest.mark.parametrize("header_end", ["\n", "\r\n"], ids=["lf-header", "crlf-header"])
def test_mixed_line_ends_with_every_field_quoted_are_not_misread(
    settings: Settings, tmp_path: Path, header_end: str
) -> None:
    # With every field quoted and line ends that differ from the first line's, DuckDB's
    # reader rejected good records without raising an error (or read one record in all).
    other_end = "\r\n" if header_end == "\n" else "\n"
    records = [
        [f"v{i}", "u1", "c1", "drama", "2026-11-25T08:15:30Z", str(i), "600", "tv", "DE"]
        for i in range(40)
    ]
    records[1][3] = "Talk\r\nShow"
    records[3] = records[3][:-1]  # a field short: the one reject, on line 6
    out = io.StringIO()
    csv.writer(out, lineterminator=header_end, quoting=csv.QUOTE_ALL).writerow(
        VIEW_HEADER.split(",")
    )
    csv.writer(out, lineterminator=other_end, quoting=csv.QUOTE_ALL).writerows(records)
    r = ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", out.getvalue()))
    assert (r.rows_in_file, r.rows_loaded, r.rows_rejected) == (40, 39, 1)
    assert rows(settings, "SELECT line_number FROM raw.viewing_logs_rejected") == [(6,)]
    assert rows(settings, "SELECT genre FROM raw.viewing_logs WHERE view_id = 'v1'") == [
        ("Talk\r\nShow",)
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            "\r".join([VIEW_HEADER, GOOD_VIEW, GOOD_VIEW.replace("100", "x"), ""]),
            r"line 1 \(header\) has a carriage return .* CR-only",
            id="cr-only-line-endings",
        ),
        pytest.param(
            "\n".join([VIEW_HEADER, GOOD_VIEW, GOOD_VIEW.replace("drama", "dra\rma"), ""]),
            r"line 3: a carriage return \(CR\) outside quotes",
            id="cr-in-an-unquoted-field",
        ),
    ],
)
def test_stray_carriage_return_refuses_file_naming_the_line(
    settings: Settings, tmp_path: Path, body: str, message: str
) -> None:
    ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", VIEW_HEADER + "\n"))
    before = snapshot(settings)
    bad = write(tmp_path, "viewing_logs", body)
    with pytest.raises(IngestError, match=message) as exc:
        ingest_file(settings, "viewing_logs", bad)
    assert str(bad) in str(exc.value) and str(exc.value).endswith("again")
    assert snapshot(settings) == before


def test_a_file_refused_after_reading_its_lf_copy_names_only_the_file(
    settings: Settings, tmp_path: Path
) -> None:
    # Both LF and CRLF line ends (read from an LF copy), then a stray quote followed by a CR
    # inside a field: quote parity cannot place that CR, so the reader's own error is shown.
    lines = [VIEW_HEADER] + [GOOD_VIEW.replace("v1,", f"v{i},") for i in range(6)]
    lines[2] = lines[2].replace("u1,", 'u1",')
    lines[5] = lines[5].replace(",200,", ",2\r00,")
    body = lines[0] + "\r\n" + "\n".join(lines[1:]) + "\n"
    bad = write(tmp_path, "viewing_logs", body)
    with pytest.raises(IngestError, match="could not be parsed as CSV") as exc:
        ingest_file(settings, "viewing_logs", bad)
    message = str(exc.value)
    assert message.startswith(str(bad)) and message.endswith("again")
    assert "nj-read-" not in message  # the temporary copy's path
    assert f"file = {bad}" in message


def test_missing_column_cli_exits_non_zero(settings: Settings, tmp_path: Path) -> None:
    bad = write(tmp_path, "viewing_logs", "view_id,user_id\nv1,u1\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ingest",
            "--file",
            str(bad),
            "--table",
            "viewing_logs",
            "--duckdb-path",
            str(settings.duckdb_path),
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    assert proc.returncode == 1
    assert "content_id" in proc.stderr and str(bad) in proc.stderr


REJECT_BODY = (
    (
        VIEW_HEADER
        + "\n"  # line 1
        + GOOD_VIEW
        + "\n"  # 2
        + 'v2,u1,c1,"multi\nline\ngenre",2026-11-25T08:15:30Z,-5,0,tv,DE\n'  # 3-5
        + "\n"  # 6 blank
        + ",u1,c1,,2026-11-25T08:15:30Z,1,,,\n"  # 7
        + "v4,   ,c1,,2026-11-25T08:15:30Z,1,,,\n"  # 8
        + "v5,u1,c1,,2026-11-25T08:15:30Z,1.5,,,\n"  # 9
        + "v6,u1,c1,,2026-11-25T08:15:30Z,ten,,,\n"  # 10
        + "v7,u1,c1,,2026-13-25T08:15:30Z,1,,,\n"  # 11
        + "v8,u1,c1,,2026-11-25T08:15:30Z,1,,\n"  # 12 too few
        + "v9,u1,c1,,2026-11-25T08:15:30Z,1,,,,\n"  # 13 too many
        + "v10,u1,c1,,2026-11-25T08:15:30Z,1,,,\n"  # 14 good
    ).encode()
    + b"v11,u1,c1,caf\xe9,2026-11-25T08:15:30Z,1,,,\n"
    + (  # 15 bad utf-8
        "v12,u1,c1,,,1,,,\n"  # 16
        + "v13,u1,c1,,2026-11-25T08:15:30Z,,60,,\n"  # 17
    ).encode()
)


def test_every_reject_kind_with_line_numbers_and_text(settings: Settings, tmp_path: Path) -> None:
    r = ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", REJECT_BODY))
    assert (r.rows_in_file, r.rows_loaded, r.rows_rejected) == (13, 2, 11)
    got = rows(
        settings,
        "SELECT line_number, reason, line_text FROM raw.viewing_logs_rejected ORDER BY 1",
    )
    lines = [g[0] for g in got]
    assert lines == [3, 7, 8, 9, 10, 11, 12, 13, 15, 16, 17]
    by_line = {g[0]: g for g in got}
    assert by_line[3][2] == 'v2,u1,c1,"multi\nline\ngenre",2026-11-25T08:15:30Z,-5,0,tv,DE'
    assert "watch_duration_s" in by_line[3][1] and "content_duration_s" in by_line[3][1]
    assert "view_id: required value is empty" in by_line[7][1]
    assert "user_id: required value is empty" in by_line[8][1]
    assert "'1.5' is not an integer" in by_line[9][1]
    assert "'ten' is not an integer" in by_line[10][1]
    assert "started_at" in by_line[11][1] and "ISO 8601" in by_line[11][1]
    assert "wrong number of fields: 8 instead of 9" in by_line[12][1]
    assert "wrong number of fields: 10 instead of 9" in by_line[13][1]
    assert by_line[13][2] == "v9,u1,c1,,2026-11-25T08:15:30Z,1,,,,"
    assert "UTF-8" in by_line[15][1] and by_line[15][2].startswith("v11,u1,c1,caf\ufffd")
    assert "started_at: required value is empty" in by_line[16][1]
    assert "watch_duration_s: required value is empty" in by_line[17][1]
    loaded = rows(settings, "SELECT view_id, _source_row FROM raw.viewing_logs ORDER BY 2")
    assert [v for v, _ in loaded] == ["v1", "v10"]
    audit = rows(settings, "SELECT rows_in_file, rows_loaded, rows_rejected FROM raw.load_audit")
    assert audit == [(13, 2, 11)]


def test_rejected_record_text_is_kept_exactly(settings: Settings, tmp_path: Path) -> None:
    # Quotes, apostrophes, backslashes, a NUL, non-ASCII text and a record over 16 MB
    # (the JSON reader's default object limit) all reach the rejected table unchanged.
    odd = 'v2,u1,c1,"It\'s ""odd"" \\ caf\u00e9 \U0001f600 \x00 end",2026-11-25T08:15:30Z,ten,,,'
    huge = f"v3,u1,c1,{'x' * (17 << 20)},2026-11-25T08:15:30Z,-1,,,"
    body = "\n".join([VIEW_HEADER, GOOD_VIEW, odd, huge]) + "\n"
    r = ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", body))
    assert (r.rows_in_file, r.rows_loaded, r.rows_rejected) == (3, 1, 2)
    got = rows(
        settings, "SELECT line_number, line_text, reason FROM raw.viewing_logs_rejected ORDER BY 1"
    )
    assert [(n, text) for n, text, _ in got] == [(3, odd), (4, huge)]
    assert "'ten' is not an integer" in got[0][2]
    assert "is negative" in got[1][2]


def test_wrong_field_count_with_a_long_field_on_the_large_file_path(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Files over EXACT_SPANS_MAX_BYTES find record boundaries without the csv module; the
    # reason for a wrong field count still parses the record, whatever its field length.
    monkeypatch.setattr("ingest.validate.EXACT_SPANS_MAX_BYTES", 0)
    long_row = f"v2,u1,c1,{'y' * (200 << 10)},2026-11-25T08:15:30Z,1,,,,"
    body = "\n".join([VIEW_HEADER, GOOD_VIEW, long_row]) + "\n"
    r = ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", body))
    assert (r.rows_in_file, r.rows_loaded, r.rows_rejected) == (2, 1, 1)
    assert rows(settings, "SELECT line_number, reason FROM raw.viewing_logs_rejected") == [
        (3, "wrong number of fields: 10 instead of 9 (the header's column count)")
    ]


def test_loading_rejects_does_not_import_pandas(settings: Settings, tmp_path: Path) -> None:
    # Binding query parameters makes DuckDB's Python client import pandas (0.4 s warm,
    # seconds cold) in every nightly run that has a bad row; the loader binds none.
    path = write(tmp_path, "viewing_logs", REJECT_BODY)
    code = textwrap.dedent(
        f"""
        import sys
        from ingest import ingest_file
        from config.settings import Settings
        r = ingest_file(Settings(target="ci", duckdb_path={str(settings.duckdb_path)!r}),
                        "viewing_logs", {str(path)!r})
        assert r.rows_rejected == 11, r
        print("pandas" in sys.modules)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True
    )
    assert proc.stdout.strip() == "False"


def test_bad_interaction_type_rejected(settings: Settings, tmp_path: Path) -> None:
    body = (
        SOCIAL_HEADER
        + "\ni1,u1,c1,love,ios,2026-11-25T01:00:00Z\ni2,u1,c1,SHARE,,2026-11-25T01:00:00Z\n"
    )
    r = ingest_file(settings, "social_interactions", write(tmp_path, "social_interactions", body))
    assert (r.rows_loaded, r.rows_rejected) == (1, 1)
    assert rows(settings, "SELECT line_number, reason FROM raw.social_interactions_rejected") == [
        (2, "interaction_type: 'love' is not one of like, share, comment")
    ]


def test_reload_replaces_slice_and_keeps_other_dates(settings: Settings, tmp_path: Path) -> None:
    d2 = date(2026, 11, 26)
    ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", REJECT_BODY))
    ingest_file(
        settings,
        "viewing_logs",
        write(
            tmp_path, "viewing_logs", VIEW_HEADER + "\n" + GOOD_VIEW.replace("v1", "w1") + "\n", d2
        ),
    )
    first = snapshot(settings)
    ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", REJECT_BODY))
    again = snapshot(settings)
    assert len(again["viewing_logs"]) == 3 and len(again["viewing_logs_rejected"]) == 11
    assert len(again["load_audit"]) == 2 and again != first  # new load id and load time
    corrected = VIEW_HEADER + "\n" + GOOD_VIEW.replace(",100,", ",111,") + "\n" + GOOD_VIEW + "\n"
    r = ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", corrected))
    assert (r.rows_in_file, r.rows_loaded, r.rows_rejected) == (2, 2, 0)
    assert rows(
        settings,
        f"SELECT view_id, watch_duration_s, {FILE_ORDER}, _file_date "
        "FROM raw.viewing_logs ORDER BY 4, 3",
    ) == [("v1", 111, 1, DAY), ("v1", 100, 2, DAY), ("w1", 100, 1, d2)]
    assert rows(settings, "SELECT count(*) FROM raw.viewing_logs_rejected") == [(0,)]
    assert rows(settings, "SELECT _file_date, rows_in_file FROM raw.load_audit ORDER BY 1") == [
        (DAY, 2),
        (d2, 1),
    ]


def after_writing_rows(monkeypatch: pytest.MonkeyPatch, then) -> None:  # type: ignore[no-untyped-def]
    """Make every load call ``then(written)`` right after its rows are written, inside its
    transaction; the load goes on with what ``then`` returns."""
    from ingest.warehouse import duckdb_warehouse

    write_rows = duckdb_warehouse.write_rows
    monkeypatch.setattr(
        duckdb_warehouse, "write_rows", lambda *args, **kw: then(write_rows(*args, **kw))
    )


def assert_failed_load_changes_nothing(
    settings: Settings, tmp_path: Path, body: str, error: type[Exception], match: str, arm
) -> None:  # type: ignore[no-untyped-def]
    """Load a day, ``arm()`` a fault, then fail to re-load the day from ``body``: the
    warehouse must be exactly as the first load left it."""
    ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", REJECT_BODY))
    before = snapshot(settings)
    arm()
    with pytest.raises(error, match=match):
        ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", body))
    assert snapshot(settings) == before


BODIES = pytest.mark.parametrize(
    "body", [VIEW_HEADER + "\n" + GOOD_VIEW + "\n", REJECT_BODY], ids=["clean", "rejects"]
)


@BODIES
def test_failure_inside_transaction_rolls_back(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str
) -> None:
    def boom(written):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom after the rows were written")

    assert_failed_load_changes_nothing(
        settings,
        tmp_path,
        body,
        RuntimeError,
        "boom after",
        lambda: after_writing_rows(monkeypatch, boom),
    )


def test_process_killed_mid_load_leaves_previous_slice(settings: Settings, tmp_path: Path) -> None:
    ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", REJECT_BODY))
    before = snapshot(settings)
    new = write(tmp_path, "viewing_logs", VIEW_HEADER + "\n" + GOOD_VIEW + "\n")
    script = textwrap.dedent(f"""
        import os
        from ingest import ingest_file
        from ingest.warehouse import duckdb_warehouse
        from config.settings import Settings

        write_rows = duckdb_warehouse.write_rows
        def dying(*args, **kw):
            write_rows(*args, **kw)
            os._exit(9)
        duckdb_warehouse.write_rows = dying
        ingest_file(Settings(target="ci", duckdb_path={str(settings.duckdb_path)!r}),
                    "viewing_logs", {str(new)!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, check=False)
    assert proc.returncode == 9
    assert snapshot(settings) == before


@BODIES
def test_reconciliation_failure_rolls_back(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str
) -> None:
    def one_more_record(written):  # type: ignore[no-untyped-def]
        (in_file, *counts), *rest = written
        return ((in_file + 1, *counts), *rest)

    assert_failed_load_changes_nothing(
        settings,
        tmp_path,
        body,
        IngestError,
        "reconciliation failed",
        lambda: after_writing_rows(monkeypatch, one_more_record),
    )


def test_a_reject_lost_on_the_way_fails_reconciliation(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest import validate

    locate = validate._locate
    assert_failed_load_changes_nothing(
        settings,
        tmp_path,
        REJECT_BODY,
        IngestError,
        "reconciliation failed",
        lambda: monkeypatch.setattr(validate, "_locate", lambda *a: iter(list(locate(*a))[1:])),
    )


def test_records_that_cannot_be_mapped_to_lines_refuse_the_file(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest import csvfile

    # As if the file's record boundaries disagreed with DuckDB's reader.
    no_records = csvfile.RecordSpans(*[np.zeros(0, dtype=np.int64)] * 3)
    assert_failed_load_changes_nothing(
        settings,
        tmp_path,
        REJECT_BODY,
        IngestError,
        "found 0 data records but the CSV reader parsed 13",
        lambda: monkeypatch.setattr(csvfile, "record_spans_exact", lambda path: no_records),
    )


def test_ingest_date_skips_missing_table_and_refuses_empty_date(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path, "viewing_logs", VIEW_HEADER + "\n" + GOOD_VIEW + "\n")
    results = ingest_date(settings, DAY, tmp_path / "src")
    assert [r.table for r in results] == ["viewing_logs"]
    assert "social_interactions" in caplog.text and "missing" in caplog.text
    with pytest.raises(IngestError) as exc:
        ingest_date(settings, date(2026, 1, 1), tmp_path / "src")
    assert "viewing_logs/2026-01-01.csv" in str(exc.value)
    assert "social_interactions/2026-01-01.csv" in str(exc.value)


def test_header_only_file_and_empty_file(settings: Settings, tmp_path: Path) -> None:
    r = ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", VIEW_HEADER + "\r\n"))
    assert (r.rows_in_file, r.rows_loaded, r.rows_rejected) == (0, 0, 0)
    with pytest.raises(IngestError, match="header"):
        ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", ""))


def test_record_longer_than_the_readers_default_limit_loads(
    settings: Settings, tmp_path: Path
) -> None:
    long_genre = "x" * (3 << 20)  # over DuckDB's default 2 MB line limit, under ours
    body = VIEW_HEADER + "\n" + GOOD_VIEW.replace("drama", f'"{long_genre}"') + "\n" + GOOD_VIEW
    r = ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", body + "\n"))
    assert (r.rows_in_file, r.rows_loaded, r.rows_rejected) == (2, 2, 0)
    got = rows(settings, f"SELECT length(genre), {FILE_ORDER} FROM raw.viewing_logs ORDER BY 2")
    assert got == [
        (3 << 20, 1),
        (5, 2),
    ]


def test_quoted_line_breaks_in_a_file_the_parallel_reader_refuses(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # DuckDB's parallel reader refuses files like this one (quoted line breaks, padded
    # missing fields): the loader must read it anyway, with the same rules and line numbers.
    records = [f"v{i},u1,c1,drama,2026-11-25T08:15:30Z,{i},600,tv,DE" for i in range(3000)]
    records[1] = 'v1,u1,c1,"a\nb",2026-11-25T08:15:30Z,1,600,tv,DE'  # LF in a CRLF file
    records[500] = "v500,u1,c1,drama,2026-11-25T08:15:30Z,500,600,tv"  # a field short
    records[2999] = "v7,u1,c1,drama,2026-11-25T08:15:30Z,77,600,tv,DE"  # v7 again, last
    body = VIEW_HEADER + "\r\n" + "\r\n".join(records) + "\r\n"
    with caplog.at_level("INFO", logger="ingest.validate"):
        r = ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", body))
    # The file does need the single-threaded read (if DuckDB starts taking it in parallel,
    # this fails: the workaround in validate_file can then go).
    assert "reading the file in a single thread" in caplog.text
    assert (r.rows_in_file, r.rows_loaded, r.rows_rejected) == (3000, 2999, 1)
    # Header = line 1, record i on line i + 2, plus one for the record with a line break.
    assert rows(settings, "SELECT line_number, reason FROM raw.viewing_logs_rejected") == [
        (503, "wrong number of fields: 8 instead of 9 (the header's column count)")
    ]
    assert rows(settings, "SELECT genre FROM raw.viewing_logs WHERE view_id = 'v1'") == [("a\nb",)]
    assert rows(
        settings,
        "SELECT watch_duration_s FROM raw.viewing_logs WHERE view_id = 'v7' ORDER BY _source_row",
    ) == [(7,), (77,)]


#: Folder names that a pattern reader would expand: each must load that folder and no other.
PATTERN_FOLDERS = ["src[ab]", "src?", "src*", "src{a,b}", "src 'q' [x]", "s p a c e"]


@pytest.mark.parametrize("folder", PATTERN_FOLDERS)
def test_source_dir_is_literal_whatever_its_characters(
    settings: Settings, tmp_path: Path, folder: str
) -> None:
    """The path is the folder, never a pattern: a decoy beside it that a glob of the name
    would match (srca, srcb, srcx, ...) is never read, and a bad row still names the file."""
    decoy = "v9,u9,c9,drama,2026-11-25T08:15:30Z,1,2,tv,DE"
    for name in ("srca", "srcb", "srcx", "src", "src'q' x", "sxpxaxcxe"):
        path = expected_path(tmp_path / name, "viewing_logs", DAY)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{VIEW_HEADER}\n{decoy}\n{decoy.replace('v9', 'v8')}\n")
    source = tmp_path / folder
    path = expected_path(source, "viewing_logs", DAY)
    path.parent.mkdir(parents=True)
    path.write_text(f"{VIEW_HEADER}\n{GOOD_VIEW}\nv2,u1,c1,drama,not-a-time,5,6,tv,DE\n")
    (result,) = ingest_date(settings, DAY, source, tables=["viewing_logs"])
    assert (result.rows_in_file, result.rows_loaded, result.rows_rejected) == (2, 1, 1)
    assert rows(settings, "SELECT view_id FROM raw.viewing_logs") == [("v1",)]
    assert rows(settings, "SELECT line_number FROM raw.viewing_logs_rejected") == [(3,)]


def test_durations_above_ten_years_are_rejected_with_a_reason(
    settings: Settings, tmp_path: Path
) -> None:
    """int64 max is an integer >= 0, but 10 * it overflows the mart arithmetic: such a value
    is refused at ingest, with its reason, and rows in = loaded + rejected still holds."""
    int64_max = 2**63 - 1
    body = "\n".join(
        [
            VIEW_HEADER,
            GOOD_VIEW,
            f"v2,u1,c1,drama,2026-11-25T08:15:30Z,{int64_max},200,tv,DE",
            "v3,u1,c1,drama,2026-11-25T08:15:30Z,315360000,315360000,tv,DE",
            "v4,u1,c1,drama,2026-11-25T08:15:30Z,5,315360001,tv,DE",
        ]
    )
    r = ingest_file(settings, "viewing_logs", write(tmp_path, "viewing_logs", body + "\n"))
    assert (r.rows_in_file, r.rows_loaded, r.rows_rejected) == (4, 2, 2)
    got = rows(settings, "SELECT line_number, reason FROM raw.viewing_logs_rejected ORDER BY 1")
    assert got == [
        (3, f"watch_duration_s: '{int64_max}' is above the maximum 315360000"),
        (5, "content_duration_s: '315360001' is above the maximum 315360000"),
    ]
    assert rows(settings, "SELECT view_id FROM raw.viewing_logs ORDER BY 1") == [("v1",), ("v3",)]
