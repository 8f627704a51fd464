"""The nightly deployment, run as declared, on a real Prefect server (``nox -s prefect``).

It is registered from the files ``terraform/prefect.tf`` reads (:mod:`tools.deploy`): the same
entrypoint, parameter schema, schedule, time zone, tags, concurrency and environment. Here
it runs on a process work pool, its code pulled at run time by ``git_clone`` from a bare
clone of this checkout, against a DuckDB target chosen by ``NIGHTJAR_TARGET``, under the
production deployment's name: the runbook's own commands (``docs/operations.md``) are run
here as written.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import httpx
import pytest
from conftest import PREFECT, start, stop

from config.settings import REPO_ROOT, Settings
from flows.daily_pipeline import NODES_ARTIFACT_KEY, SUMMARY_ARTIFACT_KEY
from tools.deploy import register, spec

pytestmark = pytest.mark.integration

POOL, NAME = "local-process", "nightly-prod"
DATES = sorted({date.fromisoformat(p.stem) for p in (REPO_ROOT / "sample_data").glob("*/*.csv")})
RUNBOOK = REPO_ROOT / "docs" / "operations.md"


def runbook(prefix: str) -> list[list[str]]:
    """The runbook's shell commands that start with ``prefix``, as argument lists."""
    blocks = "\n".join(re.findall(r"```bash\n(.*?)```", RUNBOOK.read_text(encoding="utf-8"), re.S))
    lines = blocks.replace("\\\n", " ").splitlines()
    return [shlex.split(line.split(" #")[0]) for line in lines if line.startswith(prefix)]


