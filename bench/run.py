"""Benchmarks: ``python -m bench.run --help`` (run through ``nox -s bench``).

0. Command line: how fast ``nightjar run`` answers ``--help`` and a newcomer's mistakes, and
   how fast a plain ``dbt compile --target prod`` with no credentials stops (fresh processes).
1. Ingest: our ``ingest_file`` of one generated ``viewing_logs`` file into a fresh DuckDB,
   against a bare DuckDB ``CREATE TABLE ... AS SELECT * FROM read_csv(...)`` with explicit
   types on the same file; our ingest of the same file with 1,000 scattered bad rows; and
   the same read written as a plain table with every lineage column on every row (what the
   DuckDB view layout saves). Interleaved, repeated; median and every run reported.
2. Orchestration: the full Prefect flow over the sample data against the same ingest plus
   a bare in-process ``dbt build``, each on a fresh warehouse.
3. History: one nightly run (ingest, then the flow's ``dbt build``) after 1, 30 and 60 days
   of history, and the same night on an empty warehouse; a nightly run should cost what its
   batch costs, not what the history costs.

Prints a table and writes ``bench/results/latest.json``. Generated data is cached under
``bench/results/data/`` keyed by its parameters.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from config.settings import DBT_PROJECT_DIR, REPO_ROOT, Settings
from ingest import ingest_file
from ingest.schemas import VIEWING_LOGS, TableSchema

RESULTS_DIR = REPO_ROOT / "bench" / "results"
DATA_DIR = RESULTS_DIR / "data"
SAMPLE_DATA = REPO_ROOT / "sample_data"
DBT_TARGET = DBT_PROJECT_DIR / "target"
BENCH_FILE_DATE = date(2026, 1, 1)

_DUCKDB_TYPES = {"string": "VARCHAR", "int64": "BIGINT", "timestamp": "TIMESTAMPTZ", "date": "DATE"}


# --- data --------------------------------------------------------------------------------------


def bench_file(rows: int, seed: int) -> Path:
    """The generated viewing_logs file for (rows, seed), generated once and cached.

    The file is clean (no bad rows, plain RFC 4180), so that the bare DuckDB read with
    explicit types can load it too and both sides do the same work.
    """
    from tools.generate import GeneratorConfig, generate

    folder = DATA_DIR / f"viewing_logs-rows{rows}-seed{seed}"
    path = folder / "viewing_logs" / f"{BENCH_FILE_DATE.isoformat()}.csv"
    if path.is_file():
        return path
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    started = time.perf_counter()
    print(f"generating {rows:,} viewing_logs rows (seed {seed}) ...", flush=True)
    config = GeneratorConfig(
        start_date=BENCH_FILE_DATE,
        days=1,
        views_per_day=rows,
        interactions_per_day=-1,  # viewing_logs only
        seed=seed,
        clean=True,
    )
    generate(tmp, config)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    print(f"generated {path} in {time.perf_counter() - started:.1f}s", flush=True)
    return path


def with_bad_rows(path: Path, bad: int = 1_000) -> Path:
    """A copy of the clean bench file with ``bad`` scattered records made invalid (a
    watch duration of ``ten``), cached beside it."""
    out = path.parent.parent.with_name(path.parent.parent.name + f"-bad{bad}") / path.parent.name
    out = out / path.name
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    every = max(count_records(path) // bad, 1)
    partial = out.with_suffix(".partial")
    with path.open("rb") as src, partial.open("wb") as dst:
        dst.write(src.readline())
        for i, line in enumerate(src):
            if i % every == every // 2:
                fields = line.split(b",")
                fields[5] = b"ten"
                line = b",".join(fields)
            dst.write(line)
    partial.rename(out)
    return out


def count_records(path: Path) -> int:
    """Data records in the file, as DuckDB's reader sees them (header excluded)."""
    con = duckdb.connect()
    try:
        sql = f"select count(*) from read_csv('{path}', header=true, all_varchar=true)"
        return int(con.sql(sql).fetchone()[0])
    finally:
        con.close()


# --- what is timed -------------------------------------------------------------------------------


def _fresh_db(workdir: Path, name: str) -> Path:
    path = workdir / name
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)
    return path


def run_our_ingest(path: Path, workdir: Path) -> int:
    """``ingest_file`` of ``path`` into a fresh DuckDB; returns rows loaded."""
    settings = Settings.from_env(target="dev", duckdb_path=_fresh_db(workdir, "ours.duckdb"))
    result = ingest_file(settings, "viewing_logs", path, BENCH_FILE_DATE)
    return result.rows_loaded


