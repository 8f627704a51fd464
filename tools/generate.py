"""Deterministic, seeded generator of daily CSV drops (any size), for tests and benchmarks.

Rows are computed by DuckDB from ``range(n)`` with ``hash(seed, day, row, k)`` as the
random source, formatted as CSV lines in SQL and streamed to disk in chunks with
``COPY``, so tens of millions of rows never sit in memory. The same seed (and DuckDB
version) gives byte-identical files.

Besides valid rows it writes, controllably: late events, re-sent corrected events, ids
repeated within a file, bad rows of every kind, RFC 4180 quoting (commas, doubled quotes,
newlines inside quoted fields), mixed-case interaction types, offsets crossing UTC
midnight, empty optional fields, shuffled columns, an unknown extra column, a BOM and
CRLF endings. :class:`FileManifest` reports what each file was meant to contain.

    python -m tools.generate --out DIR --start-date 2026-11-16 --days 7 \\
        --views-per-day 200 --interactions-per-day 80 --seed 7
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import NamedTuple

import duckdb

from ingest.schemas import TABLES, TableSchema

CHUNK_ROWS = 2_000_000

VIEW_BAD_KINDS = (
    "empty_required",
    "blank_required",
    "negative_watch",
    "fractional_watch",
    "non_numeric_watch",
    "zero_content_duration",
    "bad_timestamp",
    "too_few_fields",
    "too_many_fields",
)
INTERACTION_BAD_KINDS = (
    "empty_required",
    "blank_required",
    "bad_interaction_type",
    "bad_timestamp",
    "too_few_fields",
    "too_many_fields",
)


@dataclass
class FileManifest:
    """What one generated file contains, as intended by the generator."""

    table: str
    file_date: str
    path: str
    rows: int
    bad_rows: int
    bad_by_kind: dict[str, int] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    bom: bool = False
    crlf: bool = False

    @property
    def good_rows(self) -> int:
        return self.rows - self.bad_rows


@dataclass(frozen=True)
class GeneratorConfig:
    start_date: date
    days: int
    views_per_day: int
    interactions_per_day: int
    seed: int = 0
    bad_rate: float = 0.02
    late_rate: float = 0.05
    resend_rate: float = 0.02
    dup_rate: float = 0.01
    users: int = 0  # 0: derived from the row counts
    contents: int = 0
    clean: bool = False  # no bad rows, no format quirks: plain RFC 4180, fixed column order


def _u(k: int) -> str:
    """SQL: a uniform [0, 1) number for row ``i``, stream ``k``."""
    return f"((hash(i, $salt, {k}) % 1000000) / 1000000.0)"


def _h(k: int, mod: int | str) -> str:
    return f"CAST(hash(i, $salt, {k}) % {mod} AS INTEGER)"


def _skewed(k: int, n: int) -> str:
    """SQL: an id in [0, n) drawn with a long tail (a few very active ids, many rare ones)."""
    return f"CAST(floor({n} * pow({_u(k)}, 3)) AS INTEGER)"


_FIELD_MACRO = (
    "CREATE OR REPLACE TEMP MACRO csvf(x) AS CASE WHEN x IS NULL THEN '' "
    "WHEN contains(x, ',') OR contains(x, '\"') OR contains(x, chr(10)) OR contains(x, chr(13)) "
    "THEN '\"' || replace(x, '\"', '\"\"') || '\"' ELSE x END"
)


def _timestamp_sql(base_day: str, secs: str, fmt: str) -> str:
    """SQL string for an ISO 8601 timestamp at ``base_day + secs`` (UTC), in a format
    variant chosen by ``fmt`` (0..3); variant 2 uses a +/- offset that can cross midnight."""
    ts = f"(CAST({base_day} AS TIMESTAMP) + to_seconds({secs}) + to_milliseconds(i % 1000))"
    return (
        f"CASE {fmt} "
        f"WHEN 0 THEN strftime({ts}, '%Y-%m-%dT%H:%M:%SZ') "
        f"WHEN 1 THEN strftime({ts}, '%Y-%m-%d %H:%M:%S') "
        f"WHEN 2 THEN strftime({ts} + to_hours(CASE WHEN i % 2 = 0 THEN 2 ELSE -5 END), "
        "'%Y-%m-%dT%H:%M:%S.%g') || CASE WHEN i % 2 = 0 THEN '+02:00' ELSE '-05:00' END "
        f"ELSE strftime({ts}, '%Y-%m-%dT%H:%M:%S.%gZ') END"
    )


class _Event(NamedTuple):
    """SQL shared by both tables' rows for one generated day."""

    users: int
    contents: int
    #: the event id: new, re-sent from an earlier day, or repeated within the file
    event_id: str
    #: true for a re-sent event
    resend: str
    #: the day the event happened (late events: days before the file date)
    base_day: str
    #: which timestamp spelling to write
    fmt: str


