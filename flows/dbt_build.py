"""One in-process ``dbt build`` through dbt's programmatic runner, summarised per node."""

from __future__ import annotations

import contextvars
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)
#: dbt's node result lines: not passed to the parent loggers (dbt prints them on the console
#: itself); the flow sends them to Prefect.
node_log = logging.getLogger(f"{__name__}.nodes")
node_log.propagate = False

PASSED = "passed"
WARNED = "warned"
FAILED = "failed"
ERRORED = "errored"
SKIPPED = "skipped"
OUTCOMES = (PASSED, WARNED, FAILED, ERRORED, SKIPPED)

#: dbt node status -> outcome in the summary.
_OUTCOME_BY_STATUS = {
    "success": PASSED,
    "pass": PASSED,
    "no-op": PASSED,
    "warn": WARNED,
    "partial success": WARNED,
    "fail": FAILED,
    "error": ERRORED,
    "runtime error": ERRORED,
    "skipped": SKIPPED,
}


@dataclass(frozen=True)
class NodeResult:
    """What happened to one dbt node in the build."""

    unique_id: str
    resource_type: str
    status: str
    outcome: str
    seconds: float
    message: str = ""
    failures: int | None = None

    @property
    def name(self) -> str:
        """``model.nightjar.mart_users`` -> ``mart_users`` (tests keep their full name)."""
        return self.unique_id.split(".", 2)[-1]


@dataclass(frozen=True)
class DbtBuildResult:
    """The outcome of one ``dbt build``."""

    success: bool
    nodes: tuple[NodeResult, ...]
    seconds: float
    log_path: Path
    args: tuple[str, ...] = ()
    error: str | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def command(self) -> str:
        """``build`` or ``source freshness``: the words before the options."""
        words = [a for a in self.args[:2] if not a.startswith("-")]
        return " ".join(words) or "build"

    @property
    def problems(self) -> tuple[NodeResult, ...]:
        """Nodes that failed or errored, in build order."""
        return tuple(n for n in self.nodes if n.outcome in (FAILED, ERRORED))

    @property
    def skipped(self) -> tuple[NodeResult, ...]:
        return tuple(n for n in self.nodes if n.outcome == SKIPPED)


class DbtBuildError(RuntimeError):
    """``dbt build`` failed: a model or test failed, or dbt could not run at all."""

    def __init__(self, result: DbtBuildResult) -> None:
        self.result = result
        super().__init__(describe_failure(result))


def dbt_args(
    command: tuple[str, ...],
    project_dir: Path,
    target: str,
    *,
    log_path: Path | None = None,
    extra: tuple[str, ...] = (),
) -> list[str]:
    """A dbt command line against the project, its profiles and ``target``."""
    return [
        *command,
        # Off a terminal (a worker, CI, a pipe) colour codes would only be noise in the logs.
        "--use-colors" if sys.stdout.isatty() else "--no-use-colors",
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target",
        target,
        "--log-path",
        str(log_path or project_dir / "logs"),
        *extra,
    ]


def build_args(
    project_dir: Path,
    target: str,
    *,
    full_refresh: bool = False,
    log_path: Path | None = None,
    extra: tuple[str, ...] = (),
) -> list[str]:
    """The command line of the one ``dbt build`` the pipeline runs. Unit tests check the
    models' logic on fixed inputs, not the data: they run in development and CI (a plain
    ``dbt build``, the dbt tests), not in every nightly run, as dbt advises."""
    refresh = ("--full-refresh",) if full_refresh else ()
    options = ("--exclude-resource-type", "unit_test", *refresh, *extra)
    return dbt_args(("build",), project_dir, target, log_path=log_path, extra=options)


@contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for dbt's ``env_var()`` and restore them afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def release_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in this process after a run.

    dbt-duckdb caches one DuckDB instance per process; left open, it holds the file so the
    next load (or a reader with another configuration) cannot open it. No-op when the
    DuckDB adapter was not used.
    """
    import sys

    module = sys.modules.get("dbt.adapters.duckdb.connections")
    if module is None:
        return
    manager = module.DuckDBConnectionManager
    with manager._LOCK:
        env, manager._ENV = manager._ENV, None
    if env is not None:
        env.close()


def _node_result(run_result: object) -> NodeResult:
    node = run_result.node  # type: ignore[attr-defined]
    status = str(run_result.status)  # type: ignore[attr-defined]
    message = str(getattr(run_result, "message", "") or "")
    if not message and hasattr(run_result, "age"):  # a source's freshness
        message = f"newest row loaded {run_result.age / 3600:.1f} h ago"
    return NodeResult(
        unique_id=node.unique_id,
        resource_type=str(node.resource_type),
        status=status,
        outcome=_OUTCOME_BY_STATUS.get(status, ERRORED),
        seconds=float(getattr(run_result, "execution_time", 0.0) or 0.0),
        message=message,
        failures=getattr(run_result, "failures", None),
    )


#: dbt's events that report one node's result ("1 of 40 OK created ...", "PASS ..."): each
#: becomes a line of this module's log, which the flow sends to Prefect.
NODE_RESULT_EVENTS = frozenset(
    {
        "LogModelResult",
        "LogTestResult",
        "LogSeedResult",
        "LogSnapshotResult",
        "LogNodeNoOpResult",
        "LogFreshnessResult",
    }
)


def _node_result_logger() -> Callable[[object], None]:
    """A dbt event callback logging each node's result line. dbt reports them from its own
    threads: each line is logged in the caller's context (e.g. Prefect's run context, which
    tells Prefect's log handler the run the line belongs to)."""
    context, lock = contextvars.copy_context(), threading.Lock()

    def on_event(event: object) -> None:
        info = event.info  # type: ignore[attr-defined]
        if info.name in NODE_RESULT_EVENTS:
            level = logging.WARNING if info.level in ("warn", "error") else logging.INFO
            with lock:
                context.run(node_log.log, level, "%s", info.msg)

    return on_event


