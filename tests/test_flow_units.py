"""The flow's plain functions: dates, retry policy, dbt result handling, summary."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from config.settings import REPO_ROOT
from flows.cli import default_run_date, parse_args, run_dates
from flows.dbt_build import (
    ERRORED,
    FAILED,
    PASSED,
    SKIPPED,
    DbtBuildError,
    DbtBuildResult,
    NodeResult,
    build_args,
    count_outcomes,
    describe_failure,
    raise_for_failure,
)
from flows.retry import is_transient, retry_on_transient
from flows.summary import PipelineSummary, render_markdown
from ingest import IngestError, LoadResult, MissingColumnError, NoInputError


def test_run_dates_single_day_and_backfill_range_in_order() -> None:
    assert run_dates(date(2026, 11, 20)) == [date(2026, 11, 20)]
    assert run_dates(date(2026, 11, 29), date(2026, 12, 2)) == [
        date(2026, 11, 29),
        date(2026, 11, 30),
        date(2026, 12, 1),
        date(2026, 12, 2),
    ]


def test_run_dates_refuses_an_end_before_the_start() -> None:
    with pytest.raises(ValueError, match="before run date"):
        run_dates(date(2026, 11, 20), date(2026, 11, 19))


def test_default_run_date_is_yesterday() -> None:
    assert default_run_date(date(2026, 3, 1)) == date(2026, 2, 28)
    assert run_dates(None) == [default_run_date()]


def test_cli_parses_dates_and_documents_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse_args(["--run-date", "2026-11-20", "--end-date", "2026-11-22", "--full-refresh"])
    assert (args.run_date, args.end_date, args.full_refresh) == (
        date(2026, 11, 20),
        date(2026, 11, 22),
        True,
    )
    assert args.source_dir == "sample_data" and args.target is None and not args.dashboard
    with pytest.raises(SystemExit):
        parse_args(["--run-date", "20/11/2026"])
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for expected in ("yesterday", "NIGHTJAR_TARGET", "default: sample_data", "--end-date"):
        assert expected in text


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionResetError("peer reset"),
        ConnectionError("refused"),
        TimeoutError("read timed out"),
        OSError(5, "I/O error"),
    ],
)
def test_transient_errors_are_retried(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        IngestError("viewing_logs/2026-11-20.csv: line 3: bad"),
        MissingColumnError("x.csv: header (line 1) is missing required column(s) user_id"),
        FileNotFoundError("sample_data/viewing_logs/2026-11-20.csv"),
        PermissionError("denied"),
        ValueError("not a number"),
        KeyError("column"),
    ],
)
def test_data_and_setup_errors_are_not_retried(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_cause_chain_decides_but_a_data_error_always_wins() -> None:
    try:
        try:
            raise ConnectionResetError("reset")
        except ConnectionResetError as inner:
            raise RuntimeError("query failed") from inner
    except RuntimeError as wrapped:
        assert is_transient(wrapped)

    try:
        try:
            raise OSError("disk hiccup")
        except OSError as inner:
            raise IngestError("file refused") from inner
    except IngestError as data_error:
        assert not is_transient(data_error)

    assert not is_transient(DbtBuildError(_result(success=False)))


def test_google_api_transient_errors_are_retried() -> None:
    gexc = pytest.importorskip("google.api_core.exceptions")
    assert is_transient(gexc.ServiceUnavailable("503"))
    assert is_transient(gexc.TooManyRequests("429"))
    assert is_transient(gexc.InternalServerError("500"))
    assert not is_transient(gexc.BadRequest("invalid query"))
    assert not is_transient(gexc.NotFound("no such table"))


def test_retry_condition_reads_the_exception_from_the_failed_state() -> None:
    from prefect.states import Completed, Failed

    assert retry_on_transient(None, None, Failed(data=ConnectionResetError("reset")))
    assert not retry_on_transient(None, None, Failed(data=IngestError("bad file")))
    assert not retry_on_transient(None, None, Completed(data=1))


def _node(uid: str, status: str, outcome: str, seconds: float = 0.5, msg: str = "") -> NodeResult:
    return NodeResult(uid, uid.split(".")[0], status, outcome, seconds, msg)


def _result(success: bool) -> DbtBuildResult:
    nodes = (
        _node("model.nightjar.stg_content__viewing_logs", "success", PASSED, 0.2),
        _node(
            "test.nightjar.not_null_stg_content__viewing_logs_view_id",
            "fail",
            FAILED,
            0.1,
            "Got 3 results, configured to fail if != 0",
        ),
        _node("model.nightjar.mart_users", "skipped", SKIPPED, 0.0),
    )
    if success:
        nodes = (nodes[0],)
    return DbtBuildResult(
        success=success,
        nodes=nodes,
        seconds=4.2,
        log_path=Path("dbt/logs/dbt.log"),
        counts=count_outcomes(nodes),
    )


def test_build_args_are_one_build_with_project_profiles_target_and_refresh() -> None:
    args = build_args(Path("dbt"), "ci", full_refresh=True)
    assert args[0] == "build"
    assert args[args.index("--project-dir") + 1] == "dbt"
    assert args[args.index("--profiles-dir") + 1] == "dbt"
    assert args[args.index("--target") + 1] == "ci"
    assert "--full-refresh" in args
    assert "--full-refresh" not in build_args(Path("dbt"), "dev")
    assert args[args.index("--exclude-resource-type") + 1] == "unit_test"


def test_failure_message_names_the_failed_node_the_skipped_ones_and_the_log() -> None:
    result = _result(success=False)
    message = describe_failure(result)
    assert "FAILED: test.nightjar.not_null_stg_content__viewing_logs_view_id" in message
    assert "Got 3 results" in message
    assert "mart_users" in message
    assert str(Path("dbt/logs/dbt.log")) in message
    with pytest.raises(DbtBuildError) as info:
        raise_for_failure(result)
    assert info.value.result is result
    ok = _result(success=True)
    assert raise_for_failure(ok) is ok


def test_count_outcomes_lists_every_outcome() -> None:
    counts = count_outcomes(_result(success=False).nodes)
    assert counts == {"passed": 1, "warned": 0, "failed": 1, "errored": 0, "skipped": 1}
    assert count_outcomes(()) == dict.fromkeys(counts, 0)
    assert ERRORED in counts


def _load(
    table: str, day: date, name: str, read: int, loaded: int, rejected: int, extra: tuple = ()
) -> LoadResult:
    """One file's load result, as the ingest reports it."""
    return LoadResult(table, day, name, "load", datetime.now(UTC), read, loaded, rejected, extra)


