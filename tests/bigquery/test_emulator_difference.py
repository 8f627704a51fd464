"""The emulator and production differ in exactly one place: endpoint and authentication.

That place is ``config/bigquery.py``. The same file load runs twice
against the emulator: once with emulator settings, once with production settings (no
endpoint, Google credentials). Every HTTP request is recorded. The production client's
requests are addressed to ``https://bigquery.googleapis.com`` with a bearer token; the
recording transport forwards them to the emulator, which stands in for Google (the one
mock of live GCP here). Apart from host and authentication, both runs must send the same
requests: same methods, paths, parameters and JSON bodies (table definitions, load job
configurations, the transaction script).

The SQL is the other difference: the emulator runs it on DuckDB, which accepts SQL that
BigQuery rejects, and the reverse. :data:`SQL_DIFFERENCES` lists the cases met here, each
shown on both sides by a test: the emulator's answer, and ZetaSQL's (BigQuery's front end,
``tests/googlesql``), which is what ``nox -s bigquery`` checks every statement with.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from bq_pipeline import SAMPLE_DATA, sample_days

from config.bigquery import bigquery_client
from config.settings import Settings
from ingest.schemas import TABLES
from ingest.validate import LoadResult, open_read

GOOGLE = "https://bigquery.googleapis.com"

#: SQL the emulator and BigQuery disagree on: name -> (SQL, emulator runs it, ZetaSQL's message
#: or None when BigQuery accepts it).
SQL_DIFFERENCES: dict[str, tuple[str, bool, str | None]] = {
    # mart_users' first version: `order by device_views` meant the CTE's whole row.
    "a table name in FROM shadows a column of the same name": (
        "with device_views as (select 'u' as user_id, 2 as device_views) "
        "select user_id from device_views "
        "qualify row_number() over (partition by user_id order by device_views desc) = 1",
        True,
        "Ordering by expressions of type STRUCT is not allowed",
    ),
    # the dashboard's top contents, first version: HAVING reads `views` as the output alias.
    "HAVING reads a bare name as the SELECT alias": (
        "select content_id, sum(views) as views from (select 'c' as content_id, 1 as views) "
        "group by content_id having sum(views) >= 1",
        True,
        "Aggregations of aggregations are not allowed",
    ),
    "DuckDB-only functions": ("select list_value(1, 2) as xs", True, "Function not found"),
    "TIMESTAMP compared with DATETIME": (
        "select timestamp '2026-01-01 00:00:00+00' < datetime '2026-01-02 00:00:00' as b",
        True,
        "No matching signature for operator <",
    ),
}


@dataclasses.dataclass
class Recorded:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


def _recording_adapter(log: list[Recorded], forward_to: str | None) -> Any:
    import requests

    class Recording(requests.adapters.HTTPAdapter):
        """Records each request as sent; optionally forwards Google-bound ones."""

        def send(self, request: Any, **kwargs: Any) -> Any:
            body = request.body or b""
            log.append(
                Recorded(
                    request.method,
                    request.url,
                    {k.lower(): v for k, v in request.headers.items()},
                    body.encode() if isinstance(body, str) else bytes(body),
                )
            )
            if forward_to and request.url.startswith(GOOGLE):
                request.url = forward_to + request.url[len(GOOGLE) :]
            return super().send(request, **kwargs)

    return Recording()


def _load_one_file(settings: Settings, client: Any) -> None:
    day = sample_days()[1]
    path = SAMPLE_DATA / "viewing_logs" / f"{day.isoformat()}.csv"
    meta = LoadResult(
        "viewing_logs", day, path.name, "fixed-load-id", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    )
    from ingest.warehouse.bigquery import BigQueryWarehouse  # needs the bigquery extra

    warehouse = BigQueryWarehouse(settings, client=client)
    try:
        warehouse.ensure_raw_tables()
        with open_read(TABLES["viewing_logs"], path) as plan:
            warehouse.load_file(plan, meta)
    finally:
        warehouse.close()


_VOLATILE_KEYS = {"expirationTime", "jobId", "requestId"}
VOLATILE_PARAMS = ("pageToken", "upload_id")


def _scrub(value: Any, projects: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v, projects) for k, v in value.items() if k not in _VOLATILE_KEYS}
    if isinstance(value, list):
        return [_scrub(v, projects) for v in value]
    if isinstance(value, str):
        for project in projects:
            value = value.replace(project, "{project}")
        return value
    return value


def _json_parts(request: Recorded) -> list[Any]:
    """The JSON documents in a request body (multipart uploads carry one before the file)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        return [json.loads(request.body)]
    if content_type.startswith("multipart/"):
        text = request.body.decode("utf-8", errors="replace")
        return [json.loads(m) for m in re.findall(r"\r?\n\r?\n(\{.*?\})\r?\n--", text, re.S)]
    return []