def _event(cfg: GeneratorConfig, day: int, prefix: str, per_day: int) -> _Event:
    late_days = (
        f"(CASE WHEN {_u(3)} < {cfg.late_rate} AND {day} > 0 THEN 1 + {_h(4, 5)} ELSE 0 END)"
    )
    resend = f"({_u(5)} < {cfg.resend_rate} AND {day} > 0)"
    dup = f"({_u(6)} < {cfg.dup_rate} AND i > 0)"
    prev_day = f"greatest({day} - 1 - {_h(7, 3)}, 0)"
    event_id = (
        f"CASE WHEN {resend} THEN '{prefix}' || {prev_day} || '-' || {_h(8, max(per_day, 1))} "
        f"WHEN {dup} THEN '{prefix}{day}-' || (i - 1) ELSE '{prefix}{day}-' || i END"
    )
    return _Event(
        users=cfg.users or max(10, cfg.views_per_day),
        contents=cfg.contents or max(5, cfg.views_per_day // 20),
        event_id=event_id,
        resend=resend,
        base_day=f"(DATE '{cfg.start_date.isoformat()}' + {day} - {late_days})",
        fmt="0" if cfg.clean else _h(12, 4),
    )


def _view_fields(cfg: GeneratorConfig, day: int) -> dict[str, str]:
    event = _event(cfg, day, "v", cfg.views_per_day)
    users, contents, resend = event.users, event.contents, event.resend
    genres = "['drama', 'comedy', 'Sci-Fi, Fantasy', 'Doc \"Real\"', 'kids', NULL, 'news']"
    genre = (
        f"CASE WHEN {_u(9)} < 0.01 THEN 'Talk' || chr(10) || 'Show' "
        f"ELSE {genres}[1 + {_h(10, 7)}] END"
    )
    if cfg.clean:
        genre = f"['drama', 'comedy', 'kids', 'news', 'music'][1 + {_h(10, 5)}]"
    secs = _h(11, 86400)
    content_dur = f"60 + {_h(13, 7140)}"
    # Most sessions are short, a few are long: every engagement segment shows up.
    watch = (
        f"CASE WHEN {resend} THEN {_h(14, 100)} + 7 "
        f"WHEN {_u(23)} < 0.75 THEN {_h(15, 600)} ELSE {_h(15, 7200)} END"
    )
    return {
        "view_id": event.event_id,
        "user_id": f"'u' || {_skewed(16, users)}",
        "content_id": f"'c' || {_skewed(17, contents)}",
        "genre": genre,
        "started_at": _timestamp_sql(event.base_day, secs, event.fmt),
        "watch_duration_s": f"CAST({watch} AS VARCHAR)",
        "content_duration_s": (
            f"CASE WHEN {_u(18)} < 0.1 THEN NULL ELSE CAST({content_dur} AS VARCHAR) END"
        ),
        "device": f"['tv', 'mobile', 'web', 'tablet', NULL][1 + {_h(19, 5)}]",
        "country": f"['DE', 'FR', 'US', 'BR', 'JP', NULL][1 + {_h(20, 6)}]",
    }


def _interaction_fields(cfg: GeneratorConfig, day: int) -> dict[str, str]:
    event = _event(cfg, day, "i", cfg.interactions_per_day)
    users, contents = event.users, event.contents
    types = (
        "['like', 'share', 'comment']"
        if cfg.clean
        else "['like', 'share', 'comment', 'Like', 'SHARE', 'Comment', 'like']"
    )
    n_types = 3 if cfg.clean else 7
    return {
        "interaction_id": event.event_id,
        # A wider user pool than the viewers': some users only ever interact.
        "user_id": f"'u' || {_skewed(16, users + users // 2)}",
        "content_id": f"'c' || {_skewed(17, contents)}",
        "interaction_type": f"{types}[1 + {_h(21, n_types)}]",
        "platform": f"['ios', 'android', 'web', NULL][1 + {_h(22, 4)}]",
        "created_at": _timestamp_sql(event.base_day, _h(11, 86400), event.fmt),
    }


def _bad_value(schema: TableSchema, kind: str, column: str, good: str) -> str:
    """SQL for ``column``'s value in a bad row of ``kind`` (``good`` when unaffected)."""
    key = schema.key
    ts = schema.event_time
    table = {
        ("empty_required", key): "NULL",
        ("blank_required", "user_id"): "'   '",
        ("negative_watch", "watch_duration_s"): "'-' || (1 + i % 50)",
        ("fractional_watch", "watch_duration_s"): "(i % 500) || '.5'",
        ("non_numeric_watch", "watch_duration_s"): "'about ' || (i % 60) || ' min'",
        ("zero_content_duration", "content_duration_s"): "'0'",
        (
            "bad_timestamp",
            ts,
        ): "['2026-13-45T99:00:00Z', 'yesterday', '25/11/2026 08:15'][1 + i % 3]",
        ("bad_interaction_type", "interaction_type"): "['love', 'retweet', 'lik e'][1 + i % 3]",
    }
    return table.get((kind, column), good)


def _file_sql(
    cfg: GeneratorConfig, schema: TableSchema, day: int, columns: list[str], crlf: bool
) -> tuple[str, str]:
    """(line_sql, kind_sql) over ``range(n) t(i)`` for one file."""
    fields = (
        _view_fields(cfg, day) if schema.name == "viewing_logs" else _interaction_fields(cfg, day)
    )
    kinds = VIEW_BAD_KINDS if schema.name == "viewing_logs" else INTERACTION_BAD_KINDS
    if cfg.clean or cfg.bad_rate <= 0:
        kind_sql = "'ok'"
    else:
        kind_list = "[" + ", ".join(f"'{k}'" for k in kinds) + "]"
        kind_sql = (
            f"CASE WHEN {_u(1)} < {cfg.bad_rate} THEN {kind_list}[1 + {_h(2, len(kinds))}] "
            "ELSE 'ok' END"
        )
    parts = []
    for col in columns:
        good = fields.get(col, "'x' || (i % 10)")  # unknown extra column
        if cfg.clean or cfg.bad_rate <= 0:
            parts.append(f"csvf({good})")
            continue
        cases = " ".join(
            f"WHEN '{k}' THEN {_bad_value(schema, k, col, good)}"
            for k in kinds
            if _bad_value(schema, k, col, good) != good
        )
        expr = f"CASE kind {cases} ELSE {good} END" if cases else good
        parts.append(f"csvf({expr})")
    line = " || ',' || ".join(parts)
    if not (cfg.clean or cfg.bad_rate <= 0):
        fewer = " || ',' || ".join(parts[:-1])
        line = (
            f"CASE kind WHEN 'too_few_fields' THEN {fewer} "
            f"WHEN 'too_many_fields' THEN {line} || ',surplus' ELSE {line} END"
        )
    if crlf:
        line = f"{line} || chr(13)"
    return line, kind_sql


def _file_layout(
    cfg: GeneratorConfig, schema: TableSchema, day: int
) -> tuple[list[str], bool, bool]:
    """Column order, BOM, CRLF for one file (seeded; the first file of each table is plain)."""
    columns = list(schema.column_names)
    if cfg.clean or day == 0:
        return columns, False, False
    rnd = random.Random(f"{cfg.seed}/{schema.name}/{day}")
    if rnd.random() < 0.4:
        rnd.shuffle(columns)
    if rnd.random() < 0.3:
        columns.insert(rnd.randrange(len(columns) + 1), "ingest_note")
    return columns, rnd.random() < 0.3, rnd.random() < 0.4


def generate_file(
    con: duckdb.DuckDBPyConnection,
    cfg: GeneratorConfig,
    table: str,
    day: int,
    rows: int,
    out_dir: Path,
) -> FileManifest:
    """Write ``<out_dir>/<table>/<date>.csv`` for day number ``day`` and return its manifest."""
    schema = TABLES[table]
    file_date = cfg.start_date + timedelta(days=day)
    path = out_dir / table / f"{file_date.isoformat()}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    columns, bom, crlf = _file_layout(cfg, schema, day)
    line_sql, kind_sql = _file_sql(cfg, schema, day, columns, crlf)
    salt = f"{cfg.seed}/{table}/{file_date.isoformat()}"
    bad: dict[str, int] = {}
    eol = b"\r\n" if crlf else b"\n"
    with path.open("wb") as out, tempfile.TemporaryDirectory() as tmp:
        if bom:
            out.write(b"\xef\xbb\xbf")
        out.write(",".join(columns).encode() + eol)
        for lo in range(0, rows, CHUNK_ROWS):
            hi = min(rows, lo + CHUNK_ROWS)
            src = (
                f"(SELECT i, {kind_sql} AS kind FROM range({lo}, {hi}) t(i)) s"
                if kind_sql != "'ok'"
                else f"(SELECT i, 'ok' AS kind FROM range({lo}, {hi}) t(i)) s"
            )
            part = Path(tmp) / "part.csv"
            sql = f"SELECT {line_sql} AS line FROM {src} ORDER BY i"
            con.execute(
                f"COPY ({sql.replace('$salt', _lit(salt))}) TO '{part}' "
                "(FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\t')"
            )
            with part.open("rb") as f:
                shutil.copyfileobj(f, out, 1 << 22)
            if kind_sql != "'ok'":
                for kind, n in con.execute(
                    f"SELECT kind, count(*) FROM {src.replace('$salt', _lit(salt))} "
                    "WHERE kind <> 'ok' GROUP BY kind"
                ).fetchall():
                    bad[kind] = bad.get(kind, 0) + n
    return FileManifest(
        table=table,
        file_date=file_date.isoformat(),
        path=str(path),
        rows=rows,
        bad_rows=sum(bad.values()),
        bad_by_kind=dict(sorted(bad.items())),
        columns=columns,
        bom=bom,
        crlf=crlf,
    )


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def generate(
    out_dir: Path,
    cfg: GeneratorConfig,
    progress: Callable[[FileManifest], None] | None = None,
) -> list[FileManifest]:
    """Write every table's file for each day; return one manifest per file."""
    out_dir = Path(out_dir)
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET enable_progress_bar = false")
    con.execute(_FIELD_MACRO)
    manifests = []
    try:
        for day in range(cfg.days):
            for table, rows in (
                ("viewing_logs", cfg.views_per_day),
                ("social_interactions", cfg.interactions_per_day),
            ):
                if rows < 0:
                    continue
                m = generate_file(con, cfg, table, day, rows, out_dir)
                manifests.append(m)
                if progress:
                    progress(m)
    finally:
        con.close()
    return manifests


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tools.generate",
        description="Write deterministic daily CSV drops <out>/<table>/<YYYY-MM-DD>.csv.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--start-date", type=date.fromisoformat, required=True)
    p.add_argument("--days", type=int, default=1)
    p.add_argument("--views-per-day", type=int, default=1000)
    p.add_argument("--interactions-per-day", type=int, default=400, help="0 writes empty files")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bad-rate", type=float, default=0.02, help="share of bad rows")
    p.add_argument("--late-rate", type=float, default=0.05, help="share of late events")
    p.add_argument("--resend-rate", type=float, default=0.02, help="share of re-sent events")
    p.add_argument("--dup-rate", type=float, default=0.01, help="share of ids repeated in a file")
    p.add_argument("--clean", action="store_true", help="no bad rows, no format quirks")
    p.add_argument("--manifest", type=Path, help="write the per-file manifest as JSON here")
    args = p.parse_args(argv)
    cfg = GeneratorConfig(
        start_date=args.start_date,
        days=args.days,
        views_per_day=args.views_per_day,
        interactions_per_day=args.interactions_per_day,
        seed=args.seed,
        bad_rate=0.0 if args.clean else args.bad_rate,
        late_rate=args.late_rate,
        resend_rate=args.resend_rate,
        dup_rate=args.dup_rate,
        clean=args.clean,
    )

    def show(m: FileManifest) -> None:
        print(f"{m.path}: {m.rows} rows, {m.bad_rows} bad", file=sys.stderr)

    manifests = generate(args.out, cfg, progress=show)
    if args.manifest:
        args.manifest.write_text(json.dumps([asdict(m) for m in manifests], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
