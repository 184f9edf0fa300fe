"""Serving benchmark: ``nbprod serve`` side by side with MLflow's own scoring server.

    .venv/bin/python benchmarks/bench_serve.py [--seconds 10] [--project DIR] [--out reports/benchmarks/serve.json]

The model is the one users get: a copy of this project built with its default settings and data
(``nbprod build``, as ``make run``; or ``--project DIR``, an already built project; see
``benchmarks/champion.py``, shared by every serving benchmark), served from its
registry alias with requests made of its own test split's rows. Measured one after the other:

- ``nbprod serve`` (validation and prediction log on, defaults otherwise), and
- ``mlflow models serve -m models:/NAME@champion --env-manager local`` (its defaults: one
  uvicorn worker),

each with single-row requests and with 100-row requests, 8 concurrent keep-alive
connections, closed loop, for ``--seconds`` after a warm-up. The load generator is
``benchmarks/loadgen.py`` in another process (asyncio + raw HTTP/1.1, uvloop when installed;
shared with ``bench_robustness.py``); when Debian's ``wrk`` is installed (``make benchmarks`` installs it) the same
load is measured again with wrk, side by side. Figures: throughput (requests/s and rows/s) and
p50/p90/p99 latency, and the nbprod/MLflow throughput ratio.

Also measured:

- batch scoring memory: peak RSS of ``nbprod score`` on 1x and 4x the rows (flat = chunked).

The machine's load average is recorded before each run: other work on the machine
distorts the figures (both servers are affected alike, the ratio less than the latencies).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen  # noqa: E402 - the benchmarks' load generator
from champion import (REPO, champion, champion_project, free_port, load_average,  # noqa: E402,F401
                      request_rows, stop, test_rows, wait_http)


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open(os.getenv("NBPROD_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
"""


def run_wrk(url: str, body_file: Path, connections: int, seconds: float) -> dict | None:
    """The same load from wrk (Debian's ``wrk``; one thread, ``connections`` connections), when installed:
    a second load generator, written in C, to check the first one's figures."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    script = body_file.with_suffix(".lua")
    script.write_text(WRK_SCRIPT)
    done = subprocess.run([wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script), url],
                          env={**os.environ, "NBPROD_BODY": str(body_file)}, capture_output=True, text=True,
                          timeout=seconds + 60)
    return parse_wrk(done.stdout)


def parse_wrk(text: str) -> dict:
    """Requests/s, non-2xx responses and the latency percentiles of wrk's ``--latency`` report."""
    unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    latency, rps, errors = {}, None, 0
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("50%", "90%", "99%"):
            number = parts[1].rstrip("usm")
            latency[f"p{parts[0][:-1]}"] = round(float(number) * unit[parts[1][len(number):]], 2)
        elif line.startswith("Requests/sec:"):
            rps = float(parts[1])
        elif "Non-2xx or 3xx responses" in line:
            errors = int(parts[-1])
    return {"throughput_rps": rps, "latency_ms": latency, "errors": errors}


def run_load(url, body_file, connections, seconds, warmup=2.0):
    """The closed-loop load generator's figures (:func:`loadgen.run_closed`, a process of its own)."""
    return loadgen.run_closed(url, body_file, connections, seconds, warmup)


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
            checked = run_wrk(predict_url, body_file, 8, seconds)
            if checked is not None:
                result["wrk"] = checked
                print(f"   {label} (wrk): {checked}", flush=True)
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

    X = test_rows(project, rows_1x)
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
    parser.add_argument("--project", type=Path, default=None,
                        help="serve this built project's champion (default: build a copy with the default settings)")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "benchmarks" / "serve.json")
    parser.add_argument("--skip-memory", action="store_true", help="skip the batch scoring memory runs")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="nbprod-bench-"))
    env = {key: value for key, value in os.environ.items() if key not in ("MLFLOW_TRACKING_URI", "NBPROD_TOKEN")}
    # mlflow models serve runs `uvicorn` from PATH: the virtual environment's bin folder first
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    try:
        project = champion_project(args.project, folder)
        settings, uri, description = champion(project)
        env["MLFLOW_TRACKING_URI"] = uri
        records = request_rows(project, 100)
        ours = {"single_row": (folder / "one.json", 1), "rows_100": (folder / "hundred.json", 100)}
        theirs = {"single_row": (folder / "mlflow-one.json", 1), "rows_100": (folder / "mlflow-hundred.json", 100)}
        ours["single_row"][0].write_text(json.dumps(records[0]))
        ours["rows_100"][0].write_text(json.dumps(records))
        theirs["single_row"][0].write_text(json.dumps({"dataframe_records": records[:1]}))
        theirs["rows_100"][0].write_text(json.dumps({"dataframe_records": records}))

        results: dict = {
            "what": "single-row and 100-row POSTs, 8 concurrent keep-alive connections, closed loop, "
                    f"{args.seconds:g} s measured after 2 s warm-up, load generator in a separate process on loopback",
            "model": f"{description}; served from models:/NAME@ALIAS by both servers",
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
            [str(mlflow_bin), "models", "serve", "-m", f"models:/{settings['registry']['model_name']}@"
                             f"{settings['registry']['alias']}", "--env-manager", "local",
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
    sys.exit(main())
