"""Helpers for the dbt tests: run dbt in-process, read the marts, and an independent
reference computation of the marts straight from the CSV files.

The reference implements the input contract and the mart definitions in plain Python
(``csv`` module, ``datetime``); it shares nothing with the SQL models except the column
declaration in ``ingest/schemas.py``.
"""

from __future__ import annotations

import csv
import math
import re
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from ingest.schemas import SOCIAL_INTERACTIONS, TABLES, VIEWING_LOGS, TableSchema

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_DIR = REPO_ROOT / "dbt"
MARTS = ("mart_content_performance", "mart_users")
MART_KEYS = {
    "mart_content_performance": ("content_id", "activity_date"),
    "mart_users": ("user_id",),
}
# The contract, written out independently of the loader's SQL:
#: a field made only of these characters is empty;
BLANK = " \t\r\n"
#: numbers and timestamps may be padded with spaces or tabs;
PADDING = " \t"
#: an integer is ASCII digits with an optional sign, and maybe a fraction of zeros only;
INTEGER = re.compile(r"[+-]?[0-9]+(\.0+)?")
#: a timestamp is an ISO 8601 date and time in the extended format (a date alone is not
#: one), with optional seconds, fraction and UTC offset (under 24 hours), nothing between.
TIMESTAMP_SHAPE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?"
    r"([Zz]|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?"
)
#: ISO 8601's end of day, 24:00 (seconds and fraction zero), is the next midnight.
END_OF_DAY = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2}[T ])24:00(:00([.,]0+)?)?(?![0-9:.,])")


def project_with_test(tmp_path: Path, name: str, sql: str) -> Path:
    """A copy of the dbt project with one more singular (error-severity) test, ``name``."""
    project = tmp_path / "dbt"
    shutil.copytree(
        DBT_DIR,
        project,
        ignore=shutil.ignore_patterns("target", "logs", "runs", "dbt_packages", ".user.yml"),
    )
    (project / "tests").mkdir(exist_ok=True)
    (project / "tests" / f"{name}.sql").write_text(sql, encoding="utf-8")
    return project


class DbtFailed(AssertionError):
    """A dbt invocation that was expected to succeed did not."""


def run_dbt(
    args: list[str], target_path: Path, *, target: str = "dev", profiles_dir: Path = DBT_DIR
) -> Any:
    """Run one dbt command in-process against the committed project and profiles.

    ``target_path`` keeps compiled artefacts and logs out of the shared ``dbt/target``.
    Returns the ``dbtRunnerResult``; raises :class:`DbtFailed` when it did not succeed.
    """
    from dbt.cli.main import dbtRunner

    full = [
        *args,
        "--project-dir",
        str(DBT_DIR),
        "--profiles-dir",
        str(profiles_dir),
        "--target",
        target,
        "--target-path",
        str(target_path),
        "--log-path",
        str(target_path / "logs"),
    ]
    result = dbtRunner().invoke(full)
    if not result.success:
        failures = []
        if result.result is not None and hasattr(result.result, "results"):
            failures = [
                f"{r.node.unique_id}: {r.status} {r.message}"
                for r in result.result.results
                if str(r.status) not in ("success", "pass", "skipped")
            ]
        raise DbtFailed(f"dbt {' '.join(args)} failed: {result.exception or failures}")
    return result


def fetch_marts(path: Path, *, with_stamp: bool = False) -> dict[str, dict[tuple, dict]]:
    """Every mart row, as dbt built it (the private ``marts`` schema), keyed by its key
    columns (``batch_loaded_at`` dropped unless asked).

    Not read-only: dbt-duckdb keeps its database instance open in this process, and DuckDB
    refuses a second connection to the same file with a different configuration.
    """
    con = duckdb.connect(str(path))
    try:
        out: dict[str, dict[tuple, dict]] = {}
        for mart in MARTS:
            cur = con.execute(f"select * from marts.{mart}")
            names = [d[0] for d in cur.description]
            rows = {}
            for values in cur.fetchall():
                row = dict(zip(names, values, strict=True))
                if not with_stamp:
                    row.pop("batch_loaded_at")
                key = tuple(row[k] for k in MART_KEYS[mart])
                assert key not in rows, f"duplicate key {key} in {mart}"
                rows[key] = row
            out[mart] = rows
        return out
    finally:
        con.close()