def _normalised(log: list[Recorded], projects: tuple[str, ...]) -> list[tuple]:
    out = []
    for r in log:
        url = urlsplit(r.url)
        path = url.path
        for project in projects:
            path = path.replace(project, "{project}")
        path = re.sub(r"/(jobs|queries)/[^/]+", r"/\1/{id}", path)
        query = sorted((k, v) for k, v in parse_qsl(url.query) if k not in VOLATILE_PARAMS)
        out.append((r.method, path, query, [_scrub(p, projects) for p in _json_parts(r)]))
    return out


@pytest.mark.emulator
def test_production_requests_differ_from_the_emulator_only_in_host_and_auth(
    bigquery_settings: Settings,
) -> None:
    if not bigquery_settings.bigquery_api_endpoint:
        pytest.skip("compares against the local emulator")
    endpoint = bigquery_settings.bigquery_api_endpoint.rstrip("/")
    emulator_project = bigquery_settings.bigquery_project or ""
    production_project = emulator_project + "-prod"
    from google.oauth2.credentials import Credentials

    emulator_log: list[Recorded] = []
    client = bigquery_client(bigquery_settings)
    client._http.mount("http://", _recording_adapter(emulator_log, None))
    _load_one_file(bigquery_settings, client)

    production = dataclasses.replace(
        bigquery_settings, bigquery_api_endpoint=None, bigquery_project=production_project
    )
    production_log: list[Recorded] = []
    client = bigquery_client(production, credentials=Credentials(token="production-token"))
    for prefix in ("https://", "http://"):
        client._http.mount(prefix, _recording_adapter(production_log, endpoint))
    _load_one_file(production, client)

    assert emulator_log and len(emulator_log) == len(production_log)
    for r in emulator_log:
        assert r.url.startswith(endpoint + "/"), r.url
        assert "authorization" not in r.headers, f"credentials sent to the emulator: {r.url}"
    for r in production_log:
        # Resumable uploads continue at the session URL the server returned (its own host).
        to_google = r.url.startswith(GOOGLE + "/") or "upload_id=" in r.url
        assert to_google, f"production request not sent to Google: {r.url}"
        assert r.headers.get("authorization") == "Bearer production-token", r.url

    projects = (production_project, emulator_project)  # longest first
    assert _normalised(production_log, projects) == _normalised(emulator_log, projects)
    # And the bodies compared above are the interesting ones, not empty shells.
    bodies = json.dumps([n[3] for n in _normalised(production_log, projects)])
    for expected in ('"timePartitioning"', '"clustering"', '"sourceFormat": "PARQUET"',
                     "BEGIN TRANSACTION", "COMMIT TRANSACTION"):  # fmt: skip
        assert expected in bodies, f"{expected} not found in the recorded requests"


def test_dbt_gets_the_same_switch_and_nothing_else() -> None:
    """dbt's prod profile: only endpoint and auth change when the emulator is used."""
    production = Settings(target="prod", bigquery_project="p").dbt_env()
    emulator = Settings(
        target="prod", bigquery_project="p", bigquery_api_endpoint="http://127.0.0.1:9"
    ).dbt_env()
    assert set(emulator) - set(production) == {
        "BIGQUERY_API_ENDPOINT",
        "BIGQUERY_AUTH_METHOD",
        "BIGQUERY_TOKEN",
    }
    assert {k: emulator[k] for k in production} == production
    import yaml

    profiles = yaml.safe_load((Path(__file__).parents[2] / "dbt" / "profiles.yml").read_text())
    prod = profiles["nightjar"]["outputs"]["prod"]
    for field, variable in (
        ("api_endpoint", "BIGQUERY_API_ENDPOINT"),
        ("method", "BIGQUERY_AUTH_METHOD"),
        ("token", "BIGQUERY_TOKEN"),
        ("project", "BIGQUERY_PROJECT"),
        ("location", "BIGQUERY_LOCATION"),
    ):
        assert f"env_var('{variable}'" in str(prod[field]), f"prod.{field} must read {variable}"


@pytest.mark.emulator
@pytest.mark.parametrize("case", sorted(SQL_DIFFERENCES))
def test_sql_the_emulator_and_bigquery_disagree_on(
    bigquery_settings: Settings, bigquery: Any, analyzer: Any, case: str
) -> None:
    if not bigquery_settings.bigquery_api_endpoint:
        pytest.skip("documents the emulator's own SQL differences")
    from tests.googlesql.analyzer import Catalog, GoogleSQLError

    sql, emulator_runs, zetasql_message = SQL_DIFFERENCES[case]
    try:
        list(bigquery.query(sql).result())
        ran = True
    except Exception:
        ran = False
    assert ran == emulator_runs, f"the emulator {'refused' if emulator_runs else 'ran'}: {sql}"
    if zetasql_message is None:
        analyzer.analyze_script(sql, Catalog(), bigquery.project)
    else:
        with pytest.raises(GoogleSQLError) as caught:
            analyzer.analyze_script(sql, Catalog(), bigquery.project)
        assert zetasql_message in caught.value.message
