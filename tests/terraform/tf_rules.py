"""Structural rules over the parsed Terraform configuration.

Each rule returns a list of violations (empty when the configuration complies), so the same
function is run on the real ``terraform/`` directory and on the small bad fixtures that it must
reject. Rules read the repository (flow code, dbt project, ingest settings) instead of restating
what those files declare.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from tf_config import (
    REPO_ROOT,
    Resource,
    TerraformConfig,
    collection_items,
    inline_locals,
    instances,
    resolve,
    unexpanded,
    walk_strings,
)

PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")

#: Roles the Power BI identity may hold: read data, run query jobs, open Storage Read sessions.
POWERBI_ALLOWED_ROLES = frozenset(
    {
        "roles/bigquery.dataViewer",
        "roles/bigquery.metadataViewer",
        "roles/bigquery.jobUser",
        "roles/bigquery.readSessionUser",
    }
)
#: Of those, the roles that grant access to table data; they may only be held on analytics.
DATASET_DATA_ROLES = frozenset({"roles/bigquery.dataViewer", "roles/bigquery.metadataViewer"})
POWERBI_DATASET = "analytics"

#: Roles that, granted on the whole project, open data in every dataset or bucket.
_PROJECT_DATA_ROLE = re.compile(
    r"^roles/(owner|editor|viewer|bigquery\.(admin|user|data[A-Za-z]*|metadataViewer|filteredDataViewer)"
    r"|storage\.(admin|object[A-Za-z]*|legacy[A-Za-z]*))$"
)

_IAM_TYPE = re.compile(r"^google_[a-z0-9_]+_iam_(member|binding|policy)$")
_PROJECT_SCOPES = ("google_project_iam_", "google_folder_iam_", "google_organization_iam_")
_SKIP_COMMENT = re.compile(r"checkov:skip=([A-Z0-9_]+)(?::(.*))?")
_ENV_VAR = re.compile(r"env_var\(\s*['\"]([^'\"]+)['\"]\s*(?:,\s*['\"]([^'\"]*)['\"])?\s*\)")


# --- IAM grants ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """One (member, role, scope) produced by an IAM resource instance or a dataset access block."""

    address: str
    file: str
    scope: str  # "project", "dataset", "bucket", "service_account", ...
    target: str  # dataset key/id, bucket, ... ("" for project scope)
    role: str
    member: str


def _scope(type_: str) -> str:
    if type_.startswith(_PROJECT_SCOPES):
        return "project"
    if type_.startswith(("google_bigquery_dataset_iam_", "google_bigquery_table_iam_")):
        return "dataset"
    if type_.startswith("google_storage_bucket_iam_"):
        return "bucket"
    return type_.removeprefix("google_").split("_iam_")[0]


def dataset_key(config: TerraformConfig, expr: Any) -> str:
    """The dataset a ``dataset_id`` expression names, via ``google_bigquery_dataset``."""
    text = str(resolve(config, expr))
    ref = re.search(r'google_bigquery_dataset\.(\w+)(?:\[\s*"([^"]+)"\s*\])?\.dataset_id', text)
    if not ref:
        return text.strip()
    resource = config.find("google_bigquery_dataset", ref.group(1))
    if resource is None:
        return text
    if ref.group(2) is not None:
        body = next(
            (
                b
                for k, b in zip(
                    [k for k, _ in collection_items(config, resource.body.get("for_each"))],
                    instances(config, resource),
                    strict=False,
                )
                if k == ref.group(2)
            ),
            None,
        )
        return str(body["dataset_id"]) if body else ref.group(2)
    return str(resolve(config, resource.body.get("dataset_id", text)))


def iam_grants(config: TerraformConfig) -> list[Grant]:
    """Every grant in the configuration: IAM resources (expanded) and dataset access blocks."""
    grants: list[Grant] = []
    for resource in config.resources:
        if _IAM_TYPE.match(resource.type):
            scope = _scope(resource.type)
            for body in instances(config, resource):
                role = str(resolve(config, body.get("role", "")))
                members = body.get("members", [body.get("member", "")])
                members = resolve(config, members)
                if isinstance(members, str):
                    members = [members]
                target = ""
                if scope == "dataset":
                    target = dataset_key(config, body.get("dataset_id", ""))
                elif scope == "bucket":
                    target = str(resolve(config, body.get("bucket", "")))
                for member in members:
                    grants.append(
                        Grant(
                            resource.address,
                            resource.file.name,
                            scope,
                            target,
                            role,
                            inline_locals(config, str(resolve(config, member))),
                        )
                    )
        if resource.type == "google_bigquery_dataset":
            for body in instances(config, resource):
                for access in body.get("access", []) or []:
                    who = " ".join(str(v) for k, v in access.items() if k != "role")
                    grants.append(
                        Grant(
                            resource.address,
                            resource.file.name,
                            "dataset",
                            str(body.get("dataset_id", "")),
                            str(access.get("role", "")),
                            inline_locals(config, who),
                        )
                    )
    return grants


def _service_account(config: TerraformConfig, marker: str) -> Resource | None:
    return next(
        (
            r
            for r in config.of_type("google_service_account")
            if marker in r.name or marker in str(r.body.get("account_id", ""))
        ),
        None,
    )


def _held_by(grant: Grant, account: Resource) -> bool:
    account_id = str(account.body.get("account_id", ""))
    return f"google_service_account.{account.name}." in grant.member or (
        bool(account_id) and f"serviceAccount:{account_id}@" in grant.member
    )


def _unexpanded_iam(config: TerraformConfig) -> list[str]:
    return [
        f"{r.address} ({r.file.name}): for_each cannot be expanded statically; "
        "use a local set or map so the grants can be reviewed"
        for r in config.resources
        if _IAM_TYPE.match(r.type) and unexpanded(config, r)
    ]


# --- rules --------------------------------------------------------------------------------------


def no_public_members(config: TerraformConfig) -> list[str]:
    """No value anywhere (resources, locals, variable defaults) names a public principal."""
    violations = []
    for path, parsed in config.raw.items():
        for text in walk_strings(parsed):
            for public in PUBLIC_MEMBERS:
                if public in text:
                    violations.append(f"{path.name}: {public} appears in {text!r}")
    return violations


def powerbi_read_only_on_analytics(config: TerraformConfig) -> list[str]:
    """The Power BI identity holds only read roles, and dataset roles only on analytics."""
    account = _service_account(config, "powerbi")
    if account is None:
        return ["no google_service_account for Power BI (name or account_id containing 'powerbi')"]
    violations = _unexpanded_iam(config)
    held = [g for g in iam_grants(config) if _held_by(g, account)]
    if not held:
        violations.append(f"{account.address} holds no role at all")
    for grant in held:
        where = f"{grant.address} ({grant.file})"
        if grant.role not in POWERBI_ALLOWED_ROLES:
            violations.append(f"{where}: Power BI holds {grant.role}, which is not a read role")
        if grant.scope == "dataset" and grant.target != POWERBI_DATASET:
            violations.append(f"{where}: Power BI holds {grant.role} on dataset {grant.target!r}")
        if grant.scope != "dataset" and grant.role in DATASET_DATA_ROLES:
            violations.append(
                f"{where}: Power BI holds {grant.role} on the whole {grant.scope}, "
                f"not only on {POWERBI_DATASET}"
            )
        if grant.scope not in ("dataset", "project"):
            violations.append(f"{where}: Power BI holds {grant.role} on a {grant.scope}")
    return violations


def runner_has_no_project_data_roles(config: TerraformConfig) -> list[str]:
    """The pipeline runner gets data access per dataset/bucket, never project-wide."""
    account = _service_account(config, "runner")
    if account is None:
        return ["no google_service_account for the pipeline runner (name containing 'runner')"]
    violations = _unexpanded_iam(config)
    for grant in iam_grants(config):
        if (
            _held_by(grant, account)
            and grant.scope == "project"
            and _PROJECT_DATA_ROLE.match(grant.role)
        ):
            violations.append(
                f"{grant.address} ({grant.file}): the runner holds {grant.role} project-wide; "
                "grant it on the datasets or the bucket it needs instead"
            )
    return violations


def runner_writes_exactly(config: TerraformConfig, datasets: set[str]) -> list[str]:
    """roles/bigquery.dataEditor for the runner on exactly ``datasets``."""
    account = _service_account(config, "runner")
    if account is None:
        return ["no google_service_account for the pipeline runner (name containing 'runner')"]
    granted = {
        g.target
        for g in iam_grants(config)
        if _held_by(g, account) and g.scope == "dataset" and g.role == "roles/bigquery.dataEditor"
    }
    violations = []
    if missing := datasets - granted:
        violations.append(f"runner cannot write datasets it writes to: {sorted(missing)}")
    if extra := granted - datasets:
        violations.append(f"runner may write datasets it never writes to: {sorted(extra)}")
    return violations


def dataset_iam_members_only(config: TerraformConfig) -> list[str]:
    """Datasets have no access blocks, and dataset IAM is additive *_iam_member only."""
    violations = []
    for resource in config.of_type("google_bigquery_dataset"):
        if resource.body.get("access"):
            violations.append(
                f"{resource.address} ({resource.file.name}): access block; use "
                "google_bigquery_dataset_iam_member (the two overwrite each other's policy)"
            )
    for resource in config.resources:
        if resource.type in (
            "google_bigquery_dataset_access",
            "google_bigquery_dataset_iam_binding",
            "google_bigquery_dataset_iam_policy",
        ):
            violations.append(
                f"{resource.address} ({resource.file.name}): use "
                "google_bigquery_dataset_iam_member only"
            )
    return violations


def iam_in_one_file(config: TerraformConfig, filename: str = "iam.tf") -> list[str]:
    """Every identity and grant lives in ``iam.tf``, and no service account key is created."""
    violations = []
    for resource in config.resources:
        is_iam = _IAM_TYPE.match(resource.type) or resource.type == "google_service_account"
        if is_iam and resource.file.name != filename:
            violations.append(f"{resource.address} is in {resource.file.name}, not {filename}")
        if resource.type == "google_service_account_key":
            violations.append(
                f"{resource.address} ({resource.file.name}): a service account key would sit "
                "in Terraform state; run as the service account instead"
            )
    return violations


def provisioned_datasets(config: TerraformConfig) -> set[str]:
    """dataset_id of every google_bigquery_dataset instance."""
    found = set()
    for resource in config.of_type("google_bigquery_dataset"):
        for body in instances(config, resource):
            found.add(str(resolve(config, body.get("dataset_id"))))
    return found


def datasets_provisioned(config: TerraformConfig, needed: set[str]) -> list[str]:
    """Every dataset in ``needed`` is a google_bigquery_dataset of the configuration."""
    missing = needed - provisioned_datasets(config)
    return [
        f"dataset {name!r} is written by the pipeline but not provisioned"
        for name in sorted(missing)
    ]


def backend_is_gcs(config: TerraformConfig) -> list[str]:
    """Exactly one backend, and it is gcs (partial configuration, bucket given at init)."""
    backends = [
        name
        for block in config.terraform_blocks
        for backend in block.get("backend", [])
        for name in backend
    ]
    if backends != ["gcs"]:
        return [f"backend must be exactly one 'gcs' block, found {backends or 'none'}"]
    return []


def _deployments(config: TerraformConfig) -> list[Resource]:
    return config.of_type("prefect_deployment")


def deployment_parameters(config: TerraformConfig, deployment: Resource) -> dict[str, Any] | None:
    """The deployment's parameters as a dict, from ``jsonencode(<local or object>)``."""
    value = deployment.body.get("parameters")
    if value is None:
        return {}
    text = str(value)
    match = re.fullmatch(r"\$\{jsonencode\((.*)\)\}", text, re.S)
    if not match:
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return None
    inner = match.group(1).strip()
    local = re.fullmatch(r"local\.(\w+)", inner)
    if local:
        resolved = resolve(config, config.locals.get(local.group(1)))
        return resolved if isinstance(resolved, dict) else None
    keys = re.findall(r'(?:^|[{,\s])"?([A-Za-z_]\w*)"?\s*[=:]', inner.strip("{}"))
    return dict.fromkeys(keys) if keys else None