def test_summary_markdown_reports_rows_nodes_and_timings() -> None:
    summary = PipelineSummary(
        target="dev",
        dates=[date(2026, 11, 20), date(2026, 11, 21)],
        source_dir="sample_data",
        warehouse="warehouse/nightjar.duckdb",
        loads=[
            _load("viewing_logs", date(2026, 11, 20), "2026-11-20.csv", 10, 8, 2, ("note",)),
            _load("viewing_logs", date(2026, 11, 21), "2026-11-21.csv", 5, 5, 0),
            _load("social_interactions", date(2026, 11, 20), "2026-11-20.csv", 7, 6, 1),
        ],
        ingest_seconds=1.5,
        dbt=_result(success=False),
        total_seconds=9.75,
        failure="DbtBuildError: dbt build failed.",
    )
    md = render_markdown(summary)
    assert "# Nightly pipeline FAILED" in md
    assert "2026-11-20 to 2026-11-21 (2 days)" in md
    assert "| viewing_logs | 2026-11-20.csv | 2026-11-20 | 10 | 8 | 2 | note |" in md
    # per-table totals: 2 files, 15 read, 13 loaded, 2 rejected
    assert "| viewing_logs | 2 | 15 | 13 | 2 |" in md
    assert "| social_interactions | 1 | 7 | 6 | 1 |" in md
    assert "| 1 | 0 | 1 | 0 | 1 | 3 | 4.20 |" in md
    assert "`test.nightjar.not_null_stg_content__viewing_logs_view_id` (fail)" in md
    assert "Skipped: `mart_users` (and 0 test(s))" in md
    assert "| total | 9.75 |" in md
    assert "Not reconciled" not in md


def test_summary_flags_a_file_that_does_not_reconcile() -> None:
    summary = PipelineSummary(target="dev", dates=[date(2026, 11, 20)], source_dir="d")
    summary.loads.append(_load("viewing_logs", date(2026, 11, 20), "a.csv", 10, 8, 1))
    md = render_markdown(summary)
    assert "Not reconciled" in md and "viewing_logs a.csv" in md
    assert "# Nightly pipeline succeeded" in md


