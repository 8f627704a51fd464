"""The local dashboard, opened in a real headless Chromium.

The marts are built for real: the sample data goes through the flow's own ingest and one
``dbt build`` into a fresh DuckDB file. The dashboard is rendered from it, opened from disk
with name resolution disabled (so any CDN or network request would fail loudly), and checked:
no console errors, every chart drawn as a non-empty SVG, and the headline numbers, date
ranges and chart data equal to values computed here straight from the marts with SQL.
The data-quality page is checked against the warehouse's own audit and rejected tables.
Screenshots of every page go to ``reports/`` for CI to keep.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from config.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = REPO_ROOT / "sample_data"
REPORTS = REPO_ROOT / "reports"

CHROMIUM = next(
    filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome-stable"))),
    None,
)
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CHARTS = (
    "views-per-day",
    "top-contents",
    "completion-distribution",
    "users-by-segment",
    "users-by-device",
    "rejects-per-day",
)


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def marts_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB warehouse with the marts built from every sample day and published, by the
    flow's own steps."""
    from flows.daily_pipeline import dbt_build, ingest_day
    from flows.dbt_build import raise_for_failure
    from flows.publish import publish

    dates = sorted({p.stem for p in SAMPLE_DATA.glob("*/*.csv")})
    assert dates, f"no sample files under {SAMPLE_DATA}"
    path = tmp_path_factory.mktemp("dashboard") / "nightjar.duckdb"
    settings = Settings.from_env(target="ci", duckdb_path=path)
    for day in dates:
        ingest_day(settings, dt.date.fromisoformat(day), SAMPLE_DATA)
    raise_for_failure(dbt_build(settings))
    publish(settings)
    return path


@pytest.fixture(scope="module")
def dashboard_html(marts_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dashboard import build_dashboard

    out = tmp_path_factory.mktemp("dashboard-out") / "dashboard.html"
    written = build_dashboard(Settings.from_env(target="ci", duckdb_path=marts_db), out)
    assert written == out and out.stat().st_size > 0
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium through chromedriver; skips only when no Chromium is installed."""
    if not CHROMIUM or not CHROMEDRIVER:
        pytest.skip(
            "no Chromium: install the Debian packages chromium and chromium-driver "
            "(.ci/run installs them)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
        "--window-size=1440,2400",
        # Offline for real: every host name fails to resolve, so a CDN or any other network
        # request would show up as a console error.
        "--host-resolver-rules=MAP * ~NOTFOUND",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: selenium-manager never tries to download a browser or driver.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def open_page(driver: Any, path: Path) -> list[dict[str, Any]]:
    """Load ``path``, wait for every chart to be drawn, return the severe console entries."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")  # drop anything from a previous page
    driver.get(path.as_uri())
    WebDriverWait(driver, 60).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
    WebDriverWait(driver, 60).until(
        lambda d: d.execute_script(
            "const cards = document.querySelectorAll('[data-chart]');"
            "return [...cards].every(c => c.querySelector('svg.main-svg .cartesianlayer .trace'));"
        )
    )
    return severe(driver)


def severe(driver: Any) -> list[dict[str, Any]]:
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


@pytest.fixture(scope="module")
def loaded(browser: Any, dashboard_html: Path) -> dict[str, Any]:
    """The dashboard open in the browser, with its console errors and what the DOM shows."""
    errors = open_page(browser, dashboard_html)
    dom = browser.execute_script(
        """
        const kpis = {};
        for (const el of document.querySelectorAll('[data-kpi]')) {
          const page = el.closest('[data-page]').dataset.page;
          kpis[page + '/' + el.dataset.kpi] = {value: el.dataset.value,
            text: el.querySelector('.value').textContent};
        }
        const ranges = {};
        for (const el of document.querySelectorAll('.date-range')) {
          ranges[el.id] = [el.dataset.first, el.dataset.last];
        }
        const charts = {};
        for (const card of document.querySelectorAll('[data-chart]')) {
          const svg = card.querySelector('svg.main-svg');
          const box = svg.getBoundingClientRect();
          const plot = card.querySelector('.js-plotly-plot');
          charts[card.dataset.chart] = {
            svgs: card.querySelectorAll('svg').length,
            width: box.width, height: box.height,
            card_width: card.getBoundingClientRect().width,
            marks: card.querySelectorAll('.barlayer .point path, .scatterlayer .point').length,
            x: plot.data[0].x, y: plot.data[0].y,
          };
        }
        const resources = performance.getEntriesByType('resource').map(r => r.name);
        const asOf = document.getElementById('data-as-of').textContent;
        const rows = sel => [...document.querySelectorAll(sel)].map(tr => ({
          ...tr.dataset, cells: [...tr.querySelectorAll('td')].map(td => td.textContent)}));
        const freshness = rows('#freshness tr[data-table]');
        const slices = rows('#quality-slices tr[data-table]');
        const qualityAsOf = document.getElementById('quality-as-of').textContent;
        return {kpis, ranges, charts, resources, asOf, freshness, slices, qualityAsOf};
        """
    )
    return {"errors": errors, **dom}


