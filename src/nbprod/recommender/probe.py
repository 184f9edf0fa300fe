"""Measure a recommender's memory and latency in a fresh process (run by :func:`nbprod.registry.budget.run_probe`).

Usage: ``python -m nbprod.recommender.probe MODEL_DIR USERS.parquet K CALLS OUT.json``

The method of :mod:`nbprod.registry.probe`, for one user's top-k instead of one row's score:
the runtime (numpy, pandas, scipy, ``mlflow.pyfunc``) imported and the baseline RSS recorded,
then the model loaded with ``mlflow.pyfunc.load_model`` (as the service does) and every user of
USERS.parquet (``user``, optional ``segment``) recommended once for the memory figure; then 20
warm-up and CALLS timed single-user ``recommend`` calls, the p99 of the best of the rounds.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from nbprod.registry.probe import LATENCY_ROUNDS, WARMUP_CALLS, _maxrss_kb, _proc_status_kb, _reset_peak


def measure(model_dir: str, users_path: str, k: int, calls: int, out: str) -> dict:
    """Run the measurement and write the figures to ``out`` as JSON."""
    import gc
    import importlib

    import mlflow.pyfunc
    import numpy as np
    import pandas as pd

    importlib.import_module("scipy.sparse")  # part of the runtime, not of the model

    users = pd.read_parquet(users_path)
    segments = users["segment"].tolist() if "segment" in users.columns else [None] * len(users)
    requests = [(users["user"].iloc[i % len(users)], segments[i % len(users)])
                for i in range(max(calls, 1) + WARMUP_CALLS)]
    gc.collect()
    use_proc = _reset_peak() and _proc_status_kb("VmHWM") is not None
    baseline_kb = _proc_status_kb("VmRSS") if use_proc else _maxrss_kb()
    Path(out + ".baseline").write_text(json.dumps({"baseline_kb": baseline_kb}))

    started = time.perf_counter()
    model = mlflow.pyfunc.load_model(model_dir).unwrap_python_model().recommender
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for user, segment in zip(users["user"], segments):
        model.recommend(user, k=k, segment=segment)
    batch_seconds = time.perf_counter() - started
    peak_kb = _proc_status_kb("VmHWM") if use_proc else _maxrss_kb()

    timings = []
    for index, (user, segment) in enumerate(requests):
        started = time.perf_counter()
        model.recommend(user, k=k, segment=segment)
        if index >= WARMUP_CALLS:
            timings.append((time.perf_counter() - started) * 1000.0)
    rounds = [np.asarray(part) for part in np.array_split(np.asarray(timings), LATENCY_ROUNDS) if len(part)]
    ms = min(rounds, key=lambda part: float(np.percentile(part, 99)))
    figures = {
        "memory_mb": max(peak_kb - baseline_kb, 0) / 1024.0,
        "baseline_mb": baseline_kb / 1024.0,
        "peak_rss_mb": peak_kb / 1024.0,
        "memory_method": ("VmHWM (after clear_refs reset) - VmRSS baseline" if use_proc
                          else "ru_maxrss - ru_maxrss baseline"),
        "load_seconds": load_seconds,
        "batch_users": int(len(users)),
        "batch_seconds": batch_seconds,
        "k": int(k),
        "latency_calls": int(len(timings)),
        "latency_rounds_p99_ms": [float(np.percentile(part, 99)) for part in rounds],
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
    }
    Path(out).write_text(json.dumps(figures))
    return figures


if __name__ == "__main__":
    model_dir, users_path, k, calls, out = sys.argv[1:6]
    measure(model_dir, users_path, int(k), int(calls), out)
