"""One run at a time per warehouse: an exclusive lock on a file beside it.

The lock is ``flock(2)`` on ``<warehouse>.lock`` (for BigQuery, a file named after the
project and dataset prefix in the local state folder), so the kernel releases it when the
holding process ends, however it ends: a run killed with SIGKILL leaves no lock behind, and
the next run takes over, saying so. While held, the file names the holder (pid, host, start
time, command) for the message a second run prints.

The lock is re-entrant within one process: the command line takes it before starting
Prefect (so a second run fails at once), and the flow, which deployments run directly,
takes it again without blocking itself.

Production runs on Prefect Cloud are also limited to one at a time by the deployment's
concurrency limit; this lock guards a warehouse against every other way of running.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

_held: dict[Path, int] = {}
_guard = threading.Lock()


class RunLockedError(RuntimeError):
    """Another run holds the warehouse."""


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return "an unknown process"
    if not info:
        return "an unknown process"
    return (
        f"pid {info.get('pid')} on {info.get('host')}, started {info.get('started')} "
        f"({info.get('command')})"
    )


@contextlib.contextmanager
def run_lock(path: Path, *, wait: bool = False) -> Iterator[Path]:
    """Hold the run lock ``path`` for the block; raise :class:`RunLockedError` when another
    process holds it (or wait for it with ``wait``)."""
    path = Path(path).resolve()
    with _guard:
        if path in _held:
            _held[path] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield path
        finally:
            with _guard:
                _held[path] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(path)
            if not wait:
                raise RunLockedError(
                    f"another run holds this warehouse: {holder}. Nothing was loaded. Wait "
                    f"for it to finish, or pass --wait to queue behind it (lock: {path})"
                ) from None
            log.info("waiting for the run that holds %s: %s", path, holder)
            fcntl.flock(fd, fcntl.LOCK_EX)
        previous = os.read(fd, 4096)
        if previous.strip():
            log.warning(
                "taking over the run lock %s, left by a run that ended without releasing it (%s)",
                path,
                _holder(path),
            )
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(sys.argv)[:200],
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        os.fsync(fd)
        with _guard:
            _held[path] = 1
        try:
            yield path
        finally:
            with _guard:
                del _held[path]
            os.ftruncate(fd, 0)  # a clean end leaves no holder behind
    finally:
        os.close(fd)  # closing releases the flock
