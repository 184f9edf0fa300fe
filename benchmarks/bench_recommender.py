"""Recommender figures on the embedded MovieLens ratings: each candidate against popularity, and the build.

    python benchmarks/bench_recommender.py [--skip-build] [--out reports/benchmarks/recommender.json]

1. **Candidates** (in process, the package's functions as the notebooks call them): the template's
   split (quantiles 0.7 / 0.85) and grid; every grid point fitted on train and scored on validation,
   each family's best fitted again on the whole history and scored on the test, NDCG@10 and
   recall@10 for known and cold-start users against the global popularity baseline; each model's
   footprint (factors / neighbour matrix + seen items) and one user's top-10 latency (p50/p99 of
   single calls, one thread, in this process).
2. **The dense item-item matrix** of the full catalogue, sized without being built
   (items x items x 4 bytes) against the template's 200 MB budget.
3. **The build**: ``nbprod new --template recommender`` then ``nbprod build`` on the full default
   data, wall time and the peak RSS of the largest process of the build (``RUSAGE_CHILDREN``).

The machine is shared: timings are inflated by other work (the load average is recorded).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "templates" / "recommender" / "env.yaml"


def latency_ms(model, users, k: int = 10, calls: int = 300) -> dict[str, float]:
    """p50 and p99 of single ``recommend`` calls cycling through ``users`` (20 warm-up calls first)."""
    timings = []
    for index in range(calls + 20):
        started = time.perf_counter()
        model.recommend(users[index % len(users)], k=k)
        if index >= 20:
            timings.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": float(np.percentile(timings, 50)), "p99_ms": float(np.percentile(timings, 99))}


def candidates() -> dict:
    """Section 1 and 2 (see the module docstring)."""
    from nbprod.recommender import data, evaluation, models, split, training
    from nbprod.recommender.estimator import Recommender

    env = yaml.safe_load(TEMPLATE.read_text())
    settings = env["data"]
    frame = data.standardize(data.read_movielens(), settings["user"], settings["item"], settings["time"],
                             settings["weight"], [], [])
    at = split.cuts(frame, None, None, env["split"]["valid_quantile"], env["split"]["test_quantile"])
    parts = split.split_frame(frame, at)
    history = pd.concat([parts["train"], parts["valid"]], ignore_index=True)
    k, fallback = env["evaluate"]["k"], env["fallback"]
    grid = models.expand_grid(env["train"]["candidates"])
    started = time.perf_counter()
    valid = training.fit_grid(grid, parts["train"], parts["valid"], k, fallback)
    chosen = training.best_per_family(grid, valid, f"ndcg@{k}")
    grid_seconds = time.perf_counter() - started
    baseline = evaluation.evaluate(Recommender("popularity").fit(history), history, parts["test"], k)
    users = list(pd.unique(history["user"]))
    figures = {}
    for family, candidate in chosen.items():
        started = time.perf_counter()
        model = training.make_recommender(candidate, fallback, 1, 42).fit(history)
        fit_seconds = time.perf_counter() - started
        result = evaluation.evaluate(model, history, parts["test"], k)
        figures[candidate.name] = {
            "fit_seconds_on_history": fit_seconds, "footprint_mb": model.footprint_bytes() / 2**20,
            **{group: {"users": result["groups"][group]["users"],
                       **{metric: result["groups"][group][f"{metric}@{k}"] for metric in ("ndcg", "recall")},
                       **{f"{metric} popularity": baseline["groups"][group][f"{metric}@{k}"]
                          for metric in ("ndcg", "recall")},
                       "coverage": result["groups"][group]["coverage"]}
               for group in ("known", "cold", "all")},
            "latency_known_user": latency_ms(model, users),
        }
    items = history["item"].nunique()
    return {
        "split": {"valid_start": str(at.valid_start), "test_start": str(at.test_start),
                  "test": split.summary(history, parts["test"])},
        "grid_points": len(grid), "grid_seconds": grid_seconds,
        "candidates": figures,
        "dense_item_item_full_catalogue": {"items": items, "size_mb": items * items * 4 / 2**20,
                                           "budget_max_size_mb": env["registry"]["budget"]["max_size_mb"]},
    }


def build() -> dict:
    """Section 3 (see the module docstring)."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    environment["PYTHONPATH"] = str(REPO / "src")
    with tempfile.TemporaryDirectory(prefix="nbprod-bench-recommender-") as folder:
        project = Path(folder) / "movies"
        subprocess.run([sys.executable, "-m", "nbprod.cli", "new", str(project), "--template", "recommender"],
                       check=True, env=environment, capture_output=True)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "nbprod.cli", "build"], cwd=project, env=environment,
                              capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(done.stdout[-2000:] + done.stderr[-2000:])
        promotion = json.loads((project / "reports" / "promotion.json").read_text())
        lines = [line for line in done.stdout.splitlines() if " done in " in line]
    return {"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "tasks": lines, "gate": promotion["summary"],
            "budget": {key: promotion["budget"][key]["measured"] for key in ("size_mb", "memory_mb", "p99_ms")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "benchmarks" / "recommender.json")
    args = parser.parse_args()
    result = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "load_average_at_start": os.getloadavg()},
              "note": "shared 2-core machine: wall times are inflated by other work",
              **candidates()}
    if not args.skip_build:
        result["build_default_data"] = build()
    result["machine"]["load_average_at_end"] = os.getloadavg()
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