# --- expected values, straight from the marts ------------------------------------------------


# Read-write connections on purpose: the marts were built by dbt in this very process, which
# keeps its own connection open, and DuckDB refuses a second one with another configuration.
def fetch_one(db: Path, sql: str) -> dict[str, Any]:
    with duckdb.connect(str(db)) as con:
        con.execute("set session TimeZone = 'UTC'")
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return dict(zip(names, cur.fetchone(), strict=True))


def fetch_all(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db)) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def expected(marts_db: Path) -> dict[str, Any]:
    c = fetch_one(
        marts_db,
        """
        select sum(views) as views, sum(total_watch_s) as watch_s,
               sum(likes) + sum(shares) + sum(comments) as interactions,
               sum(completed_views) as completed, count(distinct content_id) as contents,
               min(activity_date) as first_day, max(activity_date) as last_day,
               count(avg_completion_rate) as rated_rows,
               sum(completion_rate_sum) as ratio_sum, sum(views_with_duration) as rated_views
        from analytics.mart_content_performance
        """,
    )
    u = fetch_one(
        marts_db,
        """
        select count(*) as users,
               count(*) filter (where total_views > 0) as viewers,
               count(*) filter (where engagement_segment = 'heavy') as heavy,
               count(*) filter (where likes + shares + comments > 0) as interacting,
               avg(active_days) as avg_active_days,
               min(first_seen_at)::date as first_day, max(last_seen_at)::date as last_day
        from analytics.mart_users
        """,
    )
    assert c["views"] and u["users"], "the sample data must produce non-empty marts"
    return {
        "content/total-views": c["views"],
        "content/watch-hours": c["watch_s"] / 3600,
        "content/interactions": c["interactions"],
        "content/engagement-rate": c["interactions"] / c["views"],
        "content/completed-share": c["completed"] / c["views"],
        "content/completion-rate": c["ratio_sum"] / c["rated_views"],
        "content/contents": c["contents"],
        "audience/users": u["users"],
        "audience/viewers": u["viewers"],
        "audience/heavy-users": u["heavy"],
        "audience/interacting-users": u["interacting"],
        "audience/avg-active-days": float(u["avg_active_days"]),
        "_content_range": [c["first_day"].isoformat(), c["last_day"].isoformat()],
        "_audience_range": [u["first_day"].isoformat(), u["last_day"].isoformat()],
        "_rated_rows": c["rated_rows"],
    }


# --- tests -----------------------------------------------------------------------------------


def test_no_console_errors_and_no_network(loaded: dict[str, Any]) -> None:
    assert loaded["errors"] == []
    remote = [r for r in loaded["resources"] if not r.startswith(("file:", "data:", "blob:"))]
    assert remote == [], f"the dashboard fetched remote resources: {remote}"


@pytest.mark.parametrize("chart", CHARTS)
def test_chart_rendered_as_non_empty_svg(loaded: dict[str, Any], chart: str) -> None:
    drawn = loaded["charts"][chart]
    assert drawn["svgs"] > 0
    assert drawn["width"] > 100 and drawn["height"] > 100, drawn
    assert drawn["width"] <= drawn["card_width"], f"{chart}: the chart overflows its card"
    assert drawn["marks"] > 0, f"{chart}: no bar or point drawn"


def test_headline_numbers_equal_the_marts(loaded: dict[str, Any], expected: dict[str, Any]):
    shown = loaded["kpis"]
    headline_keys = {k for k in expected if not k.startswith("_")}
    assert set(shown) == headline_keys
    for key in sorted(headline_keys):
        want = expected[key]
        if isinstance(want, int):
            assert int(shown[key]["value"]) == want, key
            assert shown[key]["text"] == f"{want:,}", key
        else:
            assert float(shown[key]["value"]) == pytest.approx(want, rel=1e-12), key


def test_data_as_of_is_the_latest_publish(loaded: dict[str, Any], marts_db: Path) -> None:
    published = Settings.from_env(target="ci", duckdb_path=marts_db).analytics_path
    watermark = fetch_one(published, "select max(watermark) as w from analytics.publish_log")["w"]
    assert watermark is not None
    assert loaded["asOf"] == f"data as of {watermark:%Y-%m-%d %H:%M} UTC"


def test_date_ranges_equal_the_marts(loaded: dict[str, Any], expected: dict[str, Any]) -> None:
    assert loaded["ranges"]["date-range-content"] == expected["_content_range"]
    assert loaded["ranges"]["date-range-audience"] == expected["_audience_range"]


