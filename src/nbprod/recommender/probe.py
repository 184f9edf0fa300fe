"""Measure a recommender's memory and latency in a fresh process (run by :func:`nbprod.registry.budget.run_probe`).

Usage: ``python -m nbprod.recommender.probe MODEL_DIR USERS.parquet K CALLS OUT.json``

The method of :mod:`nbprod.registry.probe` (its helpers), for one user's top-k instead of one row's
score: the runtime (numpy, pandas, scipy, ``mlflow.pyfunc``) imported and the baseline RSS recorded,
then the model loaded with ``mlflow.pyfunc.load_model`` (as the service does) and every user of
USERS.parquet (``user``, optional ``segment``) recommended once for the memory figure; then 20
warm-up and CALLS timed single-user ``recommend`` calls, the p99 of the best of the rounds.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from nbprod.registry.probe import WARMUP_CALLS, latency_figures, memory_figures, start_memory


def measure(model_dir: str, users_path: str, k: int, calls: int, out: str) -> dict:
    """Run the measurement and write the figures to ``out`` as JSON."""
    import importlib

    import mlflow.pyfunc
    import pandas as pd

    importlib.import_module("scipy.sparse")  # part of the runtime, not of the model
    users = pd.read_parquet(users_path)
    segments = users["segment"].tolist() if "segment" in users.columns else [None] * len(users)
    requests = [(users["user"].iloc[i % len(users)], segments[i % len(users)])
                for i in range(max(calls, 1) + WARMUP_CALLS)]
    use_proc, baseline_kb = start_memory(out)

    started = time.perf_counter()
    model = mlflow.pyfunc.load_model(model_dir).unwrap_python_model().recommender
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for user, segment in zip(users["user"], segments):
        model.recommend(user, k=k, segment=segment)
    batch_seconds = time.perf_counter() - started
    memory = memory_figures(use_proc, baseline_kb)

    figures = {
        **memory,
        "load_seconds": load_seconds,
        "batch_users": int(len(users)),
        "batch_seconds": batch_seconds,
        "k": int(k),
        **latency_figures(lambda request: model.recommend(request[0], k=k, segment=request[1]), requests),
    }
    Path(out).write_text(json.dumps(figures))
    return figures


if __name__ == "__main__":
    model_dir, users_path, k, calls, out = sys.argv[1:6]
    measure(model_dir, users_path, int(k), int(calls), out)
