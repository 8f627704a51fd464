"""The nightly Prefect flow: ingest the day's CSV drops, ``dbt build``, publish a summary.

Run it locally (no Prefect server needed; a temporary one starts by itself)::

    nightjar run --run-date 2026-11-25 --target dev --source-dir sample_data

The flow is thin: the work is done by plain functions (``ingest_day``, ``run_dbt_build``,
``render_markdown``) that tests call without Prefect. Tasks only add names, retries and logs.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import Field

from config.settings import DBT_PROJECT_DIR, Settings
from flows.dashboard_step import run_dashboard_step
from flows.dbt_build import (
    DbtBuildError,
    DbtBuildResult,
    raise_for_failure,
    run_dbt_build,
    run_source_freshness,
)
from flows.preflight import DEFAULT_SOURCE_DIR, check_headers, run_dates
from flows.publish import Publication, publish, published_watermark
from flows.retry import RETRIES, RETRY_DELAYS_S, retry_on_transient
from flows.run_lock import run_lock
from flows.summary import PipelineSummary, render_markdown
from ingest import LoadResult, ingest_date
from ingest.sources import download_drops, local_drops

log = logging.getLogger(__name__)

SUMMARY_ARTIFACT_KEY = "daily-pipeline-summary"
#: A table artifact: one row per dbt node of the run's build (status, seconds, message).
NODES_ARTIFACT_KEY = "daily-pipeline-dbt-nodes"
#: A progress artifact: the share of the run's days loaded so far.
PROGRESS_ARTIFACT_KEY = "daily-pipeline-progress"
#: The targets, for the deployment's parameter schema (a test checks they are config's TARGETS).
TargetName = Literal["dev", "ci", "prod"]
#: A date parameter. The pattern is in the deployment's schema because Prefect's server
#: checks patterns but not the ``date`` format: it refuses ``2026-13-01`` before any run.
IsoDate = Annotated[
    date | None,
    Field(json_schema_extra={"pattern": r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"}),
]


# --- plain functions -------------------------------------------------------------------------


def describe_warehouse(settings: Settings) -> str:
    """Where the run writes, for the summary and the log."""
    if settings.warehouse_kind == "duckdb":
        return f"{settings.duckdb_path} (published: {settings.analytics_path})"
    return f"BigQuery project {settings.bigquery_project or '(default)'}"


def ingest_day(settings: Settings, run_date: date, source_dir: str | Path) -> list[LoadResult]:
    """Load both tables' files for ``run_date`` and report each file load."""
    return ingest_date(settings, run_date, Path(source_dir))


def run_folder(settings: Settings) -> Path:
    """A new folder for one run's dbt files (``dbt.log``, ``run_results.json``,
    ``sources.json``): ``<state>/runs/<warehouse key>/<UTC start>``, under
    ``NIGHTJAR_STATE_DIR`` (default: the dbt project)."""
    state = settings.state_dir or DBT_PROJECT_DIR
    return state / "runs" / settings.run_key / datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def _run_dbt_in(
    run_dir: Path, settings: Settings, run: Callable[..., DbtBuildResult], **options: Any
) -> DbtBuildResult:
    """Run ``run`` (a dbt command of flows.dbt_build) logging into ``run_dir``, with this
    warehouse's own dbt target folder (state kept between runs, for partial parsing), then
    keep the results it wrote there in ``run_dir`` too."""
    target = (settings.state_dir or DBT_PROJECT_DIR) / "target" / settings.run_key
    extra = ("--target-path", str(target), *options.pop("extra", ()))
    started = time.time()
    env = settings.dbt_env()
    result = run(DBT_PROJECT_DIR, settings.target, env, log_path=run_dir, extra=extra, **options)
    for name in ("run_results.json", "sources.json"):
        if (target / name).is_file() and (target / name).stat().st_mtime >= started:
            shutil.copy2(target / name, run_dir / name)
    return result


def source_freshness(settings: Settings, run_dir: Path | None = None) -> DbtBuildResult:
    """``dbt source freshness`` on the run's warehouse: how long ago each raw table loaded."""
    return _run_dbt_in(run_dir or run_folder(settings), settings, run_source_freshness)


def dbt_build(
    settings: Settings, full_refresh: bool = False, run_dir: Path | None = None
) -> DbtBuildResult:
    """The one ``dbt build`` of the run, against the same warehouse as the ingest.

    The last publish's watermark goes to dbt: every model has read everything up to it, so
    the event-level models look for their own watermark after it (BigQuery prunes), and
    their tests check what was loaded since (all of it on a first run or a full refresh):
    everything analysts do not see yet."""
    published = None if full_refresh else published_watermark(settings)
    variables = {"published_watermark": published.isoformat()} if published else {}
    since = ("--vars", json.dumps(variables)) if variables else ()
    return _run_dbt_in(
        run_dir or run_folder(settings),
        settings,
        run_dbt_build,
        full_refresh=full_refresh,
        extra=since,
    )


