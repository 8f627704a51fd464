"""Install, start and stop ZetaSQL's local server: BigQuery's SQL front end, offline.

Standard library only: ``noxfile.py`` imports it to run the server around the SQL check.

ZetaSQL (Apache-2.0) is the analyzer behind GoogleSQL. The npm package
``@fivetrandevelopers/zetasql`` ships it prebuilt as a gRPC server
(``lib/zetasql/remote_server.so``, started as ``remote_server.so HOST PORT``) together with
the ``.proto`` files of its local service. The package is fetched with ``npm pack`` (no
Node.js needed to run it), checked against its pinned integrity hash, and unpacked once
into a cache folder; the Python stubs are generated from its protos with ``grpcio-tools``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import platform
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "@fivetrandevelopers/zetasql"
VERSION = "1.13.0"
#: The registry's integrity hash of the 1.13.0 tarball (``npm view … dist.integrity``).
INTEGRITY = (
    "sha512-"
    "yX9Apa968np2Tc+Hrf4Bf6Gz77kQVLIDLaNwovM91VBwyDTDF1C6oglUqmlU6Fe5/TVCExsnIueWiPahrYEITQ=="
)
HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


class ZetaSQLError(RuntimeError):
    """The ZetaSQL server could not be installed or started."""


def _binary_name() -> str:
    if platform.system() != "Linux":
        raise ZetaSQLError(
            f"the ZetaSQL package ships a server for Linux and macOS; this check runs it on "
            f"Linux only (found {platform.system()})"
        )
    return (
        "remote_server_arm.so"
        if platform.machine() in ("aarch64", "arm64")
        else ("remote_server.so")
    )


def install(cache: Path, npm: str | None = None) -> Path:
    """The unpacked package's ``lib/zetasql`` folder under ``cache`` (fetched the first time)."""
    home = cache / f"zetasql-{VERSION}"
    lib = home / "lib" / "zetasql"
    binary = lib / _binary_name()
    if binary.exists() and (lib / "protos" / "local_service.proto").exists():
        return lib
    npm = npm or shutil.which("npm")
    if npm is None:
        raise ZetaSQLError("npm is needed to fetch the ZetaSQL server: install Node.js and npm")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        subprocess.run(
            [npm, "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", tmp, "--silent"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        (tarball,) = Path(tmp).glob("*.tgz")
        digest = hashlib.sha512(tarball.read_bytes()).digest()
        found = "sha512-" + base64.b64encode(digest).decode()
        if found != INTEGRITY:
            raise ZetaSQLError(f"{tarball.name}: integrity {found} is not the pinned {INTEGRITY}")
        unpacked = Path(tmp) / "unpacked"
        with tarfile.open(tarball) as archive:
            wanted = [
                m
                for m in archive.getmembers()
                if m.name.startswith("package/lib/zetasql/protos/")
                or m.name == f"package/lib/zetasql/{binary.name}"
            ]
            archive.extractall(unpacked, members=wanted, filter="data")
        staged = unpacked / "package"
        (staged / "lib" / "zetasql" / binary.name).chmod(0o755)
        if home.exists():
            shutil.rmtree(home)
        staged.rename(home)
    return lib


def generate_stubs(python: str, lib: Path, out: Path) -> Path:
    """Python gRPC stubs for the server's protos (``grpcio-tools`` in ``python``), once."""
    marker = out / f".generated-{VERSION}"
    if marker.exists():
        return out
    protos = lib / "protos"
    files = sorted(str(p.relative_to(protos)) for p in protos.rglob("*.proto"))
    out.mkdir(parents=True, exist_ok=True)
    include = subprocess.run(
        [python, "-c", "import grpc_tools, os; print(os.path.dirname(grpc_tools.__file__))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    subprocess.run(
        [python, "-m", "grpc_tools.protoc", f"-I{protos}", f"-I{include}/_proto",
         f"--python_out={out}", f"--grpc_python_out={out}", *files],
        check=True,
        capture_output=True,
    )  # fmt: skip
    marker.write_text(VERSION + "\n", encoding="utf-8")
    return out


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1)
        return s.connect_ex((HOST, port)) == 0


@contextlib.contextmanager
def running(lib: Path, log_path: Path) -> Iterator[str]:
    """Run the server on a free loopback port for the block; yields ``host:port``.

    It runs in its own process group, stopped on exit (SIGTERM, then SIGKILL), also when
    the block fails.
    """
    port = _free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(lib / _binary_name()), HOST, str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _listening(port):
            if process.poll() is not None:
                raise ZetaSQLError(
                    f"the ZetaSQL server exited with status {process.returncode}; see {log_path}"
                )
            if time.monotonic() > deadline:
                raise ZetaSQLError(f"the ZetaSQL server did not listen on {HOST}:{port}")
            time.sleep(0.2)
        yield f"{HOST}:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT_S)
