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
4. **Serving** the champion of that build: ``POST /recommend`` of ``nbprod serve`` (prediction log on)
   and, side by side, the same registered model behind ``mlflow models serve --env-manager local``
   (``POST /invocations``, one worker): 8 keep-alive connections asking for one user's top-10 (a known
   user, then a new one) for ``SERVE_SECONDS``, by the serve benchmark's load generator (asyncio, raw
   HTTP/1.1, in its own process); throughput and latency percentiles as the client sees them.

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
SERVE_SECONDS = 15
CONNECTIONS = 8
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


def default_split() -> tuple[dict, object, dict]:
    """The template's settings, the default build's cut dates and its split of the embedded MovieLens ratings."""
    from nbprod.recommender import data, split

    env = yaml.safe_load(TEMPLATE.read_text())
    settings = env["data"]
    frame = data.standardize(data.read_movielens(), settings["user"], settings["item"], settings["time"],
                             settings["weight"], [], [])
    at = split.cuts(frame, None, None, env["split"]["valid_quantile"], env["split"]["test_quantile"])
    return env, at, split.split_frame(frame, at)


def candidates() -> dict:
    """Section 1 and 2 (see the module docstring)."""
    from nbprod.recommender import evaluation, models, split, training
    from nbprod.recommender.estimator import Recommender

    env, at, parts = default_split()
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


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, path: str, process: subprocess.Popen, timeout: float = 180.0) -> None:
    """Until ``GET path`` answers 200 (or the process dies)."""
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"no answer on {path} after {timeout} s")


def serve(project: Path, environment: dict) -> dict:
    """Section 4 (see the module docstring)."""
    users = list(pd.unique(pd.read_parquet(project / "build" / "data" / "history.parquet")["user"]))[:1]
    figures = {}
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "nbprod.serving", "serve", "--project", str(project),
                                "--port", str(port)], cwd=project, env=environment,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port, "/ready", process)
        for kind, user in (("known_user", users[0]), ("new_user", "new-0")):
            figures[f"nbprod_recommend_{kind}"] = measured(f"http://127.0.0.1:{port}/recommend",
                                                           {"user": user, "k": 10}, project)
            figures[f"nbprod_recommend_{kind}"]["prediction_log"] = "on"
    finally:
        process.terminate()
        process.wait(60)
    name = yaml.safe_load((project / "env.yaml").read_text())["registry"]["model_name"]
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{name}@champion",
                                "--env-manager", "local", "--host", "127.0.0.1", "-p", str(port), "--workers", "1"],
                               cwd=project, env={**environment, "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port, "/ping", process)
        for kind, user in (("known_user", users[0]), ("new_user", "new-0")):
            body = {"dataframe_split": {"columns": ["user", "k"], "data": [[user, 10]]}}
            figures[f"mlflow_models_serve_invocations_{kind}"] = measured(f"http://127.0.0.1:{port}/invocations",
                                                                          body, project)
    finally:
        process.terminate()
        process.wait(60)
    return figures


def measured(url: str, body: dict, folder: Path) -> dict:
    """One user's top-10 asked by 8 keep-alive connections for :data:`SERVE_SECONDS`, by the serve benchmark's
    load generator (asyncio, raw HTTP/1.1, in its own process), with the load average before."""
    from bench_serve import run_load

    path = folder / "bench-body.json"
    path.write_text(json.dumps(body))
    load = [round(value, 2) for value in os.getloadavg()]
    figures = run_load(url, path, CONNECTIONS, SERVE_SECONDS)
    figures["load_average_before"] = load
    print(f"   {url} {body}: {figures['throughput_rps']} req/s, p99 {figures['latency_ms']['p99']} ms", flush=True)
    return figures


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
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        promotion = json.loads((project / "reports" / "promotion.json").read_text())
        lines = [line for line in done.stdout.splitlines() if " done in " in line]
        served = serve(project, environment) if promotion["champion_after"] else {}
    return {"seconds": seconds, "peak_rss_mb": peak_mb, "tasks": lines, "gate": promotion["summary"],
            "champion": promotion["candidate"]["name"] if promotion["champion_after"] else None,
            "budget": {key: promotion["budget"][key]["measured"] for key in ("size_mb", "memory_mb", "p99_ms")},
            "serving": served}


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
