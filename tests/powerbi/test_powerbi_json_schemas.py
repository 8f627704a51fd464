"""Every JSON file of the Power BI project validates against the published schema it names."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from pbi_project import POWERBI_DIR, SCHEMAS_DIR, json_files, load_json, report_dir
from pbi_schemas import schema_errors

FILES = json_files()


def _require_schemas() -> None:
    if not SCHEMAS_DIR.is_dir():
        pytest.skip(f"published Power BI JSON schemas not found at {SCHEMAS_DIR}")


def test_the_project_has_its_json_files() -> None:
    names = {path.relative_to(POWERBI_DIR).as_posix() for path in FILES}
    for expected in (
        "Nightjar.pbip",
        "Nightjar.SemanticModel/definition.pbism",
        "Nightjar.SemanticModel/.platform",
        "Nightjar.Report/definition.pbir",
        "Nightjar.Report/.platform",
        "Nightjar.Report/definition/report.json",
        "Nightjar.Report/definition/version.json",
        "Nightjar.Report/definition/pages/pages.json",
    ):
        assert expected in names


@pytest.mark.parametrize(
    "path", FILES, ids=[path.relative_to(POWERBI_DIR).as_posix() for path in FILES]
)
def test_file_validates_against_its_schema(path: Path) -> None:
    _require_schemas()
    assert schema_errors(load_json(path)) == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda v: v["visual"]["query"]["sortDefinition"]["sort"][0].update(direction="Down"),
            "direction",
        ),
        (lambda v: v["filterConfig"]["filters"][0]["filter"].update(Version=3), "Version"),
        (lambda v: v["position"].pop("width"), "width"),
        (
            lambda v: v["visual"]["visualContainerObjects"]["title"][0]["properties"].update(x=1),
            "Additional properties",
        ),
    ],
    ids=["bad-enum", "bad-const-in-semantic-query", "missing-required", "unknown-property"],
)
def test_validation_reaches_referenced_schemas(mutate, expected: str) -> None:
    """The check can fail: broken copies of a visual, errors deep inside $ref'd schemas."""
    _require_schemas()
    visual = load_json(
        report_dir()
        / "definition/pages/content_performance/visuals/top_contents_by_engagement/visual.json"
    )
    assert schema_errors(visual) == []
    broken = copy.deepcopy(visual)
    mutate(broken)
    errors = schema_errors(broken)
    assert errors and any(expected in error for error in errors), errors


def test_a_file_without_schema_is_an_error() -> None:
    assert schema_errors({"version": "1.0"}) != []
