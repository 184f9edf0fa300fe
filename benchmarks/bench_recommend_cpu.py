"""CPU per ``POST /recommend`` request, in process: the service's ASGI application called directly (no HTTP).

    python benchmarks/bench_recommend_cpu.py [--requests 3000] [--profile] [--out FILE]

The template's candidates (popularity, item-item with 100 neighbours, ALS with 48 factors) are fitted on
the embedded MovieLens history (the default build's train + validation). For each, a
:class:`~nbprod.serving.app.PredictionService` with the real prediction log (in a temporary folder)
answers ``--requests`` requests for known users (cycling through the history's users, top-10, seen items
excluded) and then for new users, one at a time. The figure is the process CPU time (``time.process_time``:
every thread, so the log's writing thread too, its last batch flushed inside the measurement) per request,
which, unlike wall time, is little inflated by other work on a shared machine. ``--profile`` prints
cProfile's top functions of the known-user requests of the ALS model.

Run it from two checkouts (``PYTHONPATH=<checkout>/src``) to compare code before and after a change:
the script only uses interfaces both have.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
CANDIDATES = {"popularity": ("popularity", {}), "item_knn": ("item_knn", {"neighbours": 100}),
              "als": ("als", {"factors": 48, "iterations": 15, "regularization": 0.05})}


def history() -> pd.DataFrame:
    """The default build's train + validation interactions of the embedded MovieLens ratings."""
    from bench_recommender import default_split

    _, _, parts = default_split()
    return pd.concat([parts["train"], parts["valid"]], ignore_index=True)


def service(model, folder: Path):
    """A prediction service answering with ``model``, its prediction log in ``folder`` (the serve defaults)."""
    from nbprod.serving import recommend
    from nbprod.serving.app import PredictionService, ServeConfig
    from nbprod.serving.guards import GuardConfig
    from nbprod.serving.metrics import Metrics
    from nbprod.serving.prediction_log import PredictionLogWriter

    serve = yaml.safe_load((REPO / "env.yaml").read_text())["serve"]
    config = ServeConfig(model_name="movies", alias="champion", tracking_uri="sqlite:///unused.db",
                         host="127.0.0.1", port=0, token=None, max_body_bytes=1 << 20, max_rows=int(serve["max_rows"]),
                         max_text_chars=int(serve["max_text_chars"]), reload_seconds=5.0, log_folder=folder,
                         log_flush_rows=int(serve["log_flush_rows"]), log_flush_seconds=float(serve["log_flush_seconds"]),
                         alerts=None, log_max_rows=None, log_policy="refuse", guard=GuardConfig.from_settings(serve))
    app = PredictionService(config)
    app.model = recommend.LoadedRecommender("movies", "1", model)
    app.log = PredictionLogWriter(folder, config.log_flush_rows, config.log_flush_seconds)
    app.metrics = Metrics("movies")
    return app


async def answer(app, body: bytes) -> bytes:
    """One request through the ASGI application; its response body (a non-200 stops the benchmark)."""
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/recommend",
             "headers": [(b"content-type", b"application/json"), (b"host", b"127.0.0.1:0"),
                         (b"content-length", str(len(body)).encode())]}
    await app(scope, receive, send)
    if sent[0]["status"] != 200:
        raise SystemExit(f"/recommend answered {sent[0]['status']}: {sent[1]['body']!r}")
    return sent[1]["body"]


async def run(app, bodies: list[bytes]) -> list[bytes]:
    return [await answer(app, body) for body in bodies]


def measure(model, users: list[str], requests: int, profile: bool = False) -> dict:
    """CPU and wall time per request (see the module docstring), the log flushed inside the measurement."""
    bodies = [json.dumps({"user": users[index % len(users)], "k": 10}).encode() for index in range(requests)]
    with tempfile.TemporaryDirectory(prefix="nbprod-bench-recommend-") as folder:
        app = service(model, Path(folder))
        asyncio.run(run(app, bodies[:200]))  # warm-up
        profiler = cProfile.Profile() if profile else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        answers = asyncio.run(run(app, bodies))
        app.log.close()
        if profiler:
            profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        rows = app.log.rows_written
    if profiler:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    paths = {json.loads(body)["path"] for body in answers}
    return {"requests": requests, "cpu_us_per_request": cpu / requests * 1e6,
            "wall_us_per_request": wall / requests * 1e6, "log_rows_written": rows, "paths": sorted(paths)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--profile", action="store_true", help="cProfile of the ALS known-user requests (stderr)")
    parser.add_argument("--only", choices=sorted(CANDIDATES), nargs="*", default=sorted(CANDIDATES))
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    arguments = parser.parse_args()
    from nbprod.recommender.estimator import Recommender

    frame = history()
    users = [str(user) for user in pd.unique(frame["user"])]
    figures = {"load_average_at_start": list(os.getloadavg())}
    for name in arguments.only:
        kind, params = CANDIDATES[name]
        model = Recommender(kind, params, seed=42).fit(frame)
        figures[name] = {
            "known_users": measure(model, users, arguments.requests, arguments.profile and name == "als"),
            "new_users": measure(model, [f"new-{index}" for index in range(100)], arguments.requests),
        }
        print(name, json.dumps(figures[name]), flush=True)
    figures["load_average_at_end"] = list(os.getloadavg())
    if arguments.out:
        arguments.out.parent.mkdir(parents=True, exist_ok=True)
        arguments.out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
