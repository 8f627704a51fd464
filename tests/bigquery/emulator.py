"""Start and stop the local BigQuery API emulator (bqemulator), loopback only, on free ports.

Standard library only: ``noxfile.py`` imports it to run the emulator around the BigQuery
tests, and a developer can run it by hand::

    python tests/bigquery/emulator.py --python .nox/bqemulator/bin/python \
        --home .nox/bqemulator/home

then point the pipeline at it with ``BIGQUERY_API_ENDPOINT=http://127.0.0.1:<port>``.

The emulator lives in its own virtualenv (it pins an older DuckDB than the project; see
``requirements-emulator.txt``). Its DuckDB extensions (spatial, avro) are installed once under
a project-local ``HOME`` so nothing is written to the user's home directory.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
PROJECT = "local-project"
STARTUP_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0


class EmulatorError(RuntimeError):
    """The emulator could not be installed or started."""


@dataclass(frozen=True)
class Emulator:
    """A running emulator: its REST endpoint, project and process."""

    endpoint: str
    project: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def env(self) -> dict[str, str]:
        """Environment that points the pipeline (ingest and dbt) at this emulator."""
        return {"BIGQUERY_API_ENDPOINT": self.endpoint, "BIGQUERY_PROJECT": self.project}


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def install_extensions(python: Path, home: Path) -> None:
    """Install the DuckDB extensions the emulator loads (once) under ``home``."""
    marker = home / ".bqemulator-extensions-installed"
    if marker.exists():
        return
    home.mkdir(parents=True, exist_ok=True)
    code = (
        "import duckdb_extensions as d; d.import_extension('spatial'); d.import_extension('avro')"
    )
    subprocess.run([str(python), "-c", code], check=True, env={**os.environ, "HOME": str(home)})
    marker.write_text("spatial avro\n", encoding="utf-8")


def _healthy(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start(python: Path, home: Path, log_path: Path, project: str = PROJECT) -> Emulator:
    """Start the emulator in its own process group and wait until ``/healthz`` answers."""
    bin_dir = python.parent
    executable = bin_dir / ("bqemulator.exe" if os.name == "nt" else "bqemulator")
    if not executable.exists():
        raise EmulatorError(
            f"{executable} not found: install tests/bigquery/requirements-emulator.txt "
            f"into the virtualenv of {python} first"
        )
    install_extensions(python, home)
    rest_port, grpc_port = free_port(), free_port()
    while grpc_port == rest_port:
        grpc_port = free_port()
    cmd = [
        str(executable),
        "start",
        "--rest-host",
        HOST,
        "--rest-port",
        str(rest_port),
        "--grpc-host",
        HOST,
        "--grpc-port",
        str(grpc_port),
        "--project",
        project,
        "--ephemeral",
        "--log-level",
        "warning",
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("wb")
    process = subprocess.Popen(
        cmd,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "HOME": str(home)},
        start_new_session=True,  # own process group: stop() kills it and its children
    )
    log.close()
    endpoint = f"http://{HOST}:{rest_port}"
    emulator = Emulator(endpoint=endpoint, project=project, process=process, log_path=log_path)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmulatorError(
                f"the emulator exited with status {process.returncode} during start-up; "
                f"its log ({log_path}) ends with:\n{_tail(log_path)}"
            )
        if _healthy(endpoint):
            return emulator
        time.sleep(0.5)
    stop(emulator)
    raise EmulatorError(
        f"the emulator did not answer {endpoint}/healthz within {STARTUP_TIMEOUT_S:.0f}s; "
        f"its log ({log_path}) ends with:\n{_tail(log_path)}"
    )


def stop(emulator: Emulator) -> None:
    """Stop the emulator's whole process group: SIGTERM, then SIGKILL if it lingers."""
    process = emulator.process
    if process.poll() is not None:
        return
    try:
        pgid = os.getpgid(process.pid)
    except ProcessLookupError:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)


@contextlib.contextmanager
def running(python: Path, home: Path, log_path: Path, project: str = PROJECT) -> Iterator[Emulator]:
    """Run the emulator for the duration of the block; always stopped on exit.

    SIGTERM and SIGHUP become ``SystemExit`` meanwhile, so a killed caller still runs the
    ``finally`` that stops the emulator's process group.
    """
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for name in ("SIGTERM", "SIGHUP"):
            sig = getattr(signal, name, None)
            if sig is not None:
                previous[sig] = signal.signal(sig, _exit_on_signal)
    try:
        emulator = start(python, home, log_path, project)
        try:
            yield emulator
        finally:
            stop(emulator)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--python", type=Path, required=True, help="python of the emulator's virtualenv"
    )
    parser.add_argument(
        "--home", type=Path, required=True, help="project-local HOME for its extensions"
    )
    parser.add_argument("--log", type=Path, default=Path("bqemulator.log"), help="log file")
    args = parser.parse_args(argv)
    try:
        with running(args.python, args.home.resolve(), args.log.resolve()) as emulator:
            print(f"BIGQUERY_API_ENDPOINT={emulator.endpoint}  (Ctrl-C to stop)")
            emulator.process.wait()
    except KeyboardInterrupt:
        return 0
    except EmulatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