def assert_marts_equal(actual: dict, expected: dict, label: str) -> None:
    """Same keys and same values; floats compared to 1e-9 relative."""
    for mart in MARTS:
        a, e = actual[mart], expected[mart]
        missing, extra = sorted(set(e) - set(a)), sorted(set(a) - set(e))
        assert not missing and not extra, (
            f"{label}: {mart} keys differ: missing {missing[:5]} (of {len(missing)}), "
            f"unexpected {extra[:5]} (of {len(extra)})"
        )
        for key, erow in e.items():
            arow = a[key]
            assert set(arow) == set(erow), f"{label}: {mart} columns {set(arow) ^ set(erow)}"
            for col, ev in erow.items():
                av = arow[col]
                if isinstance(ev, float) and av is not None:
                    ok = math.isclose(av, ev, rel_tol=1e-9, abs_tol=1e-12)
                else:
                    ok = av == ev
                assert ok, f"{label}: {mart}{key}.{col} = {av!r}, expected {ev!r}"


# --- the independent reference -------------------------------------------------------


def _parse_timestamp(value: str) -> datetime | None:
    if not TIMESTAMP_SHAPE.fullmatch(value):
        return None
    if value.endswith("z"):  # UTC designator, either case
        value = value[:-1] + "Z"
    end_of_day = END_OF_DAY.match(value)
    if end_of_day:
        value = end_of_day.group(1) + "00:00" + value[end_of_day.end() :]
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        return None
    if end_of_day:
        ts += timedelta(days=1)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    try:
        return ts.astimezone(UTC)
    except OverflowError:  # outside years 1-9999 once in UTC
        return None


def _parse_row(schema: TableSchema, header: list[str], fields: list[str]) -> dict | None:
    """The typed record for one CSV record, or None when the contract rejects it."""
    if len(fields) != len(header):
        return None
    by_name = dict(zip(header, fields, strict=True))
    record: dict[str, Any] = {}
    for col in schema.columns:
        raw = by_name.get(col.name, "")
        if raw.strip(BLANK) == "":
            if col.required:
                return None
            record[col.name] = None
            continue
        if col.type == "int64":
            number = raw.strip(PADDING)
            if not INTEGER.fullmatch(number):
                return None
            value: Any = int(number.split(".")[0])
            if col.rule == "non_negative" and value < 0:
                return None
            if col.rule == "positive" and value <= 0:
                return None
            if col.maximum is not None and value > col.maximum:
                return None
        elif col.type == "timestamp":
            value = _parse_timestamp(raw.strip(PADDING))
            if value is None:
                return None
        else:
            # Text is kept as delivered; a lowercased value is compared without padding.
            value = raw.strip(BLANK).lower() if col.lowercase else raw
            if col.rule == "one_of" and value not in col.allowed:
                return None
        record[col.name] = value
    return record


