"""``dbt compile --target prod`` with no credentials, no BigQuery variable and no network.

dbt does not list datasets up front (``--no-populate-cache``), the incremental models
render their full build outside run and build (``macros/incremental.sql``), and with no
project configured ``dbt/profiles.yml`` opens dbt-bigquery's client with a placeholder token
that is never sent. Any request that
did leave would hit a dead proxy and fail the compile at once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from config.settings import DBT_PROJECT_DIR

#: Any HTTP(S) request would go to this dead local proxy and fail at once.
DEAD_PROXY = "http://127.0.0.1:9"


def compile_prod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from dbt.cli.main import dbtRunner

    for name in list(os.environ):
        if name.startswith(("BIGQUERY_", "GOOGLE_", "CLOUDSDK_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, DEAD_PROXY)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no gcloud credentials either
    target = tmp_path / "target"
    result = dbtRunner().invoke(
        [
            "compile",
            "--target",
            "prod",
            "--no-populate-cache",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(target),
            "--log-path",
            str(tmp_path / "logs"),
        ]
    )
    assert result.success, f"dbt compile --target prod failed: {result.exception}"
    return target / "compiled" / "nightjar" / "models"


def compiled_models(models: Path) -> list[dict[str, Any]]:
    """The compiled models in build order: ``name``, ``relation`` (as BigQuery names it),
    ``materialized`` and ``sql`` (read from the manifest beside ``models``)."""
    manifest = json.loads((models.parents[2] / "manifest.json").read_text(encoding="utf-8"))
    nodes = {k: n for k, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    ordered: list[str] = []

    def visit(unique_id: str) -> None:
        if unique_id in nodes and unique_id not in ordered:
            for parent in nodes[unique_id]["depends_on"]["nodes"]:
                visit(parent)
            ordered.append(unique_id)

    for unique_id in sorted(nodes):
        visit(unique_id)
    return [
        {
            "name": nodes[u]["name"],
            "relation": nodes[u]["relation_name"],
            "materialized": nodes[u]["config"]["materialized"],
            "sql": (models / Path(nodes[u]["original_file_path"]).relative_to("models")).read_text(
                encoding="utf-8"
            ),
        }
        for u in ordered
    ]