def test_check_headers_refuses_the_run_when_any_file_lacks_a_required_column(
    tmp_path: Path,
) -> None:
    from flows.preflight import check_headers

    day1, day2 = date(2026, 11, 20), date(2026, 11, 21)
    (tmp_path / "viewing_logs").mkdir()
    (tmp_path / "social_interactions").mkdir()
    views = "view_id,user_id,content_id,started_at,watch_duration_s\n"
    (tmp_path / "viewing_logs" / f"{day1}.csv").write_text(views, encoding="utf-8")
    (tmp_path / "viewing_logs" / f"{day2}.csv").write_text("\ufeff" + views, encoding="utf-8")
    good = "interaction_type,created_at,content_id,user_id,interaction_id,extra\n"
    (tmp_path / "social_interactions" / f"{day1}.csv").write_text(good, encoding="utf-8")
    assert check_headers(tmp_path, [day1, day2]) == 3  # the missing file is ingest's to report

    bad = tmp_path / "social_interactions" / f"{day2}.csv"
    bad.write_text("interaction_id,content_id,interaction_type,created_at\n", encoding="utf-8")
    with pytest.raises(MissingColumnError) as info:
        check_headers(tmp_path, [day1, day2])
    assert str(bad) in str(info.value) and "user_id" in str(info.value)


def test_check_headers_refuses_a_backfill_with_a_date_that_has_no_file(tmp_path: Path) -> None:
    from flows.preflight import check_headers

    day1, gap, day3 = date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)
    (tmp_path / "viewing_logs").mkdir()
    views = "view_id,user_id,content_id,started_at,watch_duration_s\n"
    for day in (day1, day3):
        (tmp_path / "viewing_logs" / f"{day}.csv").write_text(views, encoding="utf-8")
    assert check_headers(tmp_path, [day1, day3]) == 2
    with pytest.raises(NoInputError, match="no input files for 2026-11-21"):
        check_headers(tmp_path, [day1, gap, day3])


@pytest.fixture
def no_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the command line gets as far as the flow (and so Prefect)."""
    import flows.daily_pipeline as pipeline

    def started(**_: object) -> None:
        pytest.fail("the flow started: the mistake should have been reported before Prefect")

    monkeypatch.setattr(pipeline, "daily_pipeline", started)


def test_a_missing_source_folder_is_reported_before_prefect_starts(
    no_flow: None, duckdb_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from flows.cli import main

    assert main(["--run-date", "2026-11-20", "--source-dir", "sampledata"]) == 1
    err = capsys.readouterr().err
    assert "sampledata: no such folder; check --source-dir" in err
    assert "Traceback" not in err and "Nothing was loaded" in err


def test_a_date_without_files_lists_the_nearest_dates_that_have_some(
    no_flow: None, duckdb_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from flows.cli import main

    dates = sorted({p.stem for p in (REPO_ROOT / "sample_data").glob("*/*.csv")})
    after = date.fromisoformat(dates[-1]) + timedelta(days=10)
    status = main(["--run-date", after.isoformat(), "--source-dir", str(REPO_ROOT / "sample_data")])
    assert status == 1
    err = capsys.readouterr().err
    assert f"no input files for {after}" in err
    assert f"dates with files: {', '.join(dates[-3:])} (nearest of {len(dates)}" in err
    assert f"{dates[0]} to {dates[-1]}" in err and "Traceback" not in err


def test_the_cloud_storage_download_is_a_retried_task_of_the_flow() -> None:
    from flows.daily_pipeline import download_task
    from flows.retry import RETRIES, retry_on_transient

    assert download_task.retries == RETRIES
    assert download_task.retry_condition_fn is retry_on_transient


def test_nightjar_dispatches_its_commands(capsys: pytest.CaptureFixture[str]) -> None:
    from flows.cli import nightjar

    assert nightjar([]) == 2 and "commands:" in capsys.readouterr().err
    for command, prog in (("run", "nightjar run"), ("ingest", "python -m ingest")):
        with pytest.raises(SystemExit) as exit_:
            nightjar([command, "--help"])
        assert exit_.value.code == 0 and prog in capsys.readouterr().out