def _flow_name(function: ast.FunctionDef) -> str | None:
    """The Prefect flow name if ``function`` is decorated with ``@flow``; None otherwise."""
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
        if name != "flow":
            continue
        if isinstance(decorator, ast.Call):
            for keyword in decorator.keywords:
                if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                    return str(keyword.value.value)
        return function.name.replace("_", "-")
    return None


def deployment_entrypoint(config: TerraformConfig, repo_root: Path = REPO_ROOT) -> list[str]:
    """The entrypoint file exists, names a real @flow, accepts the parameters; target is prod."""
    deployments = _deployments(config)
    if not deployments:
        return ["no prefect_deployment"]
    violations = []
    for deployment in deployments:
        where = deployment.address
        entrypoint = str(resolve(config, deployment.body.get("entrypoint", "")))
        if ":" not in entrypoint:
            violations.append(f"{where}: entrypoint {entrypoint!r} is not <path.py>:<function>")
            continue
        rel_path, function_name = entrypoint.rsplit(":", 1)
        path = repo_root / rel_path
        if not path.is_file():
            violations.append(f"{where}: entrypoint file {rel_path} does not exist in the repo")
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        function = next(
            (
                node
                for node in tree.body
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                and node.name == function_name
            ),
            None,
        )
        if function is None:
            violations.append(f"{where}: {rel_path} defines no top-level function {function_name}")
            continue
        flow_name = _flow_name(function)
        if flow_name is None:
            violations.append(f"{where}: {rel_path}:{function_name} is not decorated with @flow")
            continue
        flow_ref = re.search(r"prefect_flow\.(\w+)\.id", str(deployment.body.get("flow_id", "")))
        flow = config.find("prefect_flow", flow_ref.group(1)) if flow_ref else None
        if flow is not None and str(resolve(config, flow.body.get("name"))) != flow_name:
            violations.append(
                f"{flow.address}: name {resolve(config, flow.body.get('name'))!r} differs from "
                f"the flow's name {flow_name!r}"
            )
        params = deployment_parameters(config, deployment)
        if params is None:
            violations.append(f"{where}: parameters cannot be read statically")
            continue
        args = function.args
        accepted = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
        if args.vararg is None and args.kwarg is None:
            for name in sorted(set(params) - accepted):
                violations.append(f"{where}: parameter {name!r} is not accepted by {function_name}")
        positional = args.posonlyargs + args.args
        required = {a.arg for a in positional[: len(positional) - len(args.defaults)]}
        required |= {
            a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is None
        }
        for name in sorted(required - set(params)):
            violations.append(f"{where}: required flow parameter {name!r} is not set")
        if params.get("target") != "prod":
            violations.append(
                f"{where}: parameter target must be 'prod', got {params.get('target')!r}"
            )
    return violations


