"""One typed settings object. Environment variables are read here and nowhere else."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt"

#: dbt target name -> warehouse kind. The target is the one switch.
TARGETS: dict[str, Literal["duckdb", "bigquery"]] = {
    "dev": "duckdb",
    "ci": "duckdb",
    "prod": "bigquery",
}
DEFAULT_TARGET = "dev"
#: dbt-bigquery always builds Google credentials; against the emulator a dummy token does.
EMULATOR_DBT_METHOD = "oauth-secrets"
EMULATOR_DBT_TOKEN = "emulator-accepts-any-token"
#: In ``analytics``, beside the marts: one row per publish ("data as of").
PUBLISH_LOG = "publish_log"
DEFAULT_DUCKDB_PATH = Path("warehouse") / "nightjar.duckdb"


@dataclass(frozen=True)
class Settings:
    """Runtime configuration for ingest, dbt and the flow.

    ``target`` selects both the dbt target and the ingest warehouse.
    """

    target: str = DEFAULT_TARGET
    duckdb_path: Path = REPO_ROOT / DEFAULT_DUCKDB_PATH
    bigquery_project: str | None = None
    bigquery_location: str = "EU"
    bigquery_api_endpoint: str | None = None
    raw_dataset: str = "raw"
    #: Where dbt builds and tests the marts (private: write and audit).
    marts_dataset: str = "marts"
    #: What consumers read: changed only by the publish step, after a fully green build.
    analytics_dataset: str = "analytics"
    #: DuckDB: the published copy of ``analytics`` that readers open (never the writer's
    #: file); default ``<warehouse stem>.analytics.duckdb`` beside the warehouse.
    duckdb_analytics_path: Path | None = None
    #: Prepended to every BigQuery dataset name (throwaway datasets in tests); "" in production.
    bigquery_dataset_prefix: str = ""
    #: Where dbt keeps each warehouse's state (``target/<key>``) and each run's folder
    #: (``runs/<key>/<UTC start>``: dbt.log, run_results.json, sources.json); by default the
    #: dbt project. A deployment sets it to a folder that outlives the run's clone.
    state_dir: Path | None = None

    @property
    def warehouse_kind(self) -> Literal["duckdb", "bigquery"]:
        try:
            return TARGETS[self.target]
        except KeyError:
            raise ValueError(
                f"unknown target {self.target!r}; choose one of {', '.join(TARGETS)}"
            ) from None

    @property
    def analytics_path(self) -> Path:
        """DuckDB: the published file readers open (the dashboard, BI, the README's queries)."""
        if self.duckdb_analytics_path is not None:
            return Path(self.duckdb_analytics_path).absolute()
        return self.duckdb_path.with_name(self.duckdb_path.stem + ".analytics.duckdb")

    @property
    def run_key(self) -> str:
        """A short, stable name for this warehouse (``dev-3f2a…``): each warehouse keeps its
        own dbt state (``dbt/target/<key>``, ``dbt/logs/<key>``) and its own run lock."""
        if self.warehouse_kind == "duckdb":
            where = str(self.duckdb_path)
        else:
            where = f"{self.bigquery_project}/{self.bigquery_dataset_prefix}"
        return f"{self.target}-{hashlib.sha1(where.encode()).hexdigest()[:10]}"

    @property
    def run_lock_path(self) -> Path:
        """The file whose lock admits one run at a time to this warehouse: beside the
        DuckDB file, or (BigQuery) in this machine's temporary folder."""
        if self.warehouse_kind == "duckdb":
            return self.duckdb_path.with_name(self.duckdb_path.name + ".lock")
        return Path(tempfile.gettempdir()) / "nightjar" / f"{self.run_key}.lock"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from the environment; keyword overrides (e.g. a CLI flag) win."""
        env = os.environ if env is None else env
        base = _absolute(env.get("NIGHTJAR_HOME"), Path.cwd()) or Path.cwd()
        duckdb_path = _absolute(env.get("DUCKDB_PATH") or str(DEFAULT_DUCKDB_PATH), base)
        values: dict[str, object] = {
            "target": env.get("NIGHTJAR_TARGET") or DEFAULT_TARGET,
            "duckdb_path": duckdb_path,
            "bigquery_project": env.get("BIGQUERY_PROJECT") or env.get("GOOGLE_CLOUD_PROJECT"),
            "bigquery_location": env.get("BIGQUERY_LOCATION") or "EU",
            "bigquery_api_endpoint": env.get("BIGQUERY_API_ENDPOINT") or None,
            "duckdb_analytics_path": _absolute(env.get("DUCKDB_ANALYTICS_PATH"), base),
            "state_dir": _absolute(env.get("NIGHTJAR_STATE_DIR"), base),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        prefix = env.get("BIGQUERY_DATASET_PREFIX") or ""
        if prefix and TARGETS.get(str(values["target"])) == "bigquery":
            if not re.fullmatch(r"[A-Za-z0-9_]+", prefix):
                raise ValueError(
                    f"BIGQUERY_DATASET_PREFIX={prefix!r}: use only letters, digits and '_'"
                )
            values.setdefault("bigquery_dataset_prefix", prefix)
            values.setdefault("raw_dataset", prefix + "raw")
            values.setdefault("marts_dataset", prefix + "marts")
            values.setdefault("analytics_dataset", prefix + "analytics")
        settings = cls(**values)  # type: ignore[arg-type]
        settings.warehouse_kind  # noqa: B018 - validate the target early
        return settings

    def dbt_env(self) -> dict[str, str]:
        """Environment dbt needs so that its profile (``dbt/profiles.yml``, read with
        ``env_var``) points at the same warehouse. Against the emulator only the endpoint and
        the authentication differ (see :mod:`config.bigquery`)."""
        env = {"DUCKDB_PATH": str(self.duckdb_path), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        if self.warehouse_kind != "bigquery":
            return env
        env["BIGQUERY_LOCATION"] = self.bigquery_location
        if self.bigquery_project:
            env["BIGQUERY_PROJECT"] = self.bigquery_project
        if self.bigquery_dataset_prefix:
            env["BIGQUERY_DATASET_PREFIX"] = self.bigquery_dataset_prefix
        if self.bigquery_api_endpoint:
            env["BIGQUERY_API_ENDPOINT"] = self.bigquery_api_endpoint
            env["BIGQUERY_AUTH_METHOD"] = EMULATOR_DBT_METHOD
            env["BIGQUERY_TOKEN"] = EMULATOR_DBT_TOKEN
        return env


def _absolute(value: str | None, base: Path) -> Path | None:
    """A path from the environment. A relative one is taken from ``base``: ``NIGHTJAR_HOME``
    when set (a deployment's base, so nothing lands in a worker's temporary clone), else the
    working directory."""
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path).resolve()
