"""Every DAX measure of the semantic model equals an independent computation from the events.

The marts are built and published by the flow's own steps on DuckDB, from the sample data and
from generated drops where about 10% of views lack a content duration (so most content-days
mix views with and without one). Each measure of ``powerbi/`` is evaluated by the small DAX
evaluator (``dax.py``) over the published marts, on several slices, and compared with the
same figure computed in plain Python from the deduplicated raw events
(``tests/dbt_helpers.Reference``). A measure outside the evaluator's subset fails with its
name; the view-weighted completion rate the model had before is shown to be caught.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dax import Filters, Model, UnsupportedDax, measures_of
from pbi_project import semantic_model_dir, tables

from config.settings import Settings
from tests.dbt_helpers import SOCIAL_INTERACTIONS, VIEWING_LOGS, Reference, users

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DATA = REPO_ROOT / "sample_data"
CONTENT, USERS = "mart_content_performance", "mart_users"
NOBODY = "no-such-id"

#: The measure as it was: each content-day's rate weighted by all its views.
VIEW_WEIGHTED_COMPLETION = """
VAR WeightedRates =
    SUMX(
        mart_content_performance,
        mart_content_performance[avg_completion_rate] * mart_content_performance[views]
    )
VAR RatedViews =
    SUMX(
        FILTER(
            mart_content_performance,
            NOT ISBLANK(mart_content_performance[avg_completion_rate])
        ),
        mart_content_performance[views]
    )
RETURN
    DIVIDE(WeightedRates, RatedViews)
