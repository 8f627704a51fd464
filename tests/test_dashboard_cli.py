"""The dashboard command line: help, and clear failures when there is nothing to show."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from dashboard.__main__ import EXIT_NO_MARTS, main
from dashboard.render import data_value, format_value

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_help_documents_the_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dashboard", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    for option in ("--target", "--out", "--duckdb-path", "reports/dashboard.html"):
        assert option in result.stdout


def test_missing_warehouse_exits_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.duckdb"
    out = tmp_path / "d.html"
    assert main(["--duckdb-path", str(missing), "--out", str(out)]) == EXIT_NO_MARTS
    err = capsys.readouterr().err
    assert str(missing) in err and "run the pipeline first" in err
    assert not out.exists() and not missing.exists()


def test_warehouse_without_marts_names_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "raw-only.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema raw; create table raw.viewing_logs (view_id varchar)")
    assert main(["--duckdb-path", str(db), "--check"]) == EXIT_NO_MARTS
    err = capsys.readouterr().err
    assert "mart_content_performance" in err and "mart_users" in err


def test_unknown_target_is_refused() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--target", "staging"])
    assert exc.value.code == 2


@pytest.mark.parametrize(
    ("value", "kind", "shown", "exact"),
    [
        (1234567, "int", "1,234,567", "1234567"),
        (0.123456, "rate", "12.3%", "0.123456"),
        (3601 / 3600, "hours", "1.0", repr(3601 / 3600)),
        (None, "rate", "n/a", ""),
    ],
)
def test_headline_formats(value: float | None, kind: str, shown: str, exact: str) -> None:
    from dashboard.metrics import Headline

    headline = Headline("k", "K", value, kind)
    assert format_value(headline) == shown
    assert data_value(value) == exact