def _cron_is_daily_0200(cron: str) -> bool:
    fields = cron.split()
    if len(fields) != 5:
        return False
    minute, hour, day, month, weekday = fields
    return (
        minute.lstrip("0") in ("", "0")
        and hour.lstrip("0") == "2"
        and (day, month, weekday) == ("*", "*", "*")
    )


def schedule_is_0200(config: TerraformConfig) -> list[str]:
    """Every deployment has a cron schedule firing daily at 02:00, in a set time zone."""
    violations = []
    schedules = config.of_type("prefect_deployment_schedule")
    for deployment in _deployments(config):
        attached = [
            s
            for s in schedules
            if f"prefect_deployment.{deployment.name}.id" in str(s.body.get("deployment_id", ""))
        ]
        if not attached:
            violations.append(f"{deployment.address} has no prefect_deployment_schedule")
    for schedule in schedules:
        cron = resolve(config, schedule.body.get("cron"))
        if not isinstance(cron, str) or not _cron_is_daily_0200(cron):
            violations.append(f"{schedule.address}: cron {cron!r} is not daily at 02:00")
        for other in ("interval", "rrule"):
            if other in schedule.body:
                violations.append(f"{schedule.address}: uses {other}; the schedule is a cron")
        timezone = resolve(config, schedule.body.get("timezone"))
        if not isinstance(timezone, str) or not re.fullmatch(
            r"UTC|[A-Z]\w+(/[A-Za-z_+-]+)+", timezone
        ):
            violations.append(f"{schedule.address}: timezone {timezone!r} is not an IANA zone")
    return violations


