"""What one nightly prod run reads, and what it would cost on BigQuery, worked out offline.

The emulator bills nothing, so the cost is estimated from the SQL and the table sizes:

1. **Reads.** Every query the nightly ``dbt build`` sent (the statement log,
   ``statement_log.py``) is parsed with sqlglot. For each table it reads: is it an
   event-level table (raw and staging, the version logs, the current versions), and does
   the query prune it with a *literal* filter on its partition column (``col in (<dates>)``,
   ``col = / > / >= / < / <= <literal>``, or ``false``)? Anything else makes BigQuery read
   every partition.
2. **Bytes.** As a dry run counts them, before BigQuery's 10 MB minimum per table
   referenced: for each table read, the sum of the widths of the columns the query names
   (all of them for ``*``) times the rows of the partitions read. Widths are BigQuery's
   (INT64, FLOAT64, NUMERIC-free, DATE, TIMESTAMP: 8 bytes; BOOL 1; STRING 2 + its UTF-8
   length, measured on the run's own rows). At a nightly cadence a partition holds one day
   of data (a batch for the version logs, an activity date for the rest), so rows per
   partition are the run's rows per day loaded, scaled to the stated daily volume (the run
   loads its history in one backfill: its batch partitions hold several days each). A
   pruned read reads as many partitions as the run's did, an unpruned one every day of
   history. The compact tables per day (and the content
   mart) are partitioned by day and counted the same way; the ones per user or per pair
   (and the user mart) are counted whole, at their measured size scaled by volume.

The 10 MB minimum is reported apart, as the number of table references per night.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp

#: Event-level tables (dataset.table) and the column each is partitioned by. The staging
#: models are views over raw: a filter on _file_date reaches raw's partitions.
EVENT_TABLES = {
    "raw.viewing_logs": "_file_date",
    "raw.social_interactions": "_file_date",
    "staging.stg_content__viewing_logs": "_file_date",
    "staging.stg_content__social_interactions": "_file_date",
    "intermediate.int_content__view_versions": "batch_loaded_at",
    "intermediate.int_content__interaction_versions": "batch_loaded_at",
    "intermediate.int_content__views_current": "activity_date",
    "intermediate.int_content__interactions_current": "activity_date",
}
#: Compact tables (and the content mart) with a row per key and day, partitioned by day:
#: they grow with history like the events, and a literal filter prunes them too.
DAILY_TABLES = {
    "intermediate.int_content__content_view_days": "activity_date",
    "intermediate.int_content__content_interaction_days": "activity_date",
    "intermediate.int_content__user_view_days": "activity_date",
    "intermediate.int_content__user_interaction_days": "activity_date",
    "marts.mart_content_performance": "activity_date",
}
PARTITIONED = {**EVENT_TABLES, **DAILY_TABLES}
#: What a staging view reads underneath.
VIEW_OF = {
    "staging.stg_content__viewing_logs": "raw.viewing_logs",
    "staging.stg_content__social_interactions": "raw.social_interactions",
}
FIXED_WIDTH = {"INT64": 8, "INTEGER": 8, "FLOAT64": 8, "FLOAT": 8, "NUMERIC": 16, "BOOL": 1,
               "BOOLEAN": 1, "DATE": 8, "TIMESTAMP": 8, "DATETIME": 8}  # fmt: skip
MB = 1e6


@dataclass
class Read:
    """One table read by one query."""

    node: str
    table: str
    columns: set[str]
    partitions: int | None  # None: every partition (not pruned)
    event_level: bool


@dataclass
class Table:
    """A table's size on the run: rows per partition, bytes per column."""

    rows: int
    partitions: int
    widths: dict[str, float] = field(default_factory=dict)

    def bytes_per_row(self, columns: set[str]) -> float:
        names = self.widths if "*" in columns else columns & self.widths.keys()
        return sum(self.widths[c] for c in names)


def _name(table: exp.Table) -> str:
    return f"{table.db}.{table.name}" if table.db else table.name


def _literal(node: exp.Expression) -> bool:
    """A constant: a literal, or a typed literal (``date '…'``, ``timestamp '…'``)."""
    if isinstance(node, exp.Literal | exp.Null | exp.Boolean):
        return True
    if isinstance(node, exp.Cast | exp.TryCast):
        return _literal(node.this)
    return (
        not list(node.find_all(exp.Column))
        and not list(node.find_all(exp.Select))
        and bool(list(node.find_all(exp.Literal)))
    )


def _on_column(node: exp.Expression, column: str) -> bool:
    """``column`` itself, or wrapped in ``date(…)``."""
    while isinstance(node, exp.Anonymous | exp.Date | exp.Cast | exp.TsOrDsToDate):
        node = node.this if not isinstance(node, exp.Anonymous) else node.expressions[0]
    return isinstance(node, exp.Column) and node.name == column


