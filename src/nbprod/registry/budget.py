"""Measure a model against the deployment budget: size, peak memory, p99 latency.

* **size**: total bytes of the model's artifact folder (what the service
  downloads: the pickled model plus MLmodel and environment files); the
  pickled model file alone is reported in the details.
* **memory** and **latency**: measured in a fresh Python subprocess
  (:mod:`nbprod.registry.probe`; see its docstring for the exact method:
  peak RSS from ``VmHWM`` minus the RSS after importing the runtime).

The subprocess is time-boxed (``timeout_s``) and watched: when the model's
memory (RSS above the runtime baseline) exceeds ``cap_mb`` it is killed and the
memory figure becomes a lower bound, so a model needing 4 GB is stopped without
exhausting the machine.

Threads: by default the measuring process runs with its native thread pools
(OpenMP, BLAS) limited to one thread (``OMP_NUM_THREADS=1`` ...), which is how
the service should run single-row predictions: scikit-learn's gradient boosting
parallelises ``predict`` with OpenMP, and on a loaded 2-core machine the thread
hand-off dominates (measured here: p99 10 ms with one thread, 1.2 s with two).
Pass ``threads=None`` to measure with the libraries' defaults instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from nbprod.registry.gate import BudgetFigures

MB = 1024.0 * 1024.0
#: Why a model over the size budget has no memory or latency figure (:func:`measure` with ``skip_over_mb``).
NOT_LOADED = "not loaded: the model is over the size budget, so its memory and latency were not measured"
SIZE_METHOD = "sum of the files in the MLflow model artifact folder"
MODEL_FILES = ("model.pkl", "model.skops", "model.cloudpickle")
#: Environment variables that size the native thread pools of the measuring process.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def folder_size_bytes(path: Path) -> int:
    """Total size of the files under ``path`` (or of ``path`` itself when it is a file)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def model_file_bytes(model_dir: Path) -> int | None:
    """Size of the serialized model file in an MLflow sklearn model folder, if found."""
    for name in MODEL_FILES:
        if (Path(model_dir) / name).is_file():
            return (Path(model_dir) / name).stat().st_size
    return None


def run_probe(
    model_dir: Path,
    rows: Any,
    task: str,
    calls: int = 200,
    timeout_s: float = 300.0,
    cap_mb: float | None = None,
    threads: int | None = 1,
    poll_s: float = 0.05,
) -> dict[str, Any]:
    """Run :mod:`nbprod.registry.probe` on ``rows``; return its figures.

    ``task`` names the probe's workload (:data:`nbprod.registry.probe.WORKLOADS`): ``rows`` are a
    tabular model's raw columns, or a recommender's users for ``recommendation@K``.

    The process is killed after ``timeout_s`` seconds, or as soon as its resident
    memory exceeds its baseline (the runtime, before loading the model) by more
    than ``cap_mb``; the result then holds ``error`` and, for the cap, the memory
    reached so far as a lower bound (``memory_at_least``). ``threads`` limits the
    native thread pools (OpenMP, BLAS) of the process; None keeps the libraries' defaults.
    """
    import psutil

    with tempfile.TemporaryDirectory(prefix="nbprod-probe-") as folder:
        rows_path = Path(folder) / "rows.parquet"
        out = Path(folder) / "figures.json"
        baseline_file = Path(str(out) + ".baseline")
        stderr_path = Path(folder) / "stderr.txt"
        rows.to_parquet(rows_path)
        command = [sys.executable, "-m", "nbprod.registry.probe", str(model_dir), str(rows_path),
                   task, str(int(calls)), str(out)]
        baseline_mb: float | None = None
        peak_mb = 0.0
        error = None
        with open(stderr_path, "wb") as stderr:
            env = {**os.environ, "PYTHONWARNINGS": "ignore"}
            if threads:
                env.update({name: str(int(threads)) for name in THREAD_VARIABLES})
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, env=env)
            watched = psutil.Process(process.pid)
            deadline = time.monotonic() + timeout_s
            while process.poll() is None:
                if baseline_mb is None and baseline_file.is_file():
                    try:
                        baseline_mb = json.loads(baseline_file.read_text())["baseline_kb"] / 1024.0
                    except (ValueError, KeyError):
                        pass  # being written
                try:
                    rss_mb = watched.memory_info().rss / MB
                except psutil.Error:
                    rss_mb = 0.0
                if baseline_mb is not None:
                    peak_mb = max(peak_mb, rss_mb - baseline_mb)
                if cap_mb is not None and peak_mb > cap_mb:
                    error = f"stopped: the model's memory exceeded the safety cap of {cap_mb:g} MB"
                elif time.monotonic() > deadline:
                    error = f"stopped: measurement took longer than {timeout_s:g} s"
                if error:
                    process.kill()
                    process.wait()
                    break
                time.sleep(poll_s)
        if error is None and process.returncode == 0 and out.is_file():
            return {**json.loads(out.read_text()), "threads": threads or "library default"}
        if error is None:
            error = (f"measuring process failed (exit code {process.returncode}): "
                     + stderr_path.read_text(errors="replace").strip()[-800:])
        result: dict[str, Any] = {"error": error}
        if baseline_mb is not None and peak_mb > 0:
            result.update(memory_mb=peak_mb, memory_at_least=True, baseline_mb=baseline_mb)
        return result


def measure(
    model_dir: Path,
    rows: Any,
    task: str,
    calls: int = 200,
    timeout_s: float = 300.0,
    cap_mb: float | None = None,
    threads: int | None = 1,
    skip_over_mb: float | None = None,
) -> BudgetFigures:
    """Size, peak memory and single-call p99 latency of the model saved in ``model_dir``.

    ``rows`` is the batch run for the memory figure and the pool of single calls for the latency
    figure (see :func:`run_probe`). ``threads``: see the module docstring. ``skip_over_mb``: a model
    whose folder is larger is not loaded at all (:data:`NOT_LOADED`: no memory, no latency), so a
    4 GB model cannot take the measuring machine down.
    """
    size = folder_size_bytes(model_dir)
    file_bytes = model_file_bytes(model_dir)
    details = {
        "size_bytes": size,
        "model_file_mb": None if file_bytes is None else file_bytes / MB,
        "size_method": SIZE_METHOD,
    }
    if skip_over_mb is not None and size / MB > skip_over_mb:
        return BudgetFigures(size / MB, None, None, error=NOT_LOADED, details=details)
    probe = run_probe(model_dir, rows, task, calls, timeout_s, cap_mb, threads)
    details.update({key: value for key, value in probe.items() if key not in ("memory_mb", "p99_ms", "error")})
    return BudgetFigures(
        size_mb=size / MB,
        memory_mb=probe.get("memory_mb"),
        p99_ms=probe.get("p99_ms"),
        memory_at_least=bool(probe.get("memory_at_least", False)),
        error=probe.get("error"),
        details=details,
    )