def alerts_on_failed_and_crashed(config: TerraformConfig) -> list[str]:
    """An automation sends a notification on Failed and on Crashed flow runs."""
    for automation in config.of_type("prefect_automation"):
        event = (automation.body.get("trigger") or {}).get("event") or {}
        expect = set(event.get("expect") or [])
        notifies = any(
            a.get("type") == "send-notification" for a in automation.body.get("actions") or []
        )
        if {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"} <= expect and notifies:
            return []
    return ["no prefect_automation sends a notification on both Failed and Crashed flow runs"]


def checkov_skips_have_reasons(directory: Path) -> list[str]:
    """Every inline checkov skip names a check and gives a reason (at least a short sentence)."""
    violations = []
    for path in sorted(directory.rglob("*.tf")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = _SKIP_COMMENT.search(line)
            if match and len((match.group(2) or "").strip()) < 20:
                violations.append(
                    f"{path.name}:{number}: checkov skip of {match.group(1)} has no reason"
                )
    return violations


def prefect_yaml_agrees(config: TerraformConfig, repo_root: Path = REPO_ROOT) -> list[str]:
    """If a prefect.yaml exists, it agrees with Terraform (entrypoint, cron, zone, params)."""
    path = repo_root / "prefect.yaml"
    if not path.exists():
        return []
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    violations = []
    tf_deployments = _deployments(config)
    tf_schedules = config.of_type("prefect_deployment_schedule")
    for entry in document.get("deployments") or []:
        name = entry.get("name")
        match = next(
            (d for d in tf_deployments if str(resolve(config, d.body.get("name"))) == name), None
        )
        if match is None:
            violations.append(f"prefect.yaml deployment {name!r} is not declared in Terraform")
            continue
        if entry.get("entrypoint") != match.body.get("entrypoint"):
            violations.append(f"prefect.yaml {name}: entrypoint differs from Terraform")
        params = deployment_parameters(config, match) or {}
        if set(entry.get("parameters") or {}) != set(params):
            violations.append(f"prefect.yaml {name}: parameters differ from Terraform")
        tf_crons = {
            (str(resolve(config, s.body.get("cron"))), str(resolve(config, s.body.get("timezone"))))
            for s in tf_schedules
            if f"prefect_deployment.{match.name}.id" in str(s.body.get("deployment_id", ""))
        }
        yaml_crons = {
            (str(s.get("cron")), str(s.get("timezone"))) for s in entry.get("schedules") or []
        }
        if yaml_crons != tf_crons:
            violations.append(
                f"prefect.yaml {name}: schedules {sorted(yaml_crons)} differ from "
                f"Terraform {sorted(tf_crons)}"
            )
    return violations


# --- what the repository says it writes --------------------------------------------------------


#: The ``Settings`` fields naming datasets that Python writes: the ingest (raw) and the publish
#: step (analytics); dbt's are read from the dbt project.
PYTHON_WRITTEN_DATASET_FIELDS = ("raw_dataset", "analytics_dataset")


def ingest_datasets(repo_root: Path = REPO_ROOT) -> set[str]:
    """Datasets the ingest and the publish step write: defaults of those ``Settings`` fields."""
    path = repo_root / "config" / "settings.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id in PYTHON_WRITTEN_DATASET_FIELDS
            and isinstance(node.value, ast.Constant)
        ):
            found.add(str(node.value.value))
    if len(found) != len(PYTHON_WRITTEN_DATASET_FIELDS):
        raise ValueError(f"{path}: not every one of {PYTHON_WRITTEN_DATASET_FIELDS} has a default")
    return found


def _env_default(text: str) -> str:
    """Render ``{{ env_var('X', 'default') }}`` to its default; plain text unchanged."""
    if "{{" not in text:
        return text.strip()
    match = _ENV_VAR.search(text)
    if not match or match.group(2) is None:
        raise ValueError(f"cannot tell the dataset from {text!r}: give env_var a default")
    return match.group(2)


def _schemas_in_config(section: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(section, dict):
        for key, value in section.items():
            if key in ("+schema", "schema") and isinstance(value, str):
                found.add(value)
            else:
                found |= _schemas_in_config(value)
    return found


def dbt_prod_datasets(dbt_dir: Path) -> set[str]:
    """Datasets the dbt ``prod`` target writes, read from the dbt project itself.

    The prod output's ``dataset`` (its env_var default) plus every custom schema set in
    dbt_project.yml (models, seeds, snapshots) or in model configs, mapped through the
    project's ``generate_schema_name`` macro: used verbatim when the macro returns the custom
    schema as-is, ``<dataset>_<schema>`` with dbt's built-in behaviour.
    """
    project = yaml.safe_load((dbt_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    profiles = yaml.safe_load((dbt_dir / "profiles.yml").read_text(encoding="utf-8"))
    profile = profiles[project["profile"]]
    prod = profile["outputs"]["prod"]
    base = _env_default(str(prod.get("dataset") or prod.get("schema")))

    custom: set[str] = set()
    for section in ("models", "seeds", "snapshots"):
        custom |= _schemas_in_config(project.get(section))
    model_paths = [dbt_dir / p for p in project.get("model-paths", ["models"])]
    for root in model_paths:
        for sql in root.rglob("*.sql"):
            for match in re.finditer(
                r"config\s*\([^)]*\bschema\s*=\s*['\"]([^'\"]+)['\"]",
                sql.read_text(encoding="utf-8"),
            ):
                custom.add(match.group(1))
        for yml in [*root.rglob("*.yml"), *root.rglob("*.yaml")]:
            document = yaml.safe_load(yml.read_text(encoding="utf-8")) or {}
            for model in document.get("models") or []:
                custom |= _schemas_in_config((model or {}).get("config"))

    verbatim = _custom_schema_verbatim(dbt_dir, project)
    return {base} | {c if verbatim else f"{base}_{c}" for c in custom}


def _custom_schema_verbatim(dbt_dir: Path, project: dict[str, Any]) -> bool:
    """True when the project's generate_schema_name returns a custom schema unchanged."""
    for macro_dir in project.get("macro-paths", ["macros"]):
        for path in (dbt_dir / macro_dir).rglob("*.sql"):
            text = path.read_text(encoding="utf-8")
            if re.search(r"macro\s+generate_schema_name\s*\(", text):
                return not re.search(r"target\.(schema|dataset)\s*~", text)
    return False