def _pruning(condition: exp.Expression | None, column: str) -> int | None:
    """Partitions a condition keeps: the number of literal values, 1 for a literal range,
    0 for ``false``; ``None`` when it does not prune by ``column`` with literals."""
    if condition is None:
        return None
    if isinstance(condition, exp.Boolean) and not condition.this:
        return 0
    if isinstance(condition, exp.Paren):
        return _pruning(condition.this, column)
    if isinstance(condition, exp.And):
        found = [p for p in (_pruning(condition.left, column), _pruning(condition.right, column))
                 if p is not None]  # fmt: skip
        return min(found) if found else None
    if isinstance(condition, exp.Or):
        both = (_pruning(condition.left, column), _pruning(condition.right, column))
        return None if None in both else sum(both)  # type: ignore[arg-type]
    if isinstance(condition, exp.In) and _on_column(condition.this, column):
        values = condition.expressions
        return len(values) if values and all(_literal(v) for v in values) else None
    if isinstance(condition, exp.EQ | exp.GT | exp.GTE | exp.LT | exp.LTE):
        left, right = condition.left, condition.right
        if (_on_column(left, column) and _literal(right)) or (
            _on_column(right, column) and _literal(left)
        ):
            return 1
    return None


def _filter_of(table: exp.Table) -> exp.Expression | None:
    """The condition that restricts the rows of ``table`` where it is read: the WHERE of
    its SELECT (or DELETE), or the ON and WHEN conditions of a MERGE into it."""
    parent = table.parent
    while parent is not None and not isinstance(parent, exp.Select | exp.Merge | exp.Delete):
        parent = parent.parent
    if isinstance(parent, exp.Merge):
        conditions = [parent.args.get("on")] + [
            w.args.get("condition") for w in parent.args.get("whens", exp.Whens()).expressions
        ]
        found = [c for c in conditions if c is not None]
        return exp.and_(*found) if found else None
    if parent is None:
        return None
    where = parent.args.get("where")
    return where.this if where is not None else None


def reads_of(node: str, sql: str) -> list[Read]:
    """The tables one query reads, each with the columns it names and what prunes it."""
    reads = []
    for statement in sqlglot.parse(sql, read="bigquery"):
        if statement is None or (
            isinstance(statement, exp.Drop | exp.Create)
            and (
                not list(statement.find_all(exp.Select))
                or str(statement.args.get("kind", "")).upper() == "VIEW"
            )
        ):
            continue  # defines, reads nothing
        ctes = {c.alias for c in statement.find_all(exp.CTE)}
        named = {c.name for c in statement.find_all(exp.Column)}
        if list(statement.find_all(exp.Star)):
            named.add("*")
        for table in statement.find_all(exp.Table):
            name = _name(table)
            if name in ctes or not table.db:
                continue
            if isinstance(table.parent, exp.Create | exp.Insert) or (
                isinstance(statement, exp.Create) and table is statement.this
            ):
                continue  # written, not read
            name = VIEW_OF.get(name, name)
            column = PARTITIONED.get(name)
            partitions = _pruning(_filter_of(table), column) if column else None
            reads.append(Read(node, name, named, partitions, name in EVENT_TABLES))
    return reads


def nightly_reads(events: list[dict[str, Any]]) -> list[Read]:
    """The reads of every query the dbt build sent (models, tests and their macros)."""
    reads = []
    for event in events:
        if event["kind"] == "query" and event["caller"].startswith("dbt "):
            reads.extend(reads_of(event["caller"].split()[1], event["sql"]))
    return reads


def measure(client: Any, project: str, names: set[str]) -> dict[str, Table]:
    """Rows, partitions and column widths of each table, as the run left them."""
    from google.api_core import exceptions as gexc

    tables = {}
    for name in sorted(names):
        try:
            meta = client.get_table(f"{project}.{name}")
        except gexc.NotFound:
            continue
        column = PARTITIONED.get(name)
        widths = {}
        parts = ["count(*) as n", f"count(distinct {column}) as p" if column else "1 as p"]
        for f in meta.schema:
            if f.field_type == "STRING":
                parts.append(f"avg(2 + byte_length({f.name})) as `{f.name}`")
            else:
                widths[f.name] = FIXED_WIDTH.get(f.field_type, 8)
        row = next(
            iter(client.query(f"select {', '.join(parts)} from `{project}.{name}`").result())
        )
        widths.update({k: float(row[k] or 2) for k in row.keys() if k not in ("n", "p")})  # noqa: SIM118
        tables[name] = Table(int(row["n"]), max(int(row["p"]), 1), widths)
    return tables


@dataclass
class Estimate:
    history_days: int
    bytes: float
    by_table: dict[str, float]


def estimate(
    reads: list[Read], tables: dict[str, Table], scale: float, history_days: int, days_loaded: int
) -> Estimate:
    """Bytes one night processes after ``history_days`` days at ``scale`` times the daily
    volume of the run, which loaded ``days_loaded`` days."""
    by_table: dict[str, float] = defaultdict(float)
    for read in reads:
        table = tables.get(read.table)
        if table is None:
            continue
        width = table.bytes_per_row(read.columns)
        if read.table in PARTITIONED:
            per_partition = table.rows / days_loaded * scale
            partitions = history_days if read.partitions is None else read.partitions
            by_table[read.table] += width * per_partition * partitions
        else:  # per user or pair: whole, at the scaled volume
            by_table[read.table] += width * table.rows * scale
    return Estimate(history_days, sum(by_table.values()), dict(by_table))


def unpruned(reads: list[Read]) -> list[Read]:
    return [r for r in reads if r.event_level and r.partitions is None]
