"""The PBIR report: page layout files agree, and every field a visual uses exists in the model."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pbi_project import POWERBI_DIR, REPO_ROOT, load_json, report_dir, semantic_model_dir, tables

PAGES_DIR = report_dir() / "definition" / "pages"


def _pages() -> dict[str, dict[str, Any]]:
    return {path.parent.name: load_json(path) for path in PAGES_DIR.glob("*/page.json")}


def _visuals(page: str) -> dict[str, dict[str, Any]]:
    return {
        path.parent.name: load_json(path)
        for path in (PAGES_DIR / page / "visuals").glob("*/visual.json")
    }


def _field_refs(node: Any, aliases: dict[str, str] | None = None) -> Iterator[tuple[str, str, str]]:
    """(kind, table, name) of every Column/Measure reference, resolving query aliases."""
    aliases = dict(aliases or {})
    if isinstance(node, dict):
        for source in node.get("From", []) or []:
            if isinstance(source, dict) and "Entity" in source:
                aliases[source["Name"]] = source["Entity"]
        for kind in ("Column", "Measure"):
            ref = node.get(kind)
            if isinstance(ref, dict) and "Property" in ref:
                source_ref = ref["Expression"]["SourceRef"]
                table = source_ref.get("Entity") or aliases.get(source_ref.get("Source", ""))
                yield kind, str(table), ref["Property"]
        for value in node.values():
            yield from _field_refs(value, aliases)
    elif isinstance(node, list):
        for value in node:
            yield from _field_refs(value, aliases)


def _model_fields() -> set[tuple[str, str, str]]:
    fields = set()
    for table in tables(semantic_model_dir()).values():
        fields |= {("Column", table.name, c.name) for c in table.of_kind("column")}
        fields |= {("Measure", table.name, m.name) for m in table.of_kind("measure")}
    return fields


def test_pages_json_lists_the_two_pages_in_order() -> None:
    pages = _pages()
    metadata = load_json(PAGES_DIR / "pages.json")
    assert metadata["pageOrder"] == ["content_performance", "audience"]
    assert sorted(metadata["pageOrder"]) == sorted(pages)
    assert {p["displayName"] for p in pages.values()} == {"Content performance", "Audience"}
    for folder, page in pages.items():
        assert page["name"] == folder


def test_visual_folders_match_visual_names() -> None:
    for page in _pages():
        visuals = _visuals(page)
        assert visuals, f"page {page} has no visual"
        for folder, visual in visuals.items():
            assert visual["name"] == folder


def test_every_field_used_by_a_visual_exists_in_the_semantic_model() -> None:
    model = _model_fields()
    used = {ref for page in _pages() for v in _visuals(page).values() for ref in _field_refs(v)}
    assert used, "no visual uses any field"
    assert used - model == set()


def test_the_reference_check_catches_a_missing_field() -> None:
    visual = {
        "visual": {
            "query": {
                "queryState": {
                    "Y": {
                        "projections": [
                            {
                                "field": {
                                    "Measure": {
                                        "Expression": {"SourceRef": {"Entity": "mart_users"}},
                                        "Property": "No Such Measure",
                                    }
                                }
                            }
                        ]
                    }
                }
            }
        }
    }
    assert set(_field_refs(visual)) - _model_fields() == {
        ("Measure", "mart_users", "No Such Measure")
    }


def test_content_performance_page_shows_views_over_time_and_top_contents() -> None:
    visuals = _visuals("content_performance")
    line = [v for v in visuals.values() if v["visual"]["visualType"] == "lineChart"]
    assert len(line) == 1
    state = line[0]["visual"]["query"]["queryState"]
    assert [p["field"]["Column"]["Property"] for p in state["Category"]["projections"]] == [
        "activity_date"
    ]
    assert [p["field"]["Measure"]["Property"] for p in state["Y"]["projections"]] == ["Total Views"]
    top = visuals["top_contents_by_engagement"]
    (top_filter,) = top["filterConfig"]["filters"]
    assert top_filter["type"] == "TopN"
    assert top_filter["field"]["Column"]["Property"] == "content_id"
    subquery = top_filter["filter"]["From"][0]["Expression"]["Subquery"]["Query"]
    assert subquery["OrderBy"][0]["Expression"]["Measure"]["Property"] == "Engagement Rate"
    assert subquery["OrderBy"][0]["Direction"] == 2  # descending


def test_audience_page_shows_users_by_segment_and_active_users() -> None:
    refs = {ref for v in _visuals("audience").values() for ref in _field_refs(v)}
    assert ("Column", "mart_users", "engagement_segment") in refs
    assert ("Measure", "mart_users", "Users") in refs
    assert {name for kind, _, name in refs if name.startswith("Active Users")} == {
        "Active Users (7 days)",
        "Active Users (30 days)",
    }


@pytest.mark.parametrize(
    "local_file",
    [
        "Nightjar.SemanticModel/.pbi/cache.abf",
        "Nightjar.SemanticModel/.pbi/localSettings.json",
        "Nightjar.Report/.pbi/localSettings.json",
    ],
)
def test_local_cache_and_user_settings_are_git_ignored(local_file: str) -> None:
    git = shutil.which("git")
    if git is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout (or no git): cannot ask git what it ignores")
    path = (POWERBI_DIR / local_file).relative_to(REPO_ROOT).as_posix()
    result = subprocess.run(
        [git, "check-ignore", "--no-index", "-q", path], cwd=REPO_ROOT, check=False
    )
    assert result.returncode == 0, f"{path} is not git-ignored"


def test_definition_files_are_not_git_ignored() -> None:
    git = shutil.which("git")
    if git is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout (or no git): cannot ask git what it ignores")
    path = Path(report_dir() / "definition" / "report.json").relative_to(REPO_ROOT).as_posix()
    result = subprocess.run(
        [git, "check-ignore", "--no-index", "-q", path], cwd=REPO_ROOT, check=False
    )
    assert result.returncode == 1, f"{path} is git-ignored but must be committed"
