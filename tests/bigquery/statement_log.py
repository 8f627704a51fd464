"""Record what the pipeline asks BigQuery to do, for the ZetaSQL check (``tests/zetasql``).

While the BigQuery tests run against the emulator, every HTTP request that the BigQuery
client library sends (ingest, dbt-bigquery and the dashboard all use it) is seen here, at
the ``requests`` transport, and the ones that matter are appended to a JSON Lines file:

- ``query``: the SQL of a query job (``jobs.insert``) or of ``jobs.query``, with the project
  it runs in and who sent it (the dbt node from dbt's query comment, else the innermost
  frame of this repository's code: ``ingest.…``, ``flows.…``, ``dashboard.…`` or ``tests.…``);
- ``table``: a table created through the API (``tables.insert``) or by a load job, with its
  schema, since those tables are never declared in SQL;
- ``drop``: a table, or a whole dataset, deleted through the API.

Nothing is changed: the request goes on as it was. The file is written in request order,
which for one project is the order the catalog must follow.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Top-level folders whose frames name a caller; the first match from the innermost wins.
CALLER_PACKAGES = ("ingest", "flows", "dashboard", "tests")
_DBT_NODE = re.compile(r'"node_id":\s*"([^"]+)"')
_PATH = re.compile(r"/bigquery/v2/projects/(?P<project>[^/]+)/(?P<rest>.*)$")


def caller() -> str:
    """``module:function`` of the innermost frame of this repository's code; ``dbt`` for a
    request from one of dbt's worker threads (no frame of ours), ``unknown`` otherwise."""
    frame, in_dbt = sys._getframe(1), False
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if path.is_relative_to(REPO_ROOT):
            parts = path.relative_to(REPO_ROOT).with_suffix("").parts
            if parts and parts[0] in CALLER_PACKAGES and path != Path(__file__):
                return ".".join(parts) + ":" + frame.f_code.co_name
        in_dbt = in_dbt or f"{os.sep}dbt{os.sep}" in frame.f_code.co_filename
        frame = frame.f_back
    return "dbt" if in_dbt else "unknown"


def _json_documents(body: bytes, content_type: str) -> list[Any]:
    """The JSON documents of a request body (multipart uploads carry one before the data)."""
    if content_type.startswith("application/json"):
        try:
            return [json.loads(body)]
        except ValueError:
            return []
    if content_type.startswith("multipart/"):
        text = body.decode("utf-8", errors="replace")
        return [json.loads(m) for m in re.findall(r"\r?\n\r?\n(\{.*?\})\r?\n--", text, re.S)]
    return []


def events(method: str, url: str, body: bytes, content_type: str) -> Iterator[dict[str, Any]]:
    """What one request means for the check (most requests mean nothing)."""
    parts = urlsplit(url)
    match = _PATH.search(parts.path)
    if match is None:
        return
    project, rest = match["project"], match["rest"].rstrip("/")
    segments = rest.split("/")
    if method == "DELETE" and len(segments) == 4 and segments[2] == "tables":
        yield {"kind": "drop", "project": project, "dataset": segments[1], "table": segments[3]}
        return
    if method == "DELETE" and len(segments) == 2 and segments[0] == "datasets":
        yield {"kind": "drop", "project": project, "dataset": segments[1], "table": None}
        return
    if method != "POST":
        return
    for doc in _json_documents(body, content_type):
        if len(segments) == 3 and segments[2] == "tables":
            ref = doc.get("tableReference", {})
            if "view" in doc:
                yield {"kind": "query", "project": project, "sql": doc["view"].get("query", "")}
            yield {
                "kind": "table",
                "project": ref.get("projectId", project),
                "dataset": ref.get("datasetId", segments[1]),
                "table": ref.get("tableId"),
                "fields": doc.get("schema", {}).get("fields", []),
            }
        elif segments == ["queries"] and "query" in doc:
            yield {"kind": "query", "project": project, "sql": doc["query"]}
        elif segments == ["jobs"]:
            config = doc.get("configuration", {})
            if "query" in config:
                yield {"kind": "query", "project": project, "sql": config["query"]["query"]}
            elif "load" in config:
                dest = config["load"].get("destinationTable", {})
                yield {
                    "kind": "table",
                    "project": dest.get("projectId", project),
                    "dataset": dest.get("datasetId"),
                    "table": dest.get("tableId"),
                    "fields": config["load"].get("schema", {}).get("fields", []),
                }


class StatementLog:
    """Appends the events of every BigQuery request to ``path`` while installed."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._original: Any = None

    def record(self, request: Any) -> None:
        body = request.body or b""
        body = body.encode() if isinstance(body, str) else bytes(body)
        content_type = request.headers.get("Content-Type", "")
        found = list(events(request.method, request.url, body, content_type))
        if not found:
            return
        who = caller()
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            for event in found:
                if event["kind"] == "query":
                    node = _DBT_NODE.search(event["sql"])
                    event["caller"] = f"dbt {node[1]}" if node else who
                else:
                    event["caller"] = who
                out.write(json.dumps(event) + "\n")

    def install(self) -> None:
        import requests.adapters

        original = requests.adapters.HTTPAdapter.send
        log = self

        def send(adapter: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            log.record(request)
            return original(adapter, request, *args, **kwargs)

        self._original = original
        requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign]

    def uninstall(self) -> None:
        import requests.adapters

        if self._original is not None:
            requests.adapters.HTTPAdapter.send = self._original  # type: ignore[method-assign]
            self._original = None