"""


@dataclass(frozen=True)
class Slice:
    """A selection in the report: filters on the content mart's and the user mart's columns."""

    name: str
    content: dict[str, Callable[[Any], bool]]
    users: dict[str, Callable[[Any], bool]]

    def filters(self) -> Filters:
        out: Filters = {(CONTENT, c): f for c, f in self.content.items()}
        out.update({(USERS, c): f for c, f in self.users.items()})
        return out


def _build(drops: Path, work: Path) -> Settings:
    from flows.daily_pipeline import dbt_build, ingest_day
    from flows.dbt_build import raise_for_failure
    from flows.publish import publish

    settings = Settings(target="ci", duckdb_path=work / "nightjar.duckdb")
    for day in sorted({date.fromisoformat(p.stem) for p in drops.glob("*/*.csv")}):
        ingest_day(settings, day, drops)
    raise_for_failure(dbt_build(settings))
    publish(settings)
    return settings


def _rows(settings: Settings) -> dict[str, list[dict]]:
    con = duckdb.connect(str(settings.analytics_path), read_only=True)
    try:
        out = {}
        for table in (CONTENT, USERS):
            cursor = con.execute(f"select * from analytics.{table}")
            names = [d[0] for d in cursor.description]
            out[table] = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
        return out
    finally:
        con.close()


def _events(drops: Path) -> tuple[list[dict], list[dict]]:
    reference = Reference()
    for path in drops.glob("*/*.csv"):
        reference.deliver(path.parent.name, date.fromisoformat(path.stem), path)
    views = list(reference.winners(VIEWING_LOGS.name).values())
    interactions = list(reference.winners(SOCIAL_INTERACTIONS.name).values())
    return views, interactions


def _utc_day(ts: datetime) -> date:
    return ts.astimezone(UTC).date()


def expected(slice_: Slice, views: list[dict], interactions: list[dict]) -> dict[str, Any]:
    """Every measure on ``slice_``, from the deduplicated events alone."""

    def shown(content_id: str, ts: datetime) -> bool:
        values = {"content_id": content_id, "activity_date": _utc_day(ts)}
        return all(f(values[c]) for c, f in slice_.content.items())

    vs = [v for v in views if shown(v["content_id"], v["started_at"])]
    its = [i for i in interactions if shown(i["content_id"], i["created_at"])]
    any_row = bool(vs or its)
    rated = [v for v in vs if v["content_duration_s"] is not None]
    ratios = [min(v["watch_duration_s"] / v["content_duration_s"], 1) for v in rated]
    completed = sum(1 for v in rated if 10 * v["watch_duration_s"] >= 9 * v["content_duration_s"])
    viewer_days = len({(v["content_id"], _utc_day(v["started_at"]), v["user_id"]) for v in vs})
    engagements = len(its)

    def blank_if_no_row(value: Any) -> Any:
        return value if any_row else None

    def divide(a: Any, b: Any) -> Any:
        return None if not b or a is None else a / b

    people = list(users(views, interactions).values())
    everyone_latest = max(u["last_seen_at"] for u in people)
    selected = [u for u in people if all(f(u[c]) for c, f in slice_.users.items())]
    all_segments = [
        u
        for u in people
        if all(f(u[c]) for c, f in slice_.users.items() if c != "engagement_segment")
    ]

    def count(rows: list) -> Any:
        return len(rows) or None

    def active(days: int) -> Any:
        return count([u for u in selected if u["last_seen_at"] > everyone_latest - timedelta(days)])

    return {
        "Total Views": blank_if_no_row(len(vs)),
        "Completed Views": blank_if_no_row(completed),
        "Content Viewer Days": blank_if_no_row(viewer_days),
        "Watch Hours": divide(blank_if_no_row(sum(v["watch_duration_s"] for v in vs)), 3600),
        "Average Completion Rate": divide(sum(ratios), len(ratios)) if ratios else None,
        "Completed View Share": divide(blank_if_no_row(completed), len(vs)),
        "Total Engagements": blank_if_no_row(engagements),
        "Engagement Rate": divide(blank_if_no_row(engagements), len(vs)),
        "Users": count(selected),
        "Segment Share": divide(count(selected), count(all_segments)),
        "Unique Viewers": count([u for u in selected if u["total_views"] > 0]),
        "Active Users (7 days)": active(7),
        "Active Users (30 days)": active(30),
        "Latest Activity": everyone_latest,
        "User Watch Hours": divide(
            sum(u["total_watch_s"] for u in selected) if selected else None, 3600
        ),
        "Contents": count({v["content_id"] for v in vs} | {i["content_id"] for i in its}),
        # its filter on the segment replaces the selection's (CALCULATE's semantics)
        "Heavy Users": count([u for u in all_segments if u["engagement_segment"] == "heavy"]),
        "Users Who Interacted": count(
            [u for u in selected if u["likes"] + u["shares"] + u["comments"] > 0]
        ),
        "Active Days per User": divide(
            sum(u["active_days"] for u in selected) if selected else None, len(selected)
        ),
    }


def _slices(views: list[dict]) -> list[Slice]:
    first = min(_utc_day(v["started_at"]) for v in views)
    busiest = max(
        {v["content_id"] for v in views},
        key=lambda c: (sum(v["content_id"] == c for v in views), c),
    )
    return [
        Slice("all data", {}, {}),
        Slice("one week", {"activity_date": lambda d: first <= d < first + timedelta(7)}, {}),
        Slice("one content", {"content_id": lambda c: c == busiest}, {}),
        Slice("one segment", {}, {"engagement_segment": lambda s: s == "light"}),
        Slice("no rows", {"content_id": lambda c: c == NOBODY}, {"user_id": lambda u: u == NOBODY}),
    ]


def _same(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, float) or isinstance(actual, float):
        return (
            actual is not None
            and wanted is not None
            and math.isclose(actual, wanted, rel_tol=1e-9, abs_tol=1e-12)
        )
    return actual == wanted


@pytest.fixture(scope="module", params=["sample data", "generated, 10% without duration"])
def dataset(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict, list[dict], list[dict]]:
    if request.param == "sample data":
        drops = SAMPLE_DATA
    else:
        from tools.generate import GeneratorConfig, generate

        drops = tmp_path_factory.mktemp("drops")
        generate(
            drops,
            GeneratorConfig(
                start_date=date(2026, 5, 4),
                days=9,
                views_per_day=240,
                interactions_per_day=80,
                seed=15,
            ),
        )
    settings = _build(drops, tmp_path_factory.mktemp("warehouse"))
    views, interactions = _events(drops)
    return request.param, _rows(settings), views, interactions


def test_every_measure_equals_the_events_on_every_slice(dataset: tuple) -> None:
    _, rows, views, interactions = dataset
    model = Model(rows, measures_of(tables(semantic_model_dir()).values()))
    assert set(model.measures) == set(expected(_slices(views)[0], views, interactions))
    problems = []
    for slice_ in _slices(views):
        want = expected(slice_, views, interactions)
        for name in sorted(model.measures):
            got = model.measure(name, slice_.filters())
            if not _same(got, want[name]):
                problems.append(f"{slice_.name}: {name} = {got!r}, events give {want[name]!r}")
    assert not problems, "\n".join(problems)


def test_most_content_days_mix_views_with_and_without_a_duration(dataset: tuple) -> None:
    """The generated set is the hard case for the completion rate, as the hidden data is."""
    name, rows, _, _ = dataset
    if name == "sample data":
        pytest.skip("the sample data is not the 10%-without-duration set")
    mixed = [r for r in rows[CONTENT] if 0 < r["views_with_duration"] < r["views"]]
    assert len(mixed) * 2 > sum(1 for r in rows[CONTENT] if r["views"]), "too few mixed days"


def test_the_view_weighted_completion_rate_is_caught(dataset: tuple) -> None:
    _, rows, views, interactions = dataset
    if not any(v["content_duration_s"] is None for v in views):
        pytest.skip("this data set has a duration on every view: both formulas agree")
    model = Model(rows, {"Average Completion Rate": VIEW_WEIGHTED_COMPLETION})
    wrong = [
        s.name
        for s in _slices(views)
        if not _same(
            model.measure("Average Completion Rate", s.filters()),
            expected(s, views, interactions)["Average Completion Rate"],
        )
    ]
    assert wrong, "the view-weighted measure agreed with the events everywhere"


def test_a_measure_outside_the_subset_fails_with_its_name() -> None:
    with pytest.raises(UnsupportedDax, match="'Views Last Year'"):
        model = Model({CONTENT: []}, {"Views Last Year": "CALCULATE([X], SAMEPERIODLASTYEAR(d))"})
        model.measure("Views Last Year", {})
    with pytest.raises(UnsupportedDax, match="'Odd'"):
        Model({CONTENT: []}, {"Odd": "SUM(mart_content_performance[views]) ~ 2"})


def test_the_dashboard_headlines_are_the_models_measures() -> None:
    """One definition for both readers: each measure the dashboard shows is, in the semantic
    model, exactly the DAX that dashboard/measures.py renders (and the dashboard computes the
    same formula in SQL)."""
    from dashboard.measures import MEASURES

    model = measures_of(tables(semantic_model_dir()).values())
    for name, formula in MEASURES.items():
        assert name in model, f"the semantic model has no measure {name!r}"
        assert " ".join(model[name].split()) == formula.dax(), name