def count_outcomes(nodes: tuple[NodeResult, ...]) -> dict[str, int]:
    """Nodes per outcome, every outcome present (0 when none)."""
    counts = dict.fromkeys(OUTCOMES, 0)
    for node in nodes:
        counts[node.outcome] += 1
    return counts


def run_dbt_build(
    project_dir: Path,
    target: str,
    env: Mapping[str, str],
    *,
    full_refresh: bool = False,
    log_path: Path | None = None,
    extra: tuple[str, ...] = (),
) -> DbtBuildResult:
    """Run ``dbt build`` in this process and return what happened to every node.

    ``env`` is exported first (dbt's ``profiles.yml`` reads it through ``env_var()``).
    Never raises for failed models or tests: callers decide with :func:`raise_for_failure`.
    """
    log_dir = log_path or project_dir / "logs"
    args = build_args(project_dir, target, full_refresh=full_refresh, log_path=log_dir, extra=extra)
    return run_dbt(args, env, log_dir)


def run_source_freshness(
    project_dir: Path,
    target: str,
    env: Mapping[str, str],
    *,
    log_path: Path | None = None,
    extra: tuple[str, ...] = (),
) -> DbtBuildResult:
    """Run ``dbt source freshness``: one node per source table, ``error`` past its
    ``error_after``. Never raises for a stale source either."""
    log_dir = log_path or project_dir / "logs"
    command = ("source", "freshness")
    return run_dbt(
        dbt_args(command, project_dir, target, log_path=log_dir, extra=extra), env, log_dir
    )


def run_dbt(args: list[str], env: Mapping[str, str], log_dir: Path) -> DbtBuildResult:
    """Run one dbt command line in this process, logging each node's result line."""
    from dbt.cli.main import dbtRunner

    log.info("dbt %s", " ".join(args))
    started = time.perf_counter()
    with _environ(env):
        try:
            outcome = dbtRunner(callbacks=[_node_result_logger()]).invoke(args)
        finally:
            release_duckdb()
    seconds = time.perf_counter() - started

    run_results = getattr(outcome.result, "results", None) or []
    nodes = tuple(_node_result(r) for r in run_results)
    error = None
    if outcome.exception is not None:
        error = f"{type(outcome.exception).__name__}: {outcome.exception}"
    elif not outcome.success and not any(n.outcome in (FAILED, ERRORED) for n in nodes):
        error = "dbt reported failure without a failing node"
    return DbtBuildResult(
        success=bool(outcome.success) and error is None,
        nodes=nodes,
        seconds=seconds,
        log_path=log_dir / "dbt.log",
        args=tuple(args),
        error=error,
        counts=count_outcomes(nodes),
    )


def describe_failure(result: DbtBuildResult) -> str:
    """A message saying which dbt node(s) failed, why, what was skipped, and where the log is."""
    lines = [f"dbt {result.command} failed."]
    if result.error:
        lines.append(f"dbt could not complete: {result.error}")
    for node in result.problems:
        detail = node.message.strip().splitlines()[0] if node.message.strip() else node.status
        lines.append(f"  {node.outcome.upper()}: {node.unique_id} ({detail})")
    if result.skipped:
        models = [n.name for n in result.skipped if n.resource_type != "test"]
        tests = len(result.skipped) - len(models)
        names = ", ".join(models) or "no model"
        lines.append(f"  skipped downstream of the failure: {names} (and {tests} test(s))")
    lines.append(f"dbt log: {result.log_path}")
    if result.command == "source freshness":
        lines.append(
            "A raw table named above has not loaded within its error_after "
            "(dbt/models/staging/__sources.yml): load its files, then re-run the same command."
        )
        return "\n".join(lines)
    lines.append(
        "Fix the data or the model named above, then re-run the same command: "
        "loads and incremental models are safe to repeat."
    )
    return "\n".join(lines)


def raise_for_failure(result: DbtBuildResult) -> DbtBuildResult:
    """Return ``result`` when the build succeeded, else raise :class:`DbtBuildError`."""
    if not result.success:
        raise DbtBuildError(result)
    return result
