"""The figures shown on the dashboard, computed in the warehouse from the published marts.

Queries use only SQL that DuckDB and BigQuery both accept (``cast(... as date)``, ``bigint``,
``least``, ``case``), so the same text runs on either target. Ratios are computed here in
Python from the summed counts: engagement rate is total interactions over total views, never
an average of per-row rates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from config.settings import PUBLISH_LOG
from dashboard.measures import MEASURES, table_of
from dashboard.readers import MartReader

SEGMENTS = ("heavy", "regular", "light", "social_only")
#: Completion-rate histogram: bins of this width over [0, 1]; a rate of exactly 1 goes in the
#: last bin.
COMPLETION_BINS = 10
NO_DEVICE = "(no device)"


@dataclass(frozen=True)
class Headline:
    """One headline number: a stable key (used as the DOM id), a label and the exact value."""

    key: str
    label: str
    value: int | float | None
    kind: str = "int"  # int | rate | hours | float


@dataclass(frozen=True)
class DateRange:
    first: dt.date | None
    last: dt.date | None


@dataclass(frozen=True)
class ContentPage:
    headlines: tuple[Headline, ...]
    date_range: DateRange
    views_per_day: list[tuple[dt.date, int]]
    top_contents: list[dict[str, Any]]  # content_id, views, interactions, engagement_rate
    completion_bins: list[tuple[float, float, int]]  # (low, high, content-day rows)
    completion_rows: int


@dataclass(frozen=True)
class AudiencePage:
    headlines: tuple[Headline, ...]
    date_range: DateRange
    users_by_segment: list[tuple[str, int]]
    users_by_device: list[tuple[str, int]]


@dataclass(frozen=True)
class Freshness:
    """How long ago a raw table last loaded, judged by the freshness its source declares
    (dbt's words: pass, warn, error)."""

    table: str
    loaded_at: dt.datetime
    age_hours: float
    warn_after_hours: float | None
    error_after_hours: float | None

    @property
    def status(self) -> str:
        if self.error_after_hours is not None and self.age_hours > self.error_after_hours:
            return "error"
        if self.warn_after_hours is not None and self.age_hours > self.warn_after_hours:
            return "warn"
        return "pass"


@dataclass(frozen=True)
class QualityPage:
    #: one dict per file slice (``mart_data_quality``'s columns), newest file date first
    slices: list[dict[str, Any]]
    freshness: list[Freshness]


@dataclass(frozen=True)
class DashboardData:
    source: str
    content: ContentPage
    audience: AudiencePage
    #: None when the warehouse published no ``mart_data_quality`` yet
    quality: QualityPage | None = None
    #: the newest load the published marts include (``analytics.publish_log``), if known
    data_as_of: dt.datetime | None = None
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


def _int(value: Any) -> int:
    return int(value or 0)


def _date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


#: The headlines of each page: (DOM key, label, measure of dashboard/measures.py, kind).
CONTENT_HEADLINES = (
    ("total-views", "Views", "Total Views", "int"),
    ("watch-hours", "Watch hours", "Watch Hours", "hours"),
    ("interactions", "Interactions", "Total Engagements", "int"),
    ("engagement-rate", "Engagement rate", "Engagement Rate", "rate"),
    ("completed-share", "Completed views", "Completed View Share", "rate"),
    ("completion-rate", "Average completion", "Average Completion Rate", "rate"),
    ("contents", "Contents", "Contents", "int"),
)
AUDIENCE_HEADLINES = (
    ("users", "Users", "Users", "int"),
    ("viewers", "Users with a view", "Unique Viewers", "int"),
    ("heavy-users", "Heavy users", "Heavy Users", "int"),
    ("interacting-users", "Users who interacted", "Users Who Interacted", "int"),
    ("avg-active-days", "Active days per user", "Active Days per User", "float"),
)


def _headlines(reader: MartReader, spec: tuple[tuple[str, str, str, str], ...]) -> tuple:
    """The headline numbers: each the semantic model's measure of that name, in SQL."""
    (table,) = {table_of(measure) for _, _, measure, _ in spec}
    columns = ", ".join(f"{MEASURES[m].sql()} as m{i}" for i, (_, _, m, _) in enumerate(spec))
    (row,) = reader.query(f"select {columns} from {reader.table(table)}")
    out = []
    for i, (key, label, _, kind) in enumerate(spec):
        value = row[f"m{i}"]
        out.append(Headline(key, label, _int(value) if kind == "int" else value, kind))
    return tuple(out)


def content_page(reader: MartReader, top_n: int = 10, min_views: int = 1) -> ContentPage:
    """Headlines and charts of the "Content performance" page."""
    mart = reader.table("mart_content_performance")
    headlines = _headlines(reader, CONTENT_HEADLINES)
    (span,) = reader.query(
        f"select min(activity_date) as first_date, max(activity_date) as last_date from {mart}"
    )

    per_day = reader.query(
        f"""
        select activity_date, sum(views) as views
        from {mart}
        group by activity_date
        order by activity_date
        """
    )

    # `daily.views` in HAVING: there GoogleSQL reads a bare `views` as the output alias.
    per_content = reader.query(
        f"""
        select
            content_id,
            sum(views) as views,
            sum(likes) + sum(shares) + sum(comments) as interactions
        from {mart} as daily
        group by content_id
        having sum(daily.views) >= {int(min_views)}
        """
    )
    ranked = sorted(
        (
            {
                "content_id": str(row["content_id"]),
                "views": _int(row["views"]),
                "interactions": _int(row["interactions"]),
                "engagement_rate": _int(row["interactions"]) / _int(row["views"]),
            }
            for row in per_content
        ),
        key=lambda r: (-r["engagement_rate"], -r["views"], r["content_id"]),
    )[:top_n]

    bins = reader.query(
        f"""
        select
            least(cast(floor(avg_completion_rate * {COMPLETION_BINS}) as bigint),
                  {COMPLETION_BINS - 1}) as bin,
            count(*) as n
        from {mart}
        where avg_completion_rate is not null
        group by 1
        """
    )
    counts = {int(row["bin"]): _int(row["n"]) for row in bins}
    completion_bins = [
        (i / COMPLETION_BINS, (i + 1) / COMPLETION_BINS, counts.get(i, 0))
        for i in range(COMPLETION_BINS)
    ]

    return ContentPage(
        headlines=headlines,
        date_range=DateRange(_date(span["first_date"]), _date(span["last_date"])),
        views_per_day=[(_date(r["activity_date"]), _int(r["views"])) for r in per_day],
        top_contents=ranked,
        completion_bins=completion_bins,
        completion_rows=sum(counts.values()),
    )


def audience_page(reader: MartReader) -> AudiencePage:
    """Headlines and charts of the "Audience" page."""
    mart = reader.table("mart_users")
    headlines = _headlines(reader, AUDIENCE_HEADLINES)
    (span,) = reader.query(
        f"select cast(min(first_seen_at) as date) as first_date, "
        f"cast(max(last_seen_at) as date) as last_date from {mart}"
    )
    segments = {
        row["engagement_segment"]: _int(row["n"])
        for row in reader.query(
            f"select engagement_segment, count(*) as n from {mart} group by engagement_segment"
        )
    }
    devices = reader.query(
        f"""
        select primary_device, count(*) as n
        from {mart}
        group by primary_device
        """
    )
    by_device = sorted(
        ((row["primary_device"] or NO_DEVICE, _int(row["n"])) for row in devices),
        key=lambda d: (-d[1], d[0]),
    )
    known = [(s, segments.pop(s, 0)) for s in SEGMENTS]
    # A segment outside the contract would be a mart bug; show it rather than hide it.
    unknown = sorted((str(k), v) for k, v in segments.items())
    return AudiencePage(
        headlines=headlines,
        date_range=DateRange(_date(span["first_date"]), _date(span["last_date"])),
        users_by_segment=known + unknown,
        users_by_device=by_device,
    )


def data_as_of(reader: MartReader) -> dt.datetime | None:
    """The watermark of the latest publish (None for marts published without a log)."""
    if reader.missing([PUBLISH_LOG]):
        return None
    (row,) = reader.query(f"select max(watermark) as as_of from {reader.table(PUBLISH_LOG)}")
    return row["as_of"]


QUALITY = "mart_data_quality"
SLICE_COLUMNS = (
    "table_name",
    "file_date",
    "source_file",
    "rows_in_file",
    "rows_loaded",
    "rows_rejected",
    "top_reject_reasons",
    "loaded_at",
    "warn_after_hours",
    "error_after_hours",
)


def quality_page(reader: MartReader, now: dt.datetime) -> QualityPage | None:
    """The "Data quality" page: every file slice loaded, and each raw table's freshness at
    ``now``, from its newest slice (None when the warehouse has published no data-quality
    table yet)."""
    if reader.missing([QUALITY]):
        return None
    slices = reader.query(
        f"select {', '.join(SLICE_COLUMNS)} from {reader.table(QUALITY)} "
        "order by file_date desc, table_name"
    )
    newest: dict[str, dict[str, Any]] = {}
    for row in slices:
        held = newest.get(row["table_name"])
        if held is None or as_utc(row["loaded_at"]) > as_utc(held["loaded_at"]):
            newest[row["table_name"]] = row
    freshness = [
        Freshness(
            name,
            as_utc(row["loaded_at"]),
            (now - as_utc(row["loaded_at"])).total_seconds() / 3600,
            row["warn_after_hours"],
            row["error_after_hours"],
        )
        for name, row in sorted(newest.items())
    ]
    return QualityPage(slices=slices, freshness=freshness)


def as_utc(value: dt.datetime) -> dt.datetime:
    """A warehouse timestamp in UTC (DuckDB's TIMESTAMP holds UTC wall-clock time)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def collect(reader: MartReader, top_n: int = 10, min_views: int = 1) -> DashboardData:
    """Everything the dashboard shows, read through ``reader``."""
    now = dt.datetime.now(dt.UTC)
    return DashboardData(
        source=reader.source,
        content=content_page(reader, top_n=top_n, min_views=min_views),
        audience=audience_page(reader),
        quality=quality_page(reader, now),
        data_as_of=data_as_of(reader),
        generated_at=now,
    )
