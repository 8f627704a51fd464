"""The deployment's contract with the Prefect server: its parameter schema and the target.

The schema Terraform sends (``terraform/daily_pipeline.parameters.json``) must be the one the
flow's signature gives today, and the server's validation (Prefect's own validator, as the
server runs it) must refuse a bad parameter and take the scheduled ones.
"""

from __future__ import annotations

import inspect
import json
import typing
from pathlib import Path

import pytest

from config.settings import TARGETS, Settings
from flows.daily_pipeline import TargetName, daily_pipeline
from tools.parameter_schema import SCHEMA_FILE, generate


def _validate(params: dict) -> list:
    from prefect.utilities.schema_tools.validation import validate

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return validate(params, schema, raise_on_error=False)


def test_the_committed_schema_is_the_flows_signature() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == generate(), (
        "terraform/daily_pipeline.parameters.json is out of date: "
        "run python -m tools.parameter_schema"
    )


@pytest.mark.parametrize(
    "params",
    [
        {"run_date": "2026-13-01"},
        {"run_date": "yesterday"},
        {"target": "staging"},
        {"full_refresh": "sometimes"},
    ],
)
def test_the_server_refuses_bad_parameters(params: dict) -> None:
    assert _validate(params), f"accepted {params}"


@pytest.mark.parametrize(
    "params",
    [
        {"target": "prod", "source_dir": "gs://landing/drops"},  # the scheduled run
        {"run_date": "2026-11-25"},  # the runbook's manual run
        {"run_date": "2026-11-20", "end_date": "2026-11-25"},  # and its backfill
        {},
    ],
)
def test_the_server_takes_the_runbook_parameters(params: dict) -> None:
    assert _validate(params) == []


def test_the_schema_names_exactly_the_configured_targets() -> None:
    assert set(typing.get_args(TargetName)) == set(TARGETS)


def test_target_comes_from_the_parameter_then_the_environment_then_dev(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert inspect.signature(daily_pipeline.fn).parameters["target"].default is None
    monkeypatch.delenv("NIGHTJAR_TARGET", raising=False)
    assert Settings.from_env(target=None).target == "dev"
    monkeypatch.setenv("NIGHTJAR_TARGET", "ci")
    assert Settings.from_env(target=None).target == "ci"
    assert Settings.from_env(target="dev").target == "dev"


def test_relative_paths_resolve_against_nightjar_home_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker runs the flow in a temporary clone: relative paths in the deployment's
    environment must not land there."""
    clone, home = tmp_path / "clone", tmp_path / "home"
    clone.mkdir()
    monkeypatch.chdir(clone)
    env = {"DUCKDB_PATH": "wh/n.duckdb", "NIGHTJAR_STATE_DIR": "state"}
    here = Settings.from_env(env)
    assert here.duckdb_path == clone / "wh" / "n.duckdb" and here.state_dir == clone / "state"
    there = Settings.from_env({**env, "NIGHTJAR_HOME": str(home)})
    assert there.duckdb_path == home / "wh" / "n.duckdb" and there.state_dir == home / "state"
    assert there.analytics_path == home / "wh" / "n.analytics.duckdb"
    absolute = Settings.from_env({"DUCKDB_PATH": str(tmp_path / "a.duckdb"), "NIGHTJAR_HOME": "x"})
    assert absolute.duckdb_path == tmp_path / "a.duckdb"