@contextmanager
def logs_to_prefect(*loggers: str) -> Iterator[None]:
    """While the block runs, also send what these loggers (and their children) write at INFO
    and above to the current Prefect run's logs."""
    from prefect.logging.handlers import APILogHandler

    handler, saved = APILogHandler(), {}
    for name in loggers:
        logger = logging.getLogger(name)
        saved[name] = logger.level
        logger.setLevel(min(logger.getEffectiveLevel(), logging.INFO))
        logger.addHandler(handler)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).removeHandler(handler)
            logging.getLogger(name).setLevel(level)


@contextmanager
def days_progress(dates: list[date]) -> Iterator[Callable[[date, list[LoadResult]], None]]:
    """Progress through the run's days: a Prefect progress artifact (the run's page in the
    UI), and on a terminal a progress bar too. Off a terminal, each file's log line says it."""
    from prefect.artifacts import create_progress_artifact, update_progress_artifact

    artifact = create_progress_artifact(
        progress=0.0, key=PROGRESS_ARTIFACT_KEY, description=f"Days loaded, of {len(dates)}"
    )
    bar = None
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import Progress

        columns = (*Progress.get_default_columns(), "{task.fields[files]} files")
        bar = Progress(*columns, console=Console(stderr=True))
        days = bar.add_task("loading", total=len(dates), files=0)
        bar.start()

    def advance(day: date, loads: list[LoadResult]) -> None:
        update_progress_artifact(artifact, progress=100.0 * (dates.index(day) + 1) / len(dates))
        if bar is not None:
            bar.update(days, advance=1, files=len(loads), description=f"loaded {day}")

    try:
        yield advance
    finally:
        if bar is not None:
            bar.stop()


# --- Prefect tasks: thin wrappers ------------------------------------------------------------


@task(
    name="download",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS_S,
    retry_condition_fn=retry_on_transient,
    cache_policy=NO_CACHE,
)
def download_task(source: str, dates: list[date], dest: Path) -> int:
    """Copy the run's drops from Cloud Storage (transient errors are retried)."""
    files = download_drops(source, dates, dest)
    get_run_logger().info("downloaded %d file(s) from %s", len(files), source)
    return len(files)


@task(name="check-headers", cache_policy=NO_CACHE)
def preflight_task(source_dir: str, dates: list[date]) -> int:
    checked = check_headers(source_dir, dates)
    get_run_logger().info("headers of %d file(s) have every required column", checked)
    return checked


@task(
    name="ingest",
    task_run_name="ingest-{run_date}",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS_S,
    retry_condition_fn=retry_on_transient,
    cache_policy=NO_CACHE,
)
def ingest_task(settings: Settings, run_date: date, source_dir: str) -> list[LoadResult]:
    loads = ingest_day(settings, run_date, source_dir)
    logger = get_run_logger()
    for load in loads:
        logger.info(
            "%s %s: read %d, loaded %d, rejected %d",
            load.table,
            load.source_file,
            load.rows_in_file,
            load.rows_loaded,
            load.rows_rejected,
        )
    return loads


@task(
    name="source-freshness",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS_S,
    retry_condition_fn=retry_on_transient,
    cache_policy=NO_CACHE,
)
def freshness_task(settings: Settings, run_dir: Path) -> DbtBuildResult:
    result = source_freshness(settings, run_dir)
    get_run_logger().info(
        "dbt source freshness: %s", ", ".join(f"{n.name} {n.status}" for n in result.nodes)
    )
    return raise_for_failure(result)


@task(
    name="dbt-build",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS_S,
    retry_condition_fn=retry_on_transient,
    cache_policy=NO_CACHE,
)
def dbt_build_task(settings: Settings, full_refresh: bool, run_dir: Path) -> DbtBuildResult:
    result = dbt_build(settings, full_refresh, run_dir)
    get_run_logger().info(
        "dbt build: %s in %.1fs",
        ", ".join(f"{n} {k}" for k, n in result.counts.items()),
        result.seconds,
    )
    return raise_for_failure(result)


@task(
    name="publish",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS_S,
    retry_condition_fn=retry_on_transient,
    cache_policy=NO_CACHE,
)
def publish_task(settings: Settings) -> Publication:
    from prefect.runtime import flow_run

    publication = publish(settings, flow_run_id=str(flow_run.id) if flow_run.id else None)
    get_run_logger().info("published %s; data as of %s", publication.rows, publication.watermark)
    return publication


@task(name="dashboard", cache_policy=NO_CACHE)
def dashboard_task(settings: Settings) -> str:
    return str(run_dashboard_step(settings))