def run_table_layout(path: Path, workdir: Path) -> int:
    """The same read and checks as ``ingest_file``, written as a plain table with every
    lineage column on every row, as BigQuery stores it: the file positions then need
    ``row_number()``, which DuckDB computes in one thread."""
    from ingest.validate import REASON, open_read

    con = duckdb.connect(str(_fresh_db(workdir, "table.duckdb")))
    try:
        con.execute("SET TimeZone = 'UTC'")
        with open_read(VIEWING_LOGS, path) as plan:
            con.execute(
                f"CREATE TABLE viewing_logs AS SELECT * EXCLUDE ({REASON}, n), "
                f"'{path.name}' AS _source_file, DATE '{BENCH_FILE_DATE}' AS _file_date, "
                "now() AS _loaded_at, n AS _source_row FROM (SELECT *, row_number() OVER () AS n "
                f"FROM ({plan.select('nj_rej')})) WHERE {REASON} IS NULL"
            )
        return int(con.sql("select count(*) from viewing_logs").fetchone()[0])
    finally:
        con.close()


def duckdb_columns(schema: TableSchema) -> str:
    """``read_csv`` ``columns`` argument: every input column with its declared type."""
    pairs = ", ".join(f"'{c.name}': '{_DUCKDB_TYPES[c.type]}'" for c in schema.columns)
    return "{" + pairs + "}"


def run_bare_duckdb(path: Path, workdir: Path) -> int:
    """Bare ``CREATE TABLE AS SELECT * FROM read_csv(...)`` with explicit types."""
    con = duckdb.connect(str(_fresh_db(workdir, "bare.duckdb")))
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(
            "CREATE TABLE viewing_logs AS SELECT * FROM read_csv("
            f"'{path}', header = true, columns = {duckdb_columns(VIEWING_LOGS)})"
        )
        return int(con.sql("select count(*) from viewing_logs").fetchone()[0])
    finally:
        con.close()


def sample_dates() -> list[date]:
    stems = {p.stem for p in SAMPLE_DATA.glob("*/*.csv")}
    if not stems:
        raise SystemExit(f"no sample files under {SAMPLE_DATA}")
    return sorted(date.fromisoformat(s) for s in stems)


def run_flow(workdir: Path) -> int:
    """The full Prefect flow (backfill over the sample week) on a fresh warehouse."""
    from flows.daily_pipeline import daily_pipeline

    dates = sample_dates()
    os.environ["DUCKDB_PATH"] = str(_fresh_db(workdir, "flow.duckdb"))
    summary = daily_pipeline(
        run_date=dates[0], target="dev", source_dir=str(SAMPLE_DATA), end_date=dates[-1]
    )
    return len(summary.dbt.nodes) if summary.dbt else 0


def run_plain(workdir: Path) -> int:
    """The same ingest, then a bare in-process ``dbt build``: no Prefect."""
    from config.settings import DBT_PROJECT_DIR
    from flows.dbt_build import raise_for_failure, run_dbt_build
    from ingest import ingest_date

    settings = Settings.from_env(target="dev", duckdb_path=_fresh_db(workdir, "plain.duckdb"))
    for day in sample_dates():
        ingest_date(settings, day, SAMPLE_DATA)
    result = run_dbt_build(DBT_PROJECT_DIR, settings.target, settings.dbt_env())
    return len(raise_for_failure(result).nodes)


#: The history case: the nights measured, each after this many days of history.
HISTORY_NIGHTS = {
    "night 2 after 1 day": 1,
    "night 31 after 30 days": 30,
    "night 61 after 60 days": 60,
}
HISTORY_START = date(2026, 1, 1)


def history_drops(views: int, interactions: int, days: int) -> Path:
    """``days`` days of generated drops with the default messiness, generated once."""
    from tools.generate import GeneratorConfig, generate

    folder = DATA_DIR / f"history-views{views}-interactions{interactions}-days{days}"
    if folder.is_dir():
        return folder
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"generating {days} days of {views:,} views and {interactions:,} interactions ...")
    generate(tmp, GeneratorConfig(HISTORY_START, days, views, interactions, seed=7))
    tmp.rename(folder)
    return folder


def nightly_run(settings: Settings, drops: Path, day: date) -> tuple[float, float]:
    """Ingest ``day`` and run the flow's ``dbt build``: (ingest s, dbt elapsed s)."""
    from flows.daily_pipeline import dbt_build
    from flows.dbt_build import raise_for_failure
    from ingest import ingest_date

    started = time.perf_counter()
    ingest_date(settings, day, drops)
    ingest_s = time.perf_counter() - started
    raise_for_failure(dbt_build(settings))
    results = DBT_TARGET / settings.run_key / "run_results.json"
    return ingest_s, json.loads(results.read_text(encoding="utf-8"))["elapsed_time"]


