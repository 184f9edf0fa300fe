"""Measure a model's memory and latency in a fresh process (run by :mod:`nbprod.registry.budget`).

Usage: ``python -m nbprod.registry.probe MODEL_DIR ROWS.parquet TASK CALLS OUT.json``

One method for every kind of model; what is loaded and called is the TASK's :class:`Workload`
(:data:`WORKLOADS`: a tabular model's rows, a recommender's users with ``recommendation@K``):

1. Import the serving runtime (numpy, pandas, the model's libraries) and read the sample
   rows, then reset the kernel's peak-RSS counter (``/proc/self/clear_refs`` = 5) and record
   the current RSS as the baseline; the baseline is written to ``OUT.json.baseline`` at once so
   that the parent can report a lower bound if it has to stop this process.
2. Load the model as the service does (``mlflow.sklearn.load_model``; a recommender through
   ``mlflow.pyfunc``) and run the whole sample as one batch (predict every row; recommend for
   every user).
3. Memory = peak RSS (``VmHWM`` from ``/proc/self/status``) minus the baseline.
   ``VmHWM`` belongs to this process's own address space; ``ru_maxrss`` is not
   used on Linux because after fork/vfork + exec it can carry the *parent's*
   peak. Where ``/proc`` is missing (macOS) ``ru_maxrss`` is the fallback.
4. Latency: 20 warm-up then CALLS single calls (one row's ``predict_proba``/``predict``, one
   user's top-k; inputs pre-sliced, so only the model is timed), in ``LATENCY_ROUNDS``
   consecutive rounds; p50/p95/p99/max in ms of the round with the lowest p99.
   Other processes on a busy machine only ever add latency, so the best round is
   the model's own cost; every round's p99 is reported too.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

WARMUP_CALLS = 20
LATENCY_ROUNDS = 3


def _proc_status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _maxrss_kb() -> int:
    import resource

    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value // 1024 if sys.platform == "darwin" else value  # bytes on macOS, KiB on Linux


def start_memory(out: str) -> tuple[bool, int]:
    """Reset the peak-RSS counter and record the baseline (also in ``OUT.json.baseline``, for the parent
    to report a lower bound if it has to stop this process): ``(use /proc, baseline KiB)``."""
    import gc

    gc.collect()
    use_proc = _reset_peak() and _proc_status_kb("VmHWM") is not None
    baseline_kb = _proc_status_kb("VmRSS") if use_proc else _maxrss_kb()
    Path(out + ".baseline").write_text(json.dumps({"baseline_kb": baseline_kb}))
    return use_proc, baseline_kb


def memory_figures(use_proc: bool, baseline_kb: int) -> dict:
    """The memory figures now: the peak RSS since :func:`start_memory` above its baseline."""
    peak_kb = _proc_status_kb("VmHWM") if use_proc else _maxrss_kb()
    return {
        "memory_mb": max(peak_kb - baseline_kb, 0) / 1024.0,
        "baseline_mb": baseline_kb / 1024.0,
        "peak_rss_mb": peak_kb / 1024.0,
        "memory_method": ("VmHWM (after clear_refs reset) - VmRSS baseline" if use_proc
                          else "ru_maxrss - ru_maxrss baseline"),
    }


def latency_figures(call: Callable[[Any], Any], inputs: Sequence[Any]) -> dict:
    """Time ``call`` on each of ``inputs``: the first :data:`WARMUP_CALLS` untimed, the rest in
    :data:`LATENCY_ROUNDS` rounds; p50/p95/p99/max in ms of the round with the lowest p99."""
    import numpy as np

    timings = []
    for index, value in enumerate(inputs):
        started = time.perf_counter()
        call(value)
        if index >= WARMUP_CALLS:
            timings.append((time.perf_counter() - started) * 1000.0)
    rounds = [np.asarray(part) for part in np.array_split(np.asarray(timings), LATENCY_ROUNDS) if len(part)]
    ms = min(rounds, key=lambda part: float(np.percentile(part, 99)))
    return {
        "latency_calls": int(len(timings)),
        "latency_rounds_p99_ms": [float(np.percentile(part, 99)) for part in rounds],
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
    }


@dataclass(frozen=True)
class Workload:
    """What the probe does with one kind of model: load it, run the batch, time single calls.

    ``inputs``: the single-call inputs, prepared before the baseline; ``details``: figures describing the
    batch (e.g. ``batch_rows``), added to the result.
    """

    load: Callable[[str], Any]
    batch: Callable[[Any], Any]
    call: Callable[[Any, Any], Any]
    inputs: Sequence[Any]
    details: dict = field(default_factory=dict)


#: The workload of each task (``module:function(task, rows, calls) -> Workload``; the function imports the
#: model's runtime, which is part of the baseline). A TASK ``name@arg`` is found by its ``name``.
WORKLOADS = {
    "classification": "nbprod.registry.probe:tabular_workload",
    "regression": "nbprod.registry.probe:tabular_workload",
    "recommendation": "nbprod.recommender.probe:workload",
}


def workload_for(task: str, rows: Any, calls: int) -> Workload:
    """The :class:`Workload` of ``task`` (see :data:`WORKLOADS`) on ``rows``."""
    import importlib

    name = task.partition("@")[0]
    if name not in WORKLOADS:
        raise ValueError(f"the probe has no workload for the task {task!r}: one of {sorted(WORKLOADS)}")
    module, function = WORKLOADS[name].split(":")
    return getattr(importlib.import_module(module), function)(task, rows, calls)


def tabular_workload(task: str, rows: Any, calls: int) -> Workload:
    """A tabular model: loaded with ``mlflow.sklearn``; the batch predicts every row, a call one row."""
    import mlflow.sklearn

    from nbprod.model.models import predict_scores

    single = [rows.iloc[[i % len(rows)]] for i in range(max(calls, 1) + WARMUP_CALLS)]
    return Workload(mlflow.sklearn.load_model, lambda model: predict_scores(model, rows, task),
                    lambda model, row: predict_scores(model, row, task), single, {"batch_rows": int(len(rows))})


def measure(model_dir: str, rows_path: str, task: str, calls: int, out: str) -> dict:
    """Run the measurement of ``task``'s workload and write the figures to ``out`` as JSON."""
    import pandas as pd

    work = workload_for(task, pd.read_parquet(rows_path), calls)
    use_proc, baseline_kb = start_memory(out)

    started = time.perf_counter()
    model = work.load(model_dir)
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    work.batch(model)
    batch_seconds = time.perf_counter() - started
    memory = memory_figures(use_proc, baseline_kb)

    figures = {
        **memory,
        "load_seconds": load_seconds,
        **work.details,
        "batch_seconds": batch_seconds,
        **latency_figures(lambda value: work.call(model, value), work.inputs),
    }
    Path(out).write_text(json.dumps(figures))
    return figures


if __name__ == "__main__":
    model_dir, rows_path, task, calls, out = sys.argv[1:6]
    measure(model_dir, rows_path, task, int(calls), out)
