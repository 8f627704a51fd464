"""The deployment's contract with the Prefect server: its parameter schema and the target.

The schema Terraform sends (``terraform/daily_pipeline.parameters.json``) must be the one the
flow's signature gives today, and the server's validation (Prefect's own validator, as the
server runs it) must refuse a bad parameter and take the scheduled ones.
"""

from __future__ import annotations

import inspect
import json
import typing

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
