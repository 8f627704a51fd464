"""Nox sessions: lint, tests, the local end-to-end run and the benchmarks.

``nox`` with no arguments runs the default set, which is what CI runs.
Every session installs what it needs, pinned by ``constraints.txt``.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
CONSTRAINTS = ROOT / "constraints.txt"

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False
nox.options.sessions = ["lint", "tests", "e2e"]

PYTHON = "3.11"
BASE_ENV = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "PYTHONUTF8": "1"}


def install(session: nox.Session, *extras: str) -> None:
    """Install the project (editable) with ``extras``, pinned by the constraints file."""
    spec = f".[{','.join(extras)}]" if extras else "."
    session.install("-e", spec, "-c", str(CONSTRAINTS))


def session_env(session: nox.Session, **extra: str) -> dict[str, str]:
    """Environment shared by the sessions; the warehouse lives inside the session's tmp dir."""
    env = dict(BASE_ENV)
    env.setdefault("DUCKDB_PATH", os.environ.get("DUCKDB_PATH", ""))
    env.update(extra)
    return {k: v for k, v in env.items() if v}
