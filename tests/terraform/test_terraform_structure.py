"""Structural rules over terraform/, each proven able to fail on a small bad fixture.

Every rule runs twice: on the real configuration (no violation allowed) and on a fixture under
``fixtures/<case>/`` (a fake repository root with its own ``terraform/``) that it must reject
with a message naming the problem.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("hcl2", reason="python-hcl2 is installed by the `terraform` nox session")

import tf_rules
from tf_config import REPO_ROOT, TERRAFORM_DIR, TerraformConfig, load, resolve

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DBT_DIR = REPO_ROOT / "dbt"


def fixture(case: str) -> TerraformConfig:
    return load(FIXTURES / case / "terraform")


def pipeline_datasets(repo_root: Path = REPO_ROOT) -> set[str]:
    """What the pipeline writes: the ingest's raw, the publish step's analytics, and
    everything dbt prod writes."""
    if not (repo_root / "dbt" / "dbt_project.yml").exists():
        pytest.fail(f"{repo_root / 'dbt'} has no dbt_project.yml: the datasets cannot be derived")
    return tf_rules.ingest_datasets(repo_root) | tf_rules.dbt_prod_datasets(repo_root / "dbt")


@pytest.fixture(scope="module")
def real() -> TerraformConfig:
    return load(TERRAFORM_DIR)


Rule = Callable[[TerraformConfig], list[str]]

#: rule -> [(bad fixture, a phrase its violation must contain)]
CASES: dict[str, tuple[Rule, list[tuple[str, str]]]] = {
    "no_public_members": (
        tf_rules.no_public_members,
        [("public_member", "allUsers"), ("public_member_via_local", "allAuthenticatedUsers")],
    ),
    "powerbi_read_only_on_analytics": (
        tf_rules.powerbi_read_only_on_analytics,
        [
            ("powerbi_write_role", "roles/bigquery.dataEditor, which is not a read role"),
            ("powerbi_other_dataset", "on dataset 'raw'"),
            ("powerbi_project_viewer", "on the whole project"),
        ],
    ),
    "runner_has_no_project_data_roles": (
        tf_rules.runner_has_no_project_data_roles,
        [("runner_project_data_role", "roles/bigquery.dataEditor project-wide")],
    ),
    "dataset_iam_members_only": (
        tf_rules.dataset_iam_members_only,
        [("dataset_access_block", "access block")],
    ),
    "iam_in_one_file": (
        tf_rules.iam_in_one_file,
        [("iam_outside_iam_file", "is in storage.tf, not iam.tf")],
    ),
    "backend_is_gcs": (
        tf_rules.backend_is_gcs,
        [("backend_local", "['local']"), ("backend_missing", "found none")],
    ),
    "schedule_is_0200": (
        tf_rules.schedule_is_0200,
        [
            ("schedule_wrong_hour", "'0 3 * * *' is not daily at 02:00"),
            ("schedule_weekdays", "'0 2 * * 1-5' is not daily at 02:00"),
            ("schedule_interval", "uses interval"),
            ("schedule_missing", "has no prefect_deployment_schedule"),
        ],
    ),
    "alerts_on_failed_and_crashed": (
        tf_rules.alerts_on_failed_and_crashed,
        [("automation_failed_only", "both Failed and Crashed")],
    ),
}

NEGATIVE = [
    pytest.param(rule, case, phrase, id=f"{name}-rejects-{case}")
    for name, (rule, cases) in CASES.items()
    for case, phrase in cases
]


@pytest.mark.parametrize("rule", [r for r, _ in CASES.values()], ids=list(CASES))
def test_real_configuration_complies(real: TerraformConfig, rule: Rule) -> None:
    assert rule(real) == []


@pytest.mark.parametrize(("rule", "case", "phrase"), NEGATIVE)
def test_rule_rejects_bad_fixture(rule: Rule, case: str, phrase: str) -> None:
    violations = rule(fixture(case))
    assert any(phrase in v for v in violations), violations


# --- rules that also read the repository -------------------------------------------------------


def test_every_dataset_the_pipeline_writes_is_provisioned(real: TerraformConfig) -> None:
    needed = pipeline_datasets()
    assert {"raw", "marts", "analytics"} <= needed, needed  # sanity: derivation found them
    assert tf_rules.datasets_provisioned(real, needed) == []


def test_missing_dbt_dataset_is_rejected() -> None:
    root = FIXTURES / "missing_dataset"
    needed = tf_rules.dbt_prod_datasets(root / "dbt")
    assert needed == {"analytics", "staging", "intermediate"}
    violations = tf_rules.datasets_provisioned(fixture("missing_dataset"), needed)
    assert violations == [
        "dataset 'intermediate' is written by the pipeline but not provisioned",
        "dataset 'staging' is written by the pipeline but not provisioned",
    ]


def test_runner_writes_exactly_the_pipeline_datasets(real: TerraformConfig) -> None:
    assert tf_rules.runner_writes_exactly(real, pipeline_datasets()) == []


def test_runner_write_grants_outside_the_pipeline_datasets_are_rejected() -> None:
    needed = {"raw", "staging", "intermediate", "analytics"}
    violations = tf_rules.runner_writes_exactly(fixture("runner_writes_wrong_datasets"), needed)
    assert violations == [
        "runner cannot write datasets it writes to: ['intermediate']",
        "runner may write datasets it never writes to: ['scratch']",
    ]


def test_deployment_entrypoint_is_the_real_flow(real: TerraformConfig) -> None:
    entry = REPO_ROOT / "flows" / "daily_pipeline.py"
    if not entry.exists():
        pytest.fail(f"{entry.relative_to(REPO_ROOT)} is missing: the deployment would not start")
    assert tf_rules.deployment_entrypoint(real) == []


@pytest.mark.parametrize(
    ("case", "phrase"),
    [
        ("entrypoint_missing_function", "defines no top-level function nightly_pipeline"),
        ("entrypoint_unknown_parameter", "parameter 'dataset' is not accepted"),
        ("entrypoint_missing_file", "flows/nightly.py does not exist"),
        ("entrypoint_not_prod", "target must be 'prod'"),
        ("entrypoint_not_a_flow", "is not decorated with @flow"),
    ],
)
def test_bad_entrypoint_is_rejected(case: str, phrase: str) -> None:
    violations = tf_rules.deployment_entrypoint(fixture(case), repo_root=FIXTURES / case)
    assert any(phrase in v for v in violations), violations


def test_deployment_parameters_are_read(real: TerraformConfig) -> None:
    (deployment,) = real.of_type("prefect_deployment")
    params = tf_rules.deployment_parameters(real, deployment)
    assert params is not None
    assert params["target"] == "prod"
    assert set(params) == {"target", "source_dir"}


def test_checkov_skips_have_reasons() -> None:
    assert tf_rules.checkov_skips_have_reasons(TERRAFORM_DIR) == []


def test_checkov_skip_without_reason_is_rejected() -> None:
    violations = tf_rules.checkov_skips_have_reasons(FIXTURES / "checkov_skip_without_reason")
    assert violations == ["storage.tf:2: checkov skip of CKV_GCP_62 has no reason"]


def test_no_prefect_yaml_or_it_agrees(real: TerraformConfig) -> None:
    assert tf_rules.prefect_yaml_agrees(real) == []


def test_disagreeing_prefect_yaml_is_rejected() -> None:
    root = FIXTURES / "prefect_yaml_disagrees"
    violations = tf_rules.prefect_yaml_agrees(fixture("prefect_yaml_disagrees"), repo_root=root)
    assert any("schedules [('0 3 * * *', 'Europe/Paris')] differ" in v for v in violations), (
        violations
    )


def test_the_deployment_sends_the_generated_parameter_schema_and_runs_one_at_a_time(
    real: TerraformConfig,
) -> None:
    (deployment,) = real.of_type("prefect_deployment")
    body = deployment.body
    schema = str(body.get("parameter_openapi_schema", ""))
    assert "daily_pipeline.parameters.json" in schema, schema
    assert (TERRAFORM_DIR / "daily_pipeline.parameters.json").is_file()
    assert resolve(real, body.get("enforce_parameter_schema")) is True
    assert resolve(real, body.get("concurrency_limit")) == 1
    options = body.get("concurrency_options", {})
    assert resolve(real, options.get("collision_strategy")) == "ENQUEUE"


def test_the_deployment_is_defined_once_in_the_file_the_local_registration_reads(
    real: TerraformConfig,
) -> None:
    """tools/deploy.py registers the deployment elsewhere (nox -s prefect) from the same
    data file: Terraform restates none of it."""
    spec = json.loads((TERRAFORM_DIR / "deployment.json").read_text(encoding="utf-8"))
    (deployment,) = real.of_type("prefect_deployment")
    (schedule,) = real.of_type("prefect_deployment_schedule")
    (flow,) = real.of_type("prefect_flow")
    assert resolve(real, deployment.body["entrypoint"]) == spec["entrypoint"]
    assert resolve(real, deployment.body["description"]) == spec["description"]
    assert resolve(real, flow.body["name"]) == spec["flow_name"]
    assert (resolve(real, schedule.body["cron"]), resolve(real, schedule.body["timezone"])) == (
        spec["cron"],
        spec["timezone"],
    )
