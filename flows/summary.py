"""The run summary: rows per file, dbt nodes per outcome, timings, as Markdown."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from flows.dbt_build import OUTCOMES, DbtBuildResult
from flows.publish import Publication
from ingest import LoadResult

#: How many of the slowest dbt nodes the summary lists.
SLOWEST_NODES = 10


@dataclass
class PipelineSummary:
    """Everything the run did, filled in step by step (so a failed run still reports)."""

    target: str
    dates: list[date]
    source_dir: str
    warehouse: str = ""
    loads: list[LoadResult] = field(default_factory=list)
    ingest_seconds: float = 0.0
    #: ``dbt source freshness``, run before the build
    freshness: DbtBuildResult | None = None
    dbt: DbtBuildResult | None = None
    #: what ``analytics`` now shows, when this run published it
    publication: Publication | None = None
    dashboard: str | None = None
    total_seconds: float = 0.0
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    def totals(self) -> dict[str, dict[str, int]]:
        """Rows read/loaded/rejected per table."""
        out: dict[str, dict[str, int]] = {}
        for load in self.loads:
            t = out.setdefault(load.table, {"files": 0, "read": 0, "loaded": 0, "rejected": 0})
            t["files"] += 1
            t["read"] += load.rows_in_file
            t["loaded"] += load.rows_loaded
            t["rejected"] += load.rows_rejected
        return out


def _fmt_s(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds:.2f}"


def _short(name: str, width: int = 60) -> str:
    return name if len(name) <= width else name[: width - 3] + "..."


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> list[str]:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def render_markdown(summary: PipelineSummary) -> str:
    """The summary as Markdown: used for the Prefect artifact and written to the log."""
    if summary.dates:
        first, last = summary.dates[0], summary.dates[-1]
        span = str(first) if first == last else f"{first} to {last} ({len(summary.dates)} days)"
    else:
        span = "no dates"
    status = "succeeded" if summary.ok else "FAILED"
    out = [
        f"# Nightly pipeline {status}",
        "",
        f"- Target: `{summary.target}`; dates: {span}; source: `{summary.source_dir}`",
    ]
    if summary.warehouse:
        out.append(f"- Warehouse: `{summary.warehouse}`")
    out.append("")

    out += ["## Ingest", ""]
    if summary.loads:
        rows = [
            (
                load.table,
                load.source_file,
                load.file_date,
                load.rows_in_file,
                load.rows_loaded,
                load.rows_rejected,
                ", ".join(load.extra_columns) or "-",
                _fmt_s(load.seconds),
            )
            for load in summary.loads
        ]
        out += _table(
            ("table", "file", "file date", "read", "loaded", "rejected", "extra columns", "s"),
            rows,
        )
        out += ["", "Per table:", ""]
        out += _table(
            ("table", "files", "read", "loaded", "rejected"),
            (
                (name, t["files"], t["read"], t["loaded"], t["rejected"])
                for name, t in sorted(summary.totals().items())
            ),
        )
        bad = [x for x in summary.loads if x.rows_in_file != x.rows_loaded + x.rows_rejected]
        if bad:
            out += ["", "**Not reconciled** (read != loaded + rejected):"]
            out += [f"- {load.table} {load.source_file}" for load in bad]
    else:
        out.append("No file loaded.")
    out.append("")

    out += ["## Source freshness", ""]
    if summary.freshness is None:
        out.append("Not checked.")
    else:
        fresh = summary.freshness
        out += _table(
            ("source", "status", "detail"),
            ((n.name, n.status, n.message.strip() or "-") for n in fresh.nodes),
        )
        if fresh.error:
            out += ["", f"dbt error: {fresh.error}"]
        stale = [f"`{n.name}`" for n in fresh.nodes if n.status == "error"]
        if stale:
            out += ["", f"Past `error_after`: {', '.join(stale)}. The build did not run."]
    out.append("")

    out += ["## dbt build", ""]
    dbt = summary.dbt
    if dbt is None:
        out.append("Not run.")
    else:
        counts = dbt.counts or dict.fromkeys(OUTCOMES, 0)
        out += _table(
            (*OUTCOMES, "nodes", "s"),
            [(*(counts.get(o, 0) for o in OUTCOMES), len(dbt.nodes), _fmt_s(dbt.seconds))],
        )
        if dbt.error:
            out += ["", f"dbt error: {dbt.error}"]
        if dbt.problems:
            out += ["", "Failed or errored nodes:", ""]
            out += [f"- `{n.unique_id}` ({n.status}): {n.message.strip()}" for n in dbt.problems]
        if dbt.skipped:
            models = [f"`{n.name}`" for n in dbt.skipped if n.resource_type != "test"]
            tests = len(dbt.skipped) - len(models)
            out += ["", f"Skipped: {', '.join(models) or 'no model'} (and {tests} test(s))"]
        slowest = sorted(dbt.nodes, key=lambda n: n.seconds, reverse=True)[:SLOWEST_NODES]
        if slowest:
            out += ["", f"Slowest {len(slowest)} nodes:", ""]
            out += _table(
                ("node", "type", "status", "s"),
                ((_short(n.name), n.resource_type, n.status, _fmt_s(n.seconds)) for n in slowest),
            )
        out += ["", f"dbt log: `{dbt.log_path}`"]
    out.append("")

    out += ["## Publish", ""]
    if summary.publication is None:
        out.append("Not published: `analytics` is unchanged (it shows the last good run).")
    else:
        pub = summary.publication
        rows = ", ".join(f"{name} {n}" for name, n in pub.rows.items())
        out.append(
            f"Published at {pub.published_at:%Y-%m-%d %H:%M:%S} UTC ({rows}); data as "
            f"of {pub.watermark or 'no load'}."
        )
    out.append("")

    if summary.dashboard:
        out += ["## Dashboard", "", f"`{summary.dashboard}`", ""]

    out += ["## Timings", ""]
    out += _table(
        ("step", "s"),
        [
            ("ingest", _fmt_s(summary.ingest_seconds)),
            ("source freshness", _fmt_s(summary.freshness.seconds if summary.freshness else None)),
            ("dbt build", _fmt_s(dbt.seconds if dbt else None)),
            ("total", _fmt_s(summary.total_seconds)),
        ],
    )
    if summary.failure:
        out += ["", "## Failure", "", "```", summary.failure, "```"]
    return "\n".join(out) + "\n"