def history_case(args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    """Each night measured from a snapshot of its history, restored before every round."""
    from flows.daily_pipeline import dbt_build
    from flows.dbt_build import raise_for_failure
    from flows.publish import publish
    from ingest import ingest_date

    started = time.perf_counter()
    longest = max(HISTORY_NIGHTS.values())
    drops = history_drops(args.history_views, args.history_interactions, longest + 1)
    days = [HISTORY_START + timedelta(days=i) for i in range(longest + 1)]
    live = _fresh_db(workdir, "history.duckdb")
    settings = Settings.from_env(target="dev", duckdb_path=live)
    snapshots: dict[str, tuple[Path, date]] = {}
    loaded = 0
    for name, history in sorted(HISTORY_NIGHTS.items(), key=lambda kv: kv[1]):
        for day in days[loaded:history]:  # a backfill, then one build and a publish
            ingest_date(settings, day, drops)
        loaded = history
        raise_for_failure(dbt_build(settings))
        publish(settings)
        snapshots[name] = (workdir / f"{name}.duckdb", days[history])
        shutil.copyfile(live, snapshots[name][0])
    alone = "night 31 alone on an empty warehouse"
    snapshots[alone] = (_fresh_db(workdir, "empty.duckdb"), days[30])
    print(f"  history built in {time.perf_counter() - started:.0f}s", flush=True)

    def night(name: str) -> Callable[[Path], int]:
        def run(_: Path) -> int:
            snapshot, day = snapshots[name]
            live.unlink(missing_ok=True)
            if snapshot.exists():
                shutil.copyfile(snapshot, live)
            ingest_s, dbt_s = nightly_run(settings, drops, day)
            measured[name].append((ingest_s, dbt_s))
            print(f"    {name}: ingest {ingest_s:.2f}s, dbt {dbt_s:.2f}s", flush=True)
            return 0

        return run

    measured: dict[str, list[tuple[float, float]]] = {name: [] for name in snapshots}
    interleaved({name: night(name) for name in snapshots}, args.history_rounds, workdir)
    medians = {
        name: (statistics.median(i for i, _ in runs), statistics.median(d for _, d in runs))
        for name, runs in measured.items()
    }
    dbt = {name: m[1] for name, m in medians.items()}
    ratios = {
        "after_30_over_alone": dbt["night 31 after 30 days"] / dbt[alone],
        "after_60_over_after_30": dbt["night 61 after 60 days"] / dbt["night 31 after 30 days"],
        "after_30_over_after_1": dbt["night 31 after 30 days"] / dbt["night 2 after 1 day"],
    }
    print_table(
        f"Nightly run after N days of history ({args.history_views:,} views, "
        f"{args.history_interactions:,} interactions a day; median of {args.history_rounds})",
        ("night", "ingest s", "dbt elapsed s", "dbt runs s"),
        [
            (name, f"{m[0]:.2f}", f"{m[1]:.2f}", " ".join(f"{d:.2f}" for _, d in measured[name]))
            for name, m in medians.items()
        ],
    )
    for name, value in ratios.items():
        print(f"{name.replace('_', ' ')}: {value:.2f}")
    cost = RESULTS_DIR / "bigquery-cost.json"
    estimate = json.loads(cost.read_text(encoding="utf-8")) if cost.is_file() else None
    if estimate:
        print(
            f"BigQuery, estimated from the queries of a nightly run ({cost.name}, written by "
            f"nox -s bigquery): new data {estimate['new_data_mb']} MB a night; processed "
            + "; ".join(
                f"after {days} days {n['processed_mb']:,} MB ({n['over_new_data']}x)"
                for days, n in estimate["nights"].items()
            )
            + f"; {estimate['table_references']} table references "
            f"(at least {estimate['minimum_billed_mb']:,} MB billed)"
        )
    else:
        print(f"BigQuery estimate: run `nox -s bigquery` first, it writes {cost}")
    total = time.perf_counter() - started
    print(f"history case ran in {total:.0f}s")
    return {
        "views_per_day": args.history_views,
        "interactions_per_day": args.history_interactions,
        "nights": {
            name: {
                "ingest_median_s": round(m[0], 3),
                "dbt_median_s": round(m[1], 3),
                "dbt_runs_s": [round(d, 3) for _, d in measured[name]],
            }
            for name, m in medians.items()
        },
        "ratios": {k: round(v, 3) for k, v in ratios.items()},
        "bigquery_estimate": estimate,
        "case_s": round(total, 1),
    }


def timed(fn: Callable[[Path], int], workdir: Path) -> tuple[float, int]:
    started = time.perf_counter()
    out = fn(workdir)
    return time.perf_counter() - started, out


def interleaved(
    cases: dict[str, Callable[[Path], int]], rounds: int, workdir: Path
) -> dict[str, list[tuple[float, int]]]:
    """Run every case once per round, alternating the order each round."""
    names = list(cases)
    runs: dict[str, list[tuple[float, int]]] = {n: [] for n in names}
    for i in range(rounds):
        order = names if i % 2 == 0 else names[::-1]
        for name in order:
            seconds, out = timed(cases[name], workdir)
            runs[name].append((seconds, out))
            print(f"  round {i + 1}/{rounds} {name}: {seconds:.2f}s", flush=True)
    return runs


# --- report --------------------------------------------------------------------------------


def _stats(runs: list[tuple[float, int]], rows: int | None = None) -> dict[str, object]:
    seconds = [s for s, _ in runs]
    median = statistics.median(seconds)
    out: dict[str, object] = {
        "runs_s": [round(s, 3) for s in seconds],
        "median_s": round(median, 3),
    }
    if rows:
        out["rows_per_s"] = round(rows / median)
    return out


def print_table(title: str, header: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
    cells = [header, *[tuple(str(c) for c in r) for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = "-+-".join("-" * w for w in widths)
    print(f"\n{title}\n{line}")
    for i, row in enumerate(cells):
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        if i == 0:
            print(line)
    print(line)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000, help="rows (default: 5000000)")
    parser.add_argument("--seed", type=int, default=42, help="generator seed (default: 42)")
    parser.add_argument("--rounds", type=int, default=5, help="ingest rounds (default: 5)")
    parser.add_argument(
        "--flow-rounds", type=int, default=3, help="flow vs plain rounds (default: 3; 0 skips)"
    )
    parser.add_argument(
        "--cases",
        default="cli,ingest,flow,history",
        help="comma-separated cases to run: cli, ingest, flow, history (default: all)",
    )
    parser.add_argument("--history-views", type=int, default=100_000, help="(default: 100000)")
    parser.add_argument("--history-interactions", type=int, default=30_000, help="(default: 30000)")
    parser.add_argument("--history-rounds", type=int, default=3, help="(default: 3)")
    parser.add_argument(
        "--output",
        type=Path,
        default=RESULTS_DIR / "latest.json",
        help="JSON results file (default: bench/results/latest.json)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from flows.daily_pipeline import patient_ephemeral_api

    with patient_ephemeral_api():
        return _main(parse_args(argv))


INGEST_CASES = (
    "ours: ingest_file",
    "bare: duckdb read_csv CTAS",
    "ours: 1,000 bad rows",
    "table layout: lineage per row",
)


def ingest_case(args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    path = bench_file(args.rows, args.seed)
    bad = with_bad_rows(path)
    records = count_records(path)
    size_mb = path.stat().st_size / 1e6
    report: dict[str, object] = {
        "file": str(path.relative_to(REPO_ROOT)),
        "records": records,
        "mb": size_mb,
    }
    print(f"\ningest benchmark: {records:,} records, {size_mb:.0f} MB, {args.rounds} rounds")
    runs = interleaved(
        dict(
            zip(
                INGEST_CASES,
                (
                    lambda w: run_our_ingest(path, w),
                    lambda w: run_bare_duckdb(path, w),
                    lambda w: run_our_ingest(bad, w),
                    lambda w: run_table_layout(path, w),
                ),
                strict=True,
            )
        ),
        args.rounds,
        workdir,
    )
    stats = {name: _stats(r, records) for name, r in runs.items()}
    bare = stats["bare: duckdb read_csv CTAS"]["median_s"]
    ratios = {name: round(st["median_s"] / bare, 3) for name, st in stats.items()}  # type: ignore[operator]
    report.update(
        {
            "cases": {
                name: {
                    **stats[name],
                    "rows_loaded": runs[name][-1][1],
                    "ratio_over_bare": ratios[name],
                }
                for name in INGEST_CASES
            },
            "ratio_ours_over_bare": ratios["ours: ingest_file"],
            "ratio_bad_rows_over_bare": ratios["ours: 1,000 bad rows"],
            "ratio_table_layout_over_bare": ratios["table layout: lineage per row"],
        }
    )
    print_table(
        f"Ingest of {records:,} viewing_logs records (median of {args.rounds})",
        ("case", "median s", "rows/s", "runs s", "rows loaded", "/ bare"),
        [
            (
                name,
                f"{stats[name]['median_s']:.2f}",
                f"{stats[name]['rows_per_s']:,}",
                " ".join(f"{s:.2f}" for s, _ in runs[name]),
                f"{runs[name][-1][1]:,}",
                f"{ratios[name]:.2f}x",
            )
            for name in INGEST_CASES
        ],
    )
    return report


#: The command line's answers to a newcomer's mistakes, each timed as a fresh process.
NIGHTJAR_RUN = [sys.executable, "-m", "flows.cli", "run"]
DBT = [str(Path(sys.executable).with_name("dbt")), "compile", "--target", "prod"]
CLI_CASES = {
    "nightjar run --help": [*NIGHTJAR_RUN, "--help"],
    "a missing source folder": [
        *NIGHTJAR_RUN,
        "--source-dir",
        "sampledata",
        "--run-date",
        "2026-11-16",
    ],
    "a date without files": [*NIGHTJAR_RUN, "--run-date", "2026-01-03"],
    "an unknown target": [*NIGHTJAR_RUN, "--target", "nope"],
    "dbt compile --target prod, no credentials": DBT,
    "the same with --no-populate-cache": [*DBT, "--no-populate-cache"],
}


def cli_case(workdir: Path, rounds: int = 5) -> dict[str, object]:
    """Wall time of each case's answer; Prefect must not start, dbt must not wait on BigQuery.

    The dbt cases run with no BigQuery variable at all (they need the bigquery extra)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BIGQUERY_")}
    env |= {"DUCKDB_PATH": str(workdir / "cli.duckdb"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    env |= {"DBT_TARGET_PATH": str(workdir / "dbt-target"), "DBT_LOG_PATH": str(workdir)}
    cases = {n: c for n, c in CLI_CASES.items() if c[0] != DBT[0] or Path(DBT[0]).exists()}
    runs: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, command in cases.items():
            cwd = DBT_PROJECT_DIR if command[0] == DBT[0] else REPO_ROOT
            started = time.perf_counter()
            subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)
            runs[name].append(time.perf_counter() - started)
    report = {name: _stats([(s, 0) for s in r]) for name, r in runs.items()}
    print_table(
        f"Command line, fresh process each time (median of {rounds})",
        ("case", "median s", "runs s"),
        [
            (name, f"{st['median_s']:.2f}", " ".join(f"{x:.2f}" for x in runs[name]))
            for name, st in report.items()
        ],
    )
    return report


def flow_case(args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    print(f"\norchestration benchmark on {SAMPLE_DATA.name}/ ({args.flow_rounds} rounds)")
    cold_s, _ = timed(run_flow, workdir)
    print(f"  cold flow run (starts the temporary Prefect API): {cold_s:.2f}s")
    runs = interleaved(
        {"flow: daily_pipeline": run_flow, "plain: ingest + dbt build": run_plain},
        args.flow_rounds,
        workdir,
    )
    flow_runs, plain_runs = runs["flow: daily_pipeline"], runs["plain: ingest + dbt build"]
    flow_stats, plain_stats = _stats(flow_runs), _stats(plain_runs)
    overhead = flow_stats["median_s"] / plain_stats["median_s"]  # type: ignore[operator]
    report = {
        "dates": [d.isoformat() for d in sample_dates()],
        "cold_flow_s": round(cold_s, 3),
        "flow": flow_stats,
        "plain": plain_stats,
        "ratio_flow_over_plain": round(overhead, 3),
    }
    print_table(
        "Full flow vs ingest + bare dbt build on the sample data (warm)",
        ("case", "median s", "runs s"),
        [
            (name, f"{st['median_s']:.2f}", " ".join(f"{s:.2f}" for s, _ in r))
            for name, r, st in (
                ("flow: daily_pipeline", flow_runs, flow_stats),
                ("plain: ingest + dbt build", plain_runs, plain_stats),
            )
        ],
    )
    print(f"cold flow run: {cold_s:.2f}s; ratio flow / plain (warm): {overhead:.2f}x")
    return report


def _main(args: argparse.Namespace) -> int:
    cases = set(args.cases.split(","))
    report: dict[str, object] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "platform": platform.platform(),
        },
    }
    with tempfile.TemporaryDirectory(prefix="nightjar-bench-") as tmp:
        workdir = Path(tmp)
        if "cli" in cases:
            report["cli"] = cli_case(workdir)
        if "ingest" in cases:
            report["ingest"] = ingest_case(args, workdir)
        if "flow" in cases and args.flow_rounds > 0:
            report["orchestration"] = flow_case(args, workdir)
        if "history" in cases:
            report["history"] = history_case(args, workdir)

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nresults written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
