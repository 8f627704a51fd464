"""The GoogleSQL check rejects what BigQuery rejects, and says who sent it.

Each case is SQL that DuckDB (and so the emulator) runs, or that a typo would produce; each
must fail with ZetaSQL's own message. The positive cases pin the BigQuery features the
check enables, so that none is rejected by a setting rather than by BigQuery's rules.
"""

from __future__ import annotations

import pytest

from tests.googlesql.analyzer import Analyzer, GoogleSQLError, raw_catalog
from tests.googlesql.replay import replay

PROJECT = "nightjar-check"
RAW = f"`{PROJECT}`.`raw`.`viewing_logs`"

REJECTED = {
    "unknown function": (f"select no_such_function(view_id) from {RAW}", "Function not found"),
    "DuckDB-only function": (f"select list_value(view_id) from {RAW}", "list_value"),
    "TIMESTAMP compared with DATETIME": (
        f"select view_id from {RAW} where started_at < datetime '2026-01-01 00:00:00'",
        "No matching signature for operator <",
    ),
    "column missing from the catalog": (
        f"select no_such_column from {RAW}",
        "Unrecognized name: no_such_column",
    ),
    "table missing from the catalog": (f"select 1 from `{PROJECT}`.`raw`.`nope`", "not found"),
    "DuckDB's :: cast": (f"select view_id::string from {RAW}", "Syntax error"),
}

ACCEPTED = {
    "QUALIFY": f"select view_id from {RAW} qualify row_number() over (partition by view_id"
    " order by started_at desc) = 1",
    "BIGINT, BigQuery's alias of INT64": f"select cast(watch_duration_s as bigint) from {RAW}",
    "DDL with partitioning and clustering": f"create or replace table `{PROJECT}`.`a`.`t`"
    " partition by d cluster by view_id as select view_id, date(started_at, 'UTC') as d"
    f" from {RAW}",
    "a transaction script with DML and ERROR()": "begin transaction;\n"
    f"delete from {RAW} where _file_date = date '2026-01-01';\n"
    f"insert into {RAW} (view_id) select 'x';\n"
    "select if(1 = 1, 'ok', error('mismatch'));\ncommit transaction",
    "MERGE": f"merge {RAW} as t using (select 'x' as view_id) as s on t.view_id = s.view_id"
    " when not matched then insert (view_id) values (s.view_id)",
}


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_rejected_with_zetasqls_message(analyzer: Analyzer, case: str) -> None:
    sql, message = REJECTED[case]
    with pytest.raises(GoogleSQLError) as caught:
        analyzer.analyze_script(sql, raw_catalog(analyzer, PROJECT), PROJECT)
    assert message in caught.value.message


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_bigquery_features_are_enabled(analyzer: Analyzer, case: str) -> None:
    analyzer.analyze_script(ACCEPTED[case], raw_catalog(analyzer, PROJECT), PROJECT)


def test_a_rejected_statement_names_its_caller_statement_and_message(analyzer: Analyzer) -> None:
    fields = [{"name": "view_id", "type": "STRING"}, {"name": "started_at", "type": "TIMESTAMP"}]
    table = {"project": PROJECT, "dataset": "raw", "table": "viewing_logs", "fields": fields}
    events = [
        {"kind": "table", "caller": "ingest.warehouse.bigquery:_ensure_table", **table},
        {"kind": "query", "project": PROJECT, "caller": "dashboard.readers:query",
         "sql": f"select view_id from {RAW}"},
        {"kind": "query", "project": PROJECT, "caller": "dbt model.nightjar.broken",
         "sql": f"select 1;\nselect list_value(view_id) from {RAW}"},
        {"kind": "query", "project": PROJECT, "caller": "tests.bigquery.test_x:helper",
         "sql": "select no_such_function()"},
    ]  # fmt: skip
    report = replay(analyzer, events)
    assert report.statements == {"dashboard": 1, "dbt model": 2}
    assert report.test_statements == 1
    (failure,) = report.failures
    assert failure.startswith("dbt model.nightjar.broken: ZetaSQL says: Function not found")
    assert "statement: select list_value(view_id)" in failure
