"""Register the nightly deployment from the files ``terraform/prefect.tf`` reads.

``terraform/deployment.json`` (entrypoint, tags, schedule and time zone, concurrency, the
environment every run gets) and ``terraform/daily_pipeline.parameters.json`` (the parameter
schema, generated from the flow's signature) are the deployment's one definition: Terraform
sends them to Prefect Cloud, and :func:`register` sends them to any other Prefect server,
with the work pool, the code's location and the environment of that place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

TERRAFORM_DIR = Path(__file__).resolve().parents[1] / "terraform"
SPEC = TERRAFORM_DIR / "deployment.json"
PARAMETER_SCHEMA = TERRAFORM_DIR / "daily_pipeline.parameters.json"


def spec() -> dict[str, Any]:
    return json.loads(SPEC.read_text(encoding="utf-8"))


async def register(
    client: Any,
    *,
    name: str,
    work_pool: str,
    repository: str,
    env: dict[str, str],
    parameters: dict[str, Any] | None = None,
    branch: str | None = None,
) -> UUID:
    """Create (or update) the deployment ``daily-pipeline/<name>`` on ``client``'s server:
    code cloned from ``repository`` at run time, ``env`` added to the shared environment."""
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.objects import ConcurrencyOptions
    from prefect.client.schemas.schedules import CronSchedule

    s = spec()
    clone = {"repository": repository} | ({"branch": branch} if branch else {})
    return await client.create_deployment(
        flow_id=await client.create_flow_from_name(s["flow_name"]),
        name=name,
        entrypoint=s["entrypoint"],
        description=s["description"],
        tags=s["tags"],
        parameters=parameters or {},
        parameter_openapi_schema=json.loads(PARAMETER_SCHEMA.read_text(encoding="utf-8")),
        enforce_parameter_schema=s["enforce_parameter_schema"],
        work_pool_name=work_pool,
        work_queue_name="default",
        job_variables={"env": s["env"] | env},
        pull_steps=[{"prefect.deployments.steps.git_clone": clone}],
        schedules=[
            DeploymentScheduleCreate(
                schedule=CronSchedule(cron=s["cron"], timezone=s["timezone"]), active=True
            )
        ],
        concurrency_limit=s["concurrency_limit"],
        concurrency_options=ConcurrencyOptions(collision_strategy=s["collision_strategy"]),
    )