def read_file(schema: TableSchema, path: Path) -> list[dict]:
    """Valid records of one daily file, in file order."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader)]
        rows = []
        for fields in reader:
            record = _parse_row(schema, header, fields)
            if record is not None:
                rows.append(record)
        return rows


@dataclass
class Reference:
    """The delivered files: the latest delivery per (table, file date) counts."""

    files: dict[tuple[str, date], Path]

    def __init__(self) -> None:
        self.files = {}

    def deliver(self, table: str, file_date: date, path: Path) -> None:
        self.files[(table, file_date)] = path

    def winners(self, table: str) -> dict[str, dict]:
        """Per id: the copy from the most recent file date; within a file, the last row."""
        schema = TABLES[table]
        best: dict[str, tuple[date, int, dict]] = {}
        for (t, file_date), path in self.files.items():
            if t != table:
                continue
            for position, record in enumerate(read_file(schema, path)):
                key = record[schema.key]
                rank = (file_date, position)
                if key not in best or rank > best[key][:2]:
                    best[key] = (file_date, position, record)
        return {key: value[2] for key, value in best.items()}

    def marts(self) -> dict[str, dict[tuple, dict]]:
        views = list(self.winners(VIEWING_LOGS.name).values())
        interactions = list(self.winners(SOCIAL_INTERACTIONS.name).values())
        return {
            "mart_content_performance": content_performance(views, interactions),
            "mart_users": users(views, interactions),
        }


def _utc_naive(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(tzinfo=None)


def content_performance(views: list[dict], interactions: list[dict]) -> dict[tuple, dict]:
    days: dict[tuple, dict] = defaultdict(
        lambda: {"views": [], "likes": 0, "shares": 0, "comments": 0}
    )
    for v in views:
        days[(v["content_id"], v["started_at"].date())]["views"].append(v)
    for i in interactions:
        days[(i["content_id"], i["created_at"].date())][i["interaction_type"] + "s"] += 1
    out = {}
    for (content_id, day), d in days.items():
        vs = d["views"]
        with_duration = [v for v in vs if v["content_duration_s"] is not None]
        rates = [min(v["watch_duration_s"] / v["content_duration_s"], 1) for v in with_duration]
        engaged = d["likes"] + d["shares"] + d["comments"]
        out[(content_id, day)] = {
            "content_id": content_id,
            "activity_date": day,
            "views": len(vs),
            "unique_viewers": len({v["user_id"] for v in vs}),
            "total_watch_s": sum(v["watch_duration_s"] for v in vs),
            "avg_completion_rate": sum(rates) / len(rates) if rates else None,
            "views_with_duration": len(with_duration),
            "completion_rate_sum": float(sum(rates)),
            # exact: watch >= 0.9 * duration  <=>  10 * watch >= 9 * duration
            "completed_views": sum(
                1
                for v in with_duration
                if 10 * v["watch_duration_s"] >= 9 * v["content_duration_s"]
            ),
            "likes": d["likes"],
            "shares": d["shares"],
            "comments": d["comments"],
            "engagement_rate": engaged / len(vs) if vs else None,
        }
    return out


def users(views: list[dict], interactions: list[dict]) -> dict[tuple, dict]:
    per: dict[str, dict] = defaultdict(lambda: {"views": [], "interactions": []})
    for v in views:
        per[v["user_id"]]["views"].append(v)
    for i in interactions:
        per[i["user_id"]]["interactions"].append(i)
    out = {}
    for user_id, d in per.items():
        vs, its = d["views"], d["interactions"]
        times = [v["started_at"] for v in vs] + [i["created_at"] for i in its]
        watch = sum(v["watch_duration_s"] for v in vs)
        devices = Counter(v["device"] for v in vs if v["device"] is not None)
        primary = min(devices, key=lambda dev: (-devices[dev], dev)) if devices else None
        kinds = Counter(i["interaction_type"] for i in its)
        if watch >= 36000:
            segment = "heavy"
        elif watch >= 3600:
            segment = "regular"
        elif vs:
            segment = "light"
        else:
            segment = "social_only"
        out[(user_id,)] = {
            "user_id": user_id,
            "first_seen_at": _utc_naive(min(times)),
            "last_seen_at": _utc_naive(max(times)),
            "active_days": len({t.date() for t in times}),
            "total_views": len(vs),
            "total_watch_s": watch,
            "distinct_contents": len({v["content_id"] for v in vs}),
            "likes": kinds["like"],
            "shares": kinds["share"],
            "comments": kinds["comment"],
            "primary_device": primary,
            "engagement_segment": segment,
        }
    return out


def event_keys(table: str, records: list[dict]) -> tuple[set[date], set[str]]:
    """Activity dates and users of some records."""
    ts = TABLES[table].event_time
    return {r[ts].date() for r in records}, {r["user_id"] for r in records}
