#!/usr/bin/env python3
"""Run nox without installing anything by hand: ``python3 noxw.py [nox arguments]``.

Standard library only. The first run creates ``.nox/_bootstrap`` (a virtualenv holding the
pinned nox and uv from ``requirements-nox.txt``); later runs reuse it until that file changes.
The exit status is nox's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import urllib.request
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
BOOTSTRAP = ROOT / ".nox" / "_bootstrap"
REQUIREMENTS = ROOT / "requirements-nox.txt"
STAMP = BOOTSTRAP / ".requirements-nox.txt"
MIN_PYTHON = (3, 11)


def _python() -> Path:
    if os.name == "nt":
        return BOOTSTRAP / "Scripts" / "python.exe"
    return BOOTSTRAP / "bin" / "python"


def _log(message: str) -> None:
    print(f"noxw: {message}", file=sys.stderr, flush=True)


def _bootstrap_pip(python: Path) -> None:
    """Install pip into a venv made without it (Python built without ``ensurepip``).

    Fetches the pip wheel from PyPI and runs pip from the wheel itself.
    """
    _log("ensurepip is unavailable; fetching pip from PyPI")
    with urllib.request.urlopen("https://pypi.org/pypi/pip/json", timeout=60) as resp:
        release = json.load(resp)
    wheel = next(u for u in release["urls"] if u["filename"].endswith(".whl"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / wheel["filename"]
        with urllib.request.urlopen(wheel["url"], timeout=300) as resp:
            path.write_bytes(resp.read())
        subprocess.run(
            [str(python), f"{path}/pip", "install", "--quiet", str(path)],
            check=True,
        )


def ensure_bootstrap() -> Path:
    """Create or refresh the bootstrap virtualenv; return its interpreter."""
    python = _python()
    wanted = REQUIREMENTS.read_text(encoding="utf-8")
    if python.exists() and STAMP.exists() and STAMP.read_text(encoding="utf-8") == wanted:
        return python
    if not python.exists():
        _log(f"creating {BOOTSTRAP.relative_to(ROOT)}")
        try:
            venv.create(BOOTSTRAP, with_pip=True, clear=True)
        except subprocess.CalledProcessError:
            venv.create(BOOTSTRAP, with_pip=False, clear=True)
        has_pip = (
            subprocess.run(
                [str(python), "-m", "pip", "--version"], capture_output=True, check=False
            ).returncode
            == 0
        )
        if not has_pip:
            _bootstrap_pip(python)
    _log(f"installing {REQUIREMENTS.name}")
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(REQUIREMENTS),
        ],
        check=True,
    )
    STAMP.write_text(wanted, encoding="utf-8")
    return python


def main(argv: list[str]) -> int:
    if sys.version_info < MIN_PYTHON:
        wanted = ".".join(map(str, MIN_PYTHON))
        _log(f"Python {wanted}+ is required, this is {sys.version.split()[0]}")
        return 2
    try:
        python = ensure_bootstrap()
    except (OSError, subprocess.CalledProcessError) as exc:
        _log(f"could not prepare nox ({exc}); delete {BOOTSTRAP} and try again")
        return 1
    cmd = [str(python), "-m", "nox", "--noxfile", str(ROOT / "noxfile.py"), *argv]
    return subprocess.run(cmd, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