@task(name="summary", cache_policy=NO_CACHE)
def summary_task(summary: PipelineSummary) -> str:
    markdown = render_markdown(summary)
    create_markdown_artifact(
        key=SUMMARY_ARTIFACT_KEY,
        markdown=markdown,
        description=f"Nightly pipeline on {summary.target}",
    )
    if summary.dbt is not None:
        create_table_artifact(
            key=NODES_ARTIFACT_KEY,
            table=[
                {
                    "node": node.unique_id,
                    "type": node.resource_type,
                    "status": node.status,
                    "seconds": round(node.seconds, 3),
                    "message": node.message,
                }
                for node in summary.dbt.nodes
            ],
            description=f"dbt build on {summary.target}: one row per node",
        )
    get_run_logger().info("Run summary\n%s", markdown)
    return markdown


# --- the flow --------------------------------------------------------------------------------


@flow(name="daily-pipeline")
def daily_pipeline(
    run_date: IsoDate = None,
    target: TargetName | None = None,
    source_dir: str = DEFAULT_SOURCE_DIR,
    end_date: IsoDate = None,
    full_refresh: bool = False,
    dashboard: bool = False,
    wait: bool = False,
) -> PipelineSummary:
    """Ingest the drops for ``run_date`` (to ``end_date`` for a backfill), dbt build, publish,
    summarise. One run at a time per warehouse.

    Args:
        run_date: File date to load, YYYY-MM-DD; default yesterday (UTC).
        target: Warehouse and dbt target (dev, ci, prod); default $NIGHTJAR_TARGET, else dev.
        source_dir: Folder or gs://bucket/prefix holding <table>/<YYYY-MM-DD>.csv.
        end_date: Backfill: load every date from run_date to this one, in order.
        full_refresh: Rebuild the incremental models from all of raw.
        dashboard: Render the local dashboard at the end.
        wait: If another run holds the warehouse, wait for it instead of failing.
    """
    settings = Settings.from_env(target=target)
    # The loads' audit lines and dbt's node lines, in the run's logs.
    with (
        logs_to_prefect("ingest", "flows", "flows.dbt_build.nodes"),
        run_lock(settings.run_lock_path, wait=wait),
    ):
        return _daily_pipeline(settings, run_date, source_dir, end_date, full_refresh, dashboard)


def _daily_pipeline(
    settings: Settings,
    run_date: date | None,
    source_dir: str,
    end_date: date | None,
    full_refresh: bool,
    dashboard: bool,
) -> PipelineSummary:
    started = time.perf_counter()
    summary = PipelineSummary(
        target=settings.target,
        dates=run_dates(run_date, end_date),
        source_dir=str(source_dir),
        warehouse=describe_warehouse(settings),
    )
    try:
        # A gs://bucket/prefix source is copied to a local folder first (ingest/sources.py).
        with local_drops(source_dir, summary.dates, download=download_task) as drops:
            preflight_task(str(drops), summary.dates)
            with days_progress(summary.dates) as advance:
                for day in summary.dates:
                    summary.loads += ingest_task(settings, day, str(drops))
                    advance(day, summary.loads)
        summary.ingest_seconds = time.perf_counter() - started
        run_dir = run_folder(settings)  # this run's dbt.log and results
        try:  # a source past its error_after stops the run before the build
            summary.freshness = freshness_task(settings, run_dir)
            summary.dbt = dbt_build_task(settings, full_refresh, run_dir)
        except DbtBuildError as exc:
            if summary.freshness is None:
                summary.freshness = exc.result
            else:
                summary.dbt = exc.result
            raise
        # Only a fully green build reaches this: analytics changes here or not at all.
        summary.publication = publish_task(settings)
        if dashboard:
            summary.dashboard = dashboard_task(settings)
    except Exception as exc:
        summary.failure = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        if not summary.ingest_seconds:
            summary.ingest_seconds = time.perf_counter() - started
        summary.total_seconds = time.perf_counter() - started
        summary_task(summary)
    return summary


# --- command line ----------------------------------------------------------------------------


#: Seconds to wait for the temporary Prefect API to start: Prefect's default (20 s) is too
#: short on a busy laptop or CI machine.
EPHEMERAL_API_STARTUP_TIMEOUT_S = 180


def patient_ephemeral_api() -> AbstractContextManager[object]:
    """Give the temporary Prefect API time to start, unless configured for longer already."""
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS as timeout
    from prefect.settings import temporary_settings

    if (timeout.value() or 0) >= EPHEMERAL_API_STARTUP_TIMEOUT_S:
        return nullcontext()
    return temporary_settings(updates={timeout: EPHEMERAL_API_STARTUP_TIMEOUT_S})