def prefect(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([PREFECT, *args], env=env, capture_output=True, text=True, timeout=1200)
    if check and proc.returncode:
        pytest.fail(f"prefect {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def client_call(env: dict[str, str], call: Any) -> Any:
    """``await call(client)`` with a client of the test server."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    async def main() -> Any:
        async with get_client() as client:
            return await call(client)

    with temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"]}):
        return asyncio.run(main())


@pytest.fixture(scope="module")
def deployment(
    prefect_server: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("deployment")
    bare = work / "checkout.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(REPO_ROOT), str(bare)], check=True)
    warehouse = work / "warehouse" / "nightjar.duckdb"
    env = prefect_server
    prefect(env, "work-pool", "create", POOL, "--type", "process")
    deployment_id = client_call(
        env,
        lambda client: register(
            client,
            name=NAME,
            work_pool=POOL,
            repository=f"file://{bare}",
            # Relative paths, taken from NIGHTJAR_HOME: not from the worker's temporary clone.
            env={
                "NIGHTJAR_TARGET": "ci",
                "NIGHTJAR_HOME": str(work),
                "DUCKDB_PATH": str(warehouse.relative_to(work)),
                "NIGHTJAR_STATE_DIR": "state",
            },
        ),
    )
    worker = start(
        [PREFECT, "worker", "start", "--pool", POOL, "--type", "process", "--limit", "1"],
        env,
        work / "worker.log",
    )
    try:
        yield {"id": deployment_id, "env": env, "warehouse": warehouse, "work": work}
    finally:
        stop(worker)


def test_the_runbooks_manual_run_and_backfill_complete(deployment: dict[str, Any]) -> None:
    """§3's manual run and §4's backfill, verbatim, against the local server."""
    env = deployment["env"]
    commands = runbook("prefect deployment run daily-pipeline/")
    assert len(commands) == 2 and all("--watch" in c for c in commands), commands
    for command in commands:
        run = prefect(env, *command[1:], "--watch-timeout", "900", check=False)
        worker_log = (deployment["work"] / "worker.log").read_text(errors="replace")
        assert run.returncode == 0, f"{run.stdout}\n{run.stderr}\nworker:\n{worker_log[-6000:]}"
    shown = prefect(env, *runbook("prefect deployment inspect")[0][1:]).stdout
    assert "0 2 * * *" in shown and "Europe/Paris" in shown, shown
    # the backfill, the last run: what it left in Prefect and in the warehouse
    check_reports(deployment, dict(a.split("=", 1) for a in command if "=" in a), run.stdout)


def check_reports(deployment: dict[str, Any], params: dict[str, str], stdout: str) -> None:
    env = deployment["env"]
    first = date.fromisoformat(params["run_date"])
    flow_run_id = re.search(r"UUID: ([0-9a-f-]{36})", stdout).group(1)  # type: ignore[union-attr]

    async def read(client: Any) -> tuple[Any, list[Any], list[Any]]:
        from prefect.client.schemas.filters import (
            ArtifactFilter,
            ArtifactFilterFlowRunId,
            ArtifactFilterKey,
            LogFilter,
            LogFilterFlowRunId,
        )

        flow_run = await client.read_flow_run(flow_run_id)
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[SUMMARY_ARTIFACT_KEY, NODES_ARTIFACT_KEY]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id]),
            )
        )
        logs = await client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run.id]))
        )
        return flow_run, artifacts, logs

    flow_run, artifacts, logs = client_call(env, read)
    assert flow_run.state.is_completed()
    assert flow_run.parameters["run_date"] == str(first)

    # The marts were published where the deployment's environment points, outside the clone.
    settings = Settings(target="ci", duckdb_path=deployment["warehouse"])
    with duckdb.connect(str(settings.analytics_path), read_only=True) as con:
        users = con.execute("select count(*) from analytics.mart_users").fetchone()[0]
        content = con.execute("select count(*) from analytics.mart_content_performance").fetchone()
    assert users > 0 and content[0] > 0

    by_key = {a.key: a for a in artifacts}
    artifact = by_key[SUMMARY_ARTIFACT_KEY]
    assert f"{first}" in artifact.data and "viewing_logs" in artifact.data
    nodes = by_key[NODES_ARTIFACT_KEY].data  # a table: one row per dbt node
    nodes = json.loads(nodes) if isinstance(nodes, str) else nodes
    assert {"node": "model.nightjar.mart_users", "status": "success"}.items() <= next(
        row for row in nodes if row["node"] == "model.nightjar.mart_users"
    ).items()
    dbt_log = re.search(r"dbt log: `?([^`\s]+dbt\.log)", artifact.data)
    assert dbt_log and Path(dbt_log.group(1)).is_file(), "the summary's dbt log is gone"
    run_dir = Path(dbt_log.group(1)).parent  # the run's folder, under NIGHTJAR_HOME/state
    assert run_dir.parent.parent == deployment["work"] / "state" / "runs"
    assert (run_dir / "run_results.json").is_file() and (run_dir / "sources.json").is_file()

    names = {log.name for log in logs}
    messages = [log.message for log in logs]
    assert any(name.startswith("ingest") for name in names), names
    assert any("rows in file" in m for m in messages)
    node_lines = [m for m in messages if re.search(r"\b(OK created|PASS)\b", m)]
    shown = "\n".join(f"{log.name}: {log.message[:150]}" for log in logs)
    assert any("mart_users" in m for m in node_lines), shown
    assert not [m for m in messages if "\x1b[" in m], "ANSI colour codes reached the logs"


def test_the_schedule_fires_at_0200_in_its_time_zone(deployment: dict[str, Any]) -> None:
    api = deployment["env"]["PREFECT_API_URL"]
    response = httpx.post(f"{api}/deployments/{deployment['id']}/schedule", json={"max_runs": 3})
    response.raise_for_status()

    async def scheduled(client: Any) -> list[Any]:
        from prefect.client.schemas.filters import (
            DeploymentFilter,
            DeploymentFilterId,
            FlowRunFilter,
            FlowRunFilterState,
            FlowRunFilterStateType,
        )
        from prefect.client.schemas.objects import StateType

        return await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment["id"]])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
            ),
        )

    runs = client_call(deployment["env"], scheduled)
    assert runs, "the server scheduled no run"
    zone = ZoneInfo(spec()["timezone"])
    local = sorted(r.expected_start_time.astimezone(zone) for r in runs)
    assert [(t.hour, t.minute) for t in local] == [(2, 0)] * len(local)
    assert str(zone) == "Europe/Paris"


def test_a_bad_parameter_is_refused_by_the_servers_schema(deployment: dict[str, Any]) -> None:
    run = prefect(
        deployment["env"],
        *("deployment", "run", f"daily-pipeline/{NAME}", "--param", "run_date=2026-13-01"),
        check=False,
    )
    assert run.returncode != 0
    assert re.search(r"run_date|date", run.stdout + run.stderr), run.stdout + run.stderr
