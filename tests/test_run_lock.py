"""One run at a time per warehouse (``flows/run_lock.py``), with real processes."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import REPO_ROOT, Settings
from flows.cli import main
from flows.run_lock import RunLockedError, run_lock

HOLD = (
    "import sys, time\n"
    "from flows.run_lock import run_lock\n"
    "with run_lock(sys.argv[1]):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(float(sys.argv[2]))\n"
)


def _holder(lock: Path, seconds: float = 120) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock), str(seconds)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_a_second_run_is_refused_at_once_naming_the_holder(
    duckdb_path: Path, small_drops: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = Settings.from_env(target="dev").run_lock_path
    holder = _holder(lock)
    try:
        status = main(["--run-date", "2026-03-01", "--source-dir", str(small_drops)])
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert status == 1
    assert f"pid {holder.pid} on {socket.gethostname()}" in err
    assert "started 20" in err and "Nothing was loaded" in err and "--wait" in err
    assert not duckdb_path.exists()  # refused before anything was loaded


def test_a_lock_left_by_a_killed_run_is_taken_over(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lock = tmp_path / "wh.duckdb.lock"
    holder = _holder(lock)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert str(holder.pid) in lock.read_text()  # it never got to clean up
    with caplog.at_level(logging.WARNING, logger="flows.run_lock"), run_lock(lock):
        assert str(os.getpid()) in lock.read_text()
    assert f"pid {holder.pid}" in caplog.text and "taking over" in caplog.text
    assert lock.read_text() == ""  # released cleanly this time


def test_wait_queues_behind_the_holder(tmp_path: Path) -> None:
    lock = tmp_path / "wh.duckdb.lock"
    holder = _holder(lock, seconds=1)
    with pytest.raises(RunLockedError), run_lock(lock):
        pass
    with run_lock(lock, wait=True):
        assert holder.wait(timeout=60) == 0  # it had finished before we got the lock
        assert str(os.getpid()) in lock.read_text()


def test_the_lock_is_reentrant_within_a_process(tmp_path: Path) -> None:
    lock = tmp_path / "wh.duckdb.lock"
    with run_lock(lock), run_lock(lock):
        pass
    with run_lock(lock):  # and free again afterwards
        pass


def test_each_warehouse_has_its_own_lock_and_dbt_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.daily_pipeline as pipeline

    a = Settings(target="dev", duckdb_path=tmp_path / "a.duckdb")
    b = Settings(target="dev", duckdb_path=tmp_path / "b.duckdb")
    assert a.run_key != b.run_key and a.run_lock_path != b.run_lock_path
    assert a.run_key == Settings(target="dev", duckdb_path=tmp_path / "a.duckdb").run_key
    seen: list[dict] = []
    monkeypatch.setattr(pipeline, "run_dbt_build", lambda *args, **kw: seen.append(kw))
    pipeline.dbt_build(a)
    pipeline.dbt_build(b)
    targets = [kw["extra"][kw["extra"].index("--target-path") + 1] for kw in seen]
    assert targets[0] != targets[1] and a.run_key in targets[0] and b.run_key in targets[1]
    assert a.run_key in str(seen[0]["log_path"]) and b.run_key in str(seen[1]["log_path"])
