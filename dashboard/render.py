"""Render :class:`~dashboard.metrics.DashboardData` as one self-contained HTML file.

Charts are drawn by plotly.js, which the ``plotly`` Python package ships; it is inlined once
in the page, so the file opens offline (no CDN, no network request). Headline numbers carry
stable ids and a ``data-value`` attribute holding the exact value, for tests and scraping.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from dashboard.metrics import (
    COMPLETION_BINS,
    AudiencePage,
    ContentPage,
    DashboardData,
    DateRange,
    Headline,
    QualityPage,
    as_utc,
)

ACCENT = "#2f6f8f"
SEGMENT_COLOURS = {
    "heavy": "#1b4965",
    "regular": "#2f6f8f",
    "light": "#62b6cb",
    "social_only": "#e09f3e",
}
CHART_HEIGHT = 340
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["lasso2d"]}

CSS = """
:root { --fg: #1d2733; --muted: #5b6876; --line: #dfe4ea; --bg: #f5f7fa; --card: #fff; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--fg); background: var(--bg); }
header { background: #1b4965; color: #fff; padding: 14px 28px; display: flex;
         align-items: baseline; gap: 28px; flex-wrap: wrap; }
header h1 { font-size: 20px; margin: 0; }
header nav a { color: #cae9ff; margin-right: 18px; text-decoration: none; font-weight: 600; }
header .source { margin-left: auto; color: #cae9ff; font-size: 12px; }
main { padding: 8px 28px 28px; max-width: 1400px; margin: 0 auto; }
section.page { margin-top: 18px; padding: 16px 20px 20px; background: var(--card);
               border: 1px solid var(--line); border-radius: 8px; }
section.page h2 { margin: 0 0 2px; font-size: 18px; }
.date-range { color: var(--muted); margin: 0 0 14px; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px;
        margin-bottom: 16px; }
.kpi { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; }
.kpi .label { color: var(--muted); font-size: 12px; text-transform: uppercase;
              letter-spacing: .04em; }
.kpi .value { font-size: 24px; font-weight: 650; }
/* A fixed column count: each chart is drawn while the page is still being parsed, so its
   cell must not depend on how many cards follow it. */
.charts { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 16px; }
@media (max-width: 1000px) { .charts { grid-template-columns: minmax(0, 1fr); } }
.chart-card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px 4px;
              min-width: 0; }
.chart-card h3 { font-size: 14px; margin: 2px 4px 0; }
.chart-card .note { color: var(--muted); font-size: 12px; margin: 0 4px 4px; }
table.grid { border-collapse: collapse; width: 100%; margin: 6px 0 18px; font-size: 13px; }
table.grid th, table.grid td { border-bottom: 1px solid var(--line); padding: 5px 8px;
                               text-align: left; vertical-align: top; }
table.grid td:first-child, table.grid td:last-child { white-space: nowrap; }
table.grid td.num, table.grid th.num { text-align: right; font-variant-numeric: tabular-nums; }
.status { font-weight: 650; padding: 1px 8px; border-radius: 10px; }
.status-pass { background: #e3f4e8; color: #1e6b34; }
.status-warn { background: #fdf1d6; color: #8a5a00; }
.status-error { background: #fbe0e0; color: #a11d1d; }
section.page h3 { font-size: 14px; margin: 14px 0 2px; }
footer { color: var(--muted); font-size: 12px; padding: 0 28px 24px; max-width: 1400px;
         margin: 0 auto; }
"""


def format_value(headline: Headline) -> str:
    """The number as shown to people."""
    value = headline.value
    if value is None:
        return "n/a"
    if headline.kind == "rate":
        return f"{value:.1%}"
    if headline.kind == "hours":
        return f"{value:,.1f}"
    if headline.kind == "float":
        return f"{value:,.2f}"
    return f"{int(value):,}"


def data_value(value: int | float | None) -> str:
    """The exact value for the ``data-value`` attribute (empty when there is none)."""
    if value is None:
        return ""
    return str(int(value)) if isinstance(value, int) else repr(float(value))


def _kpis(page_id: str, headlines: Iterable[Headline]) -> str:
    cards = []
    for h in headlines:
        cards.append(
            f'<div class="kpi" id="kpi-{page_id}-{h.key}" data-kpi="{h.key}" '
            f'data-kind="{h.kind}" data-value="{data_value(h.value)}">'
            f'<div class="label">{html.escape(h.label)}</div>'
            f'<div class="value">{html.escape(format_value(h))}</div></div>'
        )
    return f'<div class="kpis" data-page="{page_id}">{"".join(cards)}</div>'


def _date_range(page_id: str, dates: DateRange, what: str) -> str:
    first = dates.first.isoformat() if dates.first else ""
    last = dates.last.isoformat() if dates.last else ""
    text = f"{what} from {first} to {last} (UTC)" if first else "No data yet"
    return (
        f'<p class="date-range" id="date-range-{page_id}" data-first="{first}" '
        f'data-last="{last}">{html.escape(text)}</p>'
    )


def _layout(fig: go.Figure, **kwargs: object) -> go.Figure:
    fig.update_layout(
        template="plotly_white",
        height=CHART_HEIGHT,
        margin={"l": 60, "r": 20, "t": 34, "b": 50},
        font={"family": "system-ui, sans-serif", "size": 12},
        **({"showlegend": False} | kwargs),
    )
    return fig


def _chart(chart_id: str, title: str, note: str, fig: go.Figure) -> str:
    body = fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=f"chart-{chart_id}",
        config=PLOTLY_CONFIG,
        default_width="100%",
        default_height=f"{CHART_HEIGHT}px",
    )
    return (
        f'<div class="chart-card" data-chart="{chart_id}"><h3>{html.escape(title)}</h3>'
        f'<p class="note">{html.escape(note)}</p>{body}</div>'
    )


def views_per_day_figure(page: ContentPage) -> go.Figure:
    fig = go.Figure(
        go.Scatter(
            x=[d.isoformat() for d, _ in page.views_per_day],
            y=[v for _, v in page.views_per_day],
            mode="lines+markers",
            line={"color": ACCENT, "width": 2},
            hovertemplate="%{x|%Y-%m-%d}: %{y:,} views<extra></extra>",
        )
    )
    return _layout(
        fig, xaxis={"type": "date", "tickformat": "%b %d"}, yaxis={"rangemode": "tozero"}
    )


def top_contents_figure(page: ContentPage) -> go.Figure:
    rows = list(reversed(page.top_contents))  # best at the top of a horizontal bar chart
    fig = go.Figure(
        go.Bar(
            x=[r["engagement_rate"] for r in rows],
            y=[r["content_id"] for r in rows],
            orientation="h",
            marker_color=ACCENT,
            customdata=[[r["views"], r["interactions"]] for r in rows],
            hovertemplate=(
                "%{y}: %{x:.1%} (%{customdata[1]:,} interactions / "
                "%{customdata[0]:,} views)<extra></extra>"
            ),
        )
    )
    return _layout(
        fig,
        xaxis={"tickformat": ".0%", "rangemode": "tozero"},
        yaxis={"type": "category", "automargin": True},
    )


def completion_figure(page: ContentPage) -> go.Figure:
    labels = [f"{lo:.0%}-{hi:.0%}" for lo, hi, _ in page.completion_bins]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=[n for _, _, n in page.completion_bins],
            marker_color=ACCENT,
            hovertemplate="%{x}: %{y:,} content-days<extra></extra>",
        )
    )
    return _layout(
        fig,
        bargap=0.05,
        xaxis={"type": "category", "title": {"text": "average completion rate"}},
        yaxis={"title": {"text": "content-days"}, "rangemode": "tozero"},
    )


def segments_figure(page: AudiencePage) -> go.Figure:
    fig = go.Figure(
        go.Bar(
            x=[s for s, _ in page.users_by_segment],
            y=[n for _, n in page.users_by_segment],
            marker_color=[SEGMENT_COLOURS.get(s, "#999") for s, _ in page.users_by_segment],
            text=[f"{n:,}" for _, n in page.users_by_segment],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{x}: %{y:,} users<extra></extra>",
        )
    )
    return _layout(fig, xaxis={"type": "category"}, yaxis={"title": {"text": "users"}})


def devices_figure(page: AudiencePage) -> go.Figure:
    fig = go.Figure(
        go.Bar(
            x=[d for d, _ in page.users_by_device],
            y=[n for _, n in page.users_by_device],
            marker_color="#62b6cb",
            hovertemplate="%{x}: %{y:,} users<extra></extra>",
        )
    )
    return _layout(fig, xaxis={"type": "category"}, yaxis={"title": {"text": "users"}})


def rejects_figure(page: QualityPage) -> go.Figure:
    tables = sorted({r["table_name"] for r in page.slices})
    fig = go.Figure(
        [
            go.Bar(
                name=table,
                x=[str(r["file_date"]) for r in page.slices if r["table_name"] == table],
                y=[int(r["rows_rejected"]) for r in page.slices if r["table_name"] == table],
                marker_color=colour,
                hovertemplate=f"{table} %{{x}}: %{{y:,}} rows rejected<extra></extra>",
            )
            for table, colour in zip(tables, ("#2f6f8f", "#e09f3e", "#62b6cb"), strict=False)
        ]
    )
    return _layout(
        fig,
        barmode="group",
        showlegend=True,
        xaxis={"type": "category", "categoryorder": "category ascending"},
        yaxis={"title": {"text": "rows rejected"}, "rangemode": "tozero"},
    )


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} h"


def _quality_section(page: QualityPage | None, as_of: str) -> str:
    """The "Data quality" page: freshness per raw table, then one row per file slice."""
    head = '<section class="page" id="page-quality" data-page="quality">\n<h2>Data quality</h2>'
    if page is None:
        return f"{head}<p>No data-quality table published yet: run the pipeline.</p></section>"
    fresh = "".join(
        f'<tr data-table="{html.escape(f.table)}" data-status="{f.status}" '
        f'data-age-hours="{f.age_hours:.3f}"><td>{html.escape(f.table)}</td>'
        f"<td>{f.loaded_at:%Y-%m-%d %H:%M}</td><td class=num>{f.age_hours:,.1f} h</td>"
        f"<td class=num>{_hours(f.warn_after_hours)}</td>"
        f"<td class=num>{_hours(f.error_after_hours)}</td>"
        f'<td><span class="status status-{f.status}">{f.status}</span></td></tr>'
        for f in page.freshness
    )
    rows = []
    for r in page.slices:
        read, loaded, rejected = (
            int(r[c]) for c in ("rows_in_file", "rows_loaded", "rows_rejected")
        )
        share = f"{rejected / read:.2%}" if read else "-"
        rows.append(
            f'<tr data-table="{html.escape(r["table_name"])}" data-file-date="{r["file_date"]}" '
            f'data-rows-in-file="{read}" data-rows-loaded="{loaded}" '
            f'data-rows-rejected="{rejected}"><td>{r["file_date"]}</td>'
            f"<td>{html.escape(r['table_name'])}</td>"
            f"<td class=num>{read:,}</td><td class=num>{loaded:,}</td>"
            f"<td class=num>{rejected:,}</td><td class=num>{share}</td>"
            f'<td class="reasons">{html.escape(r["top_reject_reasons"] or "-")}</td>'
            f"<td>{as_utc(r['loaded_at']):%Y-%m-%d %H:%M}</td></tr>"
        )
    chart = _chart(
        "rejects-per-day",
        "Rows rejected per file date",
        "Each rejected row is kept in raw.<table>_rejected with its line, reason and text.",
        rejects_figure(page),
    )
    return f"""{head}
<p class="date-range" id="quality-as-of">The published marts hold data as of {as_of}.</p>
<h3>Freshness of the raw tables</h3>
<table class="grid" id="freshness"><tr><th>table</th><th>last loaded (UTC)</th>
<th class=num>age</th><th class=num>warn after</th><th class=num>error after</th>
<th>status</th></tr>{fresh}</table>
<div class="charts">{chart}</div>
<h3>Files loaded</h3>
<table class="grid" id="quality-slices"><tr><th>file date</th><th>table</th>
<th class=num>rows in file</th><th class=num>loaded</th><th class=num>rejected</th>
<th class=num>rejected %</th><th>top reject reasons</th><th>loaded at (UTC)</th></tr>
{"".join(rows)}</table>
</section>"""


def render_html(data: DashboardData, target: str) -> str:
    """The complete dashboard page."""
    content, audience = data.content, data.audience
    content_charts = "".join(
        [
            _chart(
                "views-per-day",
                "Views per day",
                "Sum of views over all contents, by UTC activity date.",
                views_per_day_figure(content),
            ),
            _chart(
                "top-contents",
                f"Top {len(content.top_contents)} contents by engagement rate",
                "Engagement rate = (likes + shares + comments) / views over the whole period.",
                top_contents_figure(content),
            ),
            _chart(
                "completion-distribution",
                "Completion-rate distribution",
                f"Histogram of avg_completion_rate per content and day ({COMPLETION_BINS} bins; "
                f"{content.completion_rows:,} content-days with a known content duration).",
                completion_figure(content),
            ),
        ]
    )
    audience_charts = "".join(
        [
            _chart(
                "users-by-segment",
                "Users by engagement segment",
                "heavy ≥ 10 h watched, regular ≥ 1 h, light: any view, social_only: no view.",
                segments_figure(audience),
            ),
            _chart(
                "users-by-device",
                "Users by primary device",
                "The device with the most views per user.",
                devices_figure(audience),
            ),
        ]
    )
    generated = data.generated_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    as_of = (
        "not recorded"
        if data.data_as_of is None
        else as_utc(data.data_as_of).strftime("%Y-%m-%d %H:%M UTC")
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Nightjar dashboard ({html.escape(target)})</title>
<style>{CSS}</style>
<script>{get_plotlyjs()}</script>
</head>
<body data-target="{html.escape(target)}">
<header>
<h1>Nightjar</h1>
<nav><a href="#page-content">Content performance</a><a href="#page-audience">Audience</a>
<a href="#page-quality">Data quality</a></nav>
<span class="source">{html.escape(data.source)} · target {html.escape(target)} ·
<span id="data-as-of">data as of {as_of}</span></span>
</header>
<main>
<section class="page" id="page-content" data-page="content">
<h2>Content performance</h2>
{_date_range("content", content.date_range, "Activity")}
{_kpis("content", content.headlines)}
<div class="charts">{content_charts}</div>
</section>
<section class="page" id="page-audience" data-page="audience">
<h2>Audience</h2>
{_date_range("audience", audience.date_range, "Users seen")}
{_kpis("audience", audience.headlines)}
<div class="charts">{audience_charts}</div>
</section>
{_quality_section(data.quality, as_of)}
</main>
<footer>Built from the marts mart_content_performance, mart_users and mart_data_quality on
{generated}.</footer>
</body>
</html>
"""