def test_chart_data_equals_the_marts(
    loaded: dict[str, Any], expected: dict[str, Any], marts_db: Path
) -> None:
    charts = loaded["charts"]
    per_day = fetch_all(
        marts_db,
        "select activity_date, sum(views) from analytics.mart_content_performance "
        "group by 1 order by 1",
    )
    assert charts["views-per-day"]["x"] == [d.isoformat() for d, _ in per_day]
    assert charts["views-per-day"]["y"] == [int(v) for _, v in per_day]
    assert charts["views-per-day"]["marks"] == len(per_day)

    segments = dict(
        fetch_all(
            marts_db, "select engagement_segment, count(*) from analytics.mart_users group by 1"
        )
    )
    assert dict(
        zip(charts["users-by-segment"]["x"], charts["users-by-segment"]["y"], strict=True)
    ) == {s: segments.get(s, 0) for s in ("heavy", "regular", "light", "social_only")}
    # The histogram counts every content-day with a known completion rate exactly once.
    assert sum(charts["completion-distribution"]["y"]) == expected["_rated_rows"]

    rates = fetch_all(
        marts_db,
        """
        select content_id, (sum(likes) + sum(shares) + sum(comments)) / sum(views) as rate
        from analytics.mart_content_performance group by 1 having sum(views) > 0
        order by rate desc, sum(views) desc, content_id limit 10
        """,
    )
    shown = list(reversed(charts["top-contents"]["y"]))  # drawn best-at-top
    assert shown == [cid for cid, _ in rates]
    assert list(reversed(charts["top-contents"]["x"])) == pytest.approx([r for _, r in rates])


def test_quality_page_shows_every_file_slice_as_loaded(
    loaded: dict[str, Any], marts_db: Path
) -> None:
    audit = fetch_all(
        marts_db,
        "select table_name, _file_date, rows_in_file, rows_loaded, rows_rejected "
        "from raw.load_audit order by _file_date desc, table_name",
    )
    shown = [
        (
            r["table"],
            r["fileDate"],
            int(r["rowsInFile"]),
            int(r["rowsLoaded"]),
            int(r["rowsRejected"]),
        )
        for r in loaded["slices"]
    ]
    assert shown == [(t, d.isoformat(), n, ok, bad) for t, d, n, ok, bad in audit]
    assert all(n == ok + bad for _, _, n, ok, bad in shown)
    assert sum(bad for *_, bad in shown) > 0, "the sample data has rejected rows"
    chart = loaded["charts"]["rejects-per-day"]
    assert sum(chart["y"]) == sum(bad for t, *_, bad in shown if t == "social_interactions")


def test_quality_page_top_reasons_are_the_most_frequent_rejects(
    loaded: dict[str, Any], marts_db: Path
) -> None:
    for row in loaded["slices"]:
        counts = fetch_all(
            marts_db,
            f"select reason, count(*) as n from raw.{row['table']}_rejected "
            f"where _file_date = '{row['fileDate']}' group by 1 order by n desc, reason limit 3",
        )
        want = "; ".join(f"{reason} ({n})" for reason, n in counts) or "-"
        assert row["cells"][6] == want, row


def test_quality_page_freshness_and_data_as_of(loaded: dict[str, Any], marts_db: Path) -> None:
    newest = dict(
        fetch_all(marts_db, "select table_name, max(_loaded_at) from raw.load_audit group by 1")
    )
    assert (
        {r["table"] for r in loaded["freshness"]}
        == set(newest)
        == {
            "viewing_logs",
            "social_interactions",
        }
    )
    for row in loaded["freshness"]:
        # just loaded: well within the 36 h the sources declare (staging/__sources.yml)
        assert row["status"] == "pass" and 0 <= float(row["ageHours"]) < 1, row
        assert row["cells"][1] == f"{newest[row['table']].astimezone(dt.UTC):%Y-%m-%d %H:%M}"
        assert row["cells"][3:5] == ["36 h", "72 h"]
    as_of = loaded["asOf"].removeprefix("data as of ")
    assert loaded["qualityAsOf"] == f"The published marts hold data as of {as_of}."


def test_screenshots_of_every_page(browser: Any, loaded: dict[str, Any]) -> None:
    from selenium.webdriver.common.by import By

    REPORTS.mkdir(exist_ok=True)
    for page in ("content", "audience", "quality"):
        shot = REPORTS / f"dashboard-{page}.png"
        shot.unlink(missing_ok=True)
        section = browser.find_element(By.ID, f"page-{page}")
        browser.execute_script("arguments[0].scrollIntoView()", section)
        section.screenshot(str(shot))
        assert shot.stat().st_size > 10_000, f"{shot} looks empty"
    browser.save_screenshot(str(REPORTS / "dashboard.png"))


def test_console_check_catches_errors_and_network_requests(browser: Any, tmp_path: Path):
    """The harness itself: a script error and a blocked remote script must be reported."""
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!DOCTYPE html><html><head>"
        '<script src="https://cdn.example.com/lib.js"></script></head><body>'
        '<div data-chart="x"><svg class="main-svg">'
        '<g class="cartesianlayer"><g class="trace"></g></g></svg></div>'
        "<script>throw new Error('boom ' + 'dashboard');</script>"
        "</body></html>",
        encoding="utf-8",
    )
    messages = " | ".join(e["message"] for e in open_page(browser, broken))
    assert "boom dashboard" in messages
    assert "cdn.example.com" in messages
