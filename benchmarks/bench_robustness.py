"""Robustness benchmark of ``nbprod serve`` (the guards): overload, soak, slow clients.

    .venv/bin/python benchmarks/bench_robustness.py [--overload-seconds 60] [--soak-seconds 600]
                                                    [--half-open 3000] [--out reports/benchmarks/robustness.json]

Serves the champion of the default build, as the serve benchmark does (``bench_serve.build_champion``,
or ``--project DIR``) with ``nbprod serve`` and its defaults (validation, prediction log, guards), then:

1. capacity: the serve benchmark's closed-loop load generator, 8 keep-alive connections, single-row
   requests, 10 s -> requests/s;
2. overload: an open-loop load generator (this script in another process: requests started on a
   fixed schedule whatever the answers, on as many keep-alive connections as it takes, up to 1,000)
   offering 2x that capacity for ``--overload-seconds`` -> share of 503s, p99 of the answered
   others (from their scheduled start: waiting for a connection counts), server RSS before/after;
3. soak: the same generator at 70% of capacity for ``--soak-seconds`` -> errors, RSS growth;
4. slow clients: ``--half-open`` connections that send part of a request's headers and stop,
   then ``GET /health`` 50 times: latencies, and whether the service closed them after
   ``serve.header_timeout_seconds``.

Figures go under the keys ``overload``, ``soak`` and ``slow_clients`` of ``--out`` (read, updated,
written back: other benchmarks own the other keys). The machine is shared: the load average
before each phase is recorded next to its figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_serve  # noqa: E402 - the serve benchmark's project and closed-loop load generator

REPO = bench_serve.REPO
MAX_CONNECTIONS = 1000


# -- open-loop load generator (runs in its own process) -----------------------------------------------


async def _one(host, port, request, scheduled, idle, state, record):
    """One request on an idle keep-alive connection (or a new one); records (status, seconds since scheduled)."""
    while idle and idle[-1][0].at_eof():  # closed by the service while idle (keep-alive timeout): not reused
        idle.pop()[1].close()
        state["open"] -= 1
    if idle:
        reader, writer = idle.pop()
    elif state["open"] < MAX_CONNECTIONS:
        state["open"] += 1
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            state["open"] -= 1
            record.append((-1, time.perf_counter() - scheduled))
            return
    else:
        record.append((-2, 0.0))  # the generator ran out of connections: counted, not sent
        return
    try:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        lower = head.lower()
        at = lower.find(b"content-length:")
        await reader.readexactly(int(lower[at + 15: lower.find(b"\r\n", at)]))
        record.append((int(head[9:12]), time.perf_counter() - scheduled))
        if b"connection: close" in lower:
            writer.close()
            state["open"] -= 1
        else:
            idle.append((reader, writer))
    except (OSError, asyncio.IncompleteReadError, ValueError):
        record.append((-1, time.perf_counter() - scheduled))
        writer.close()
        state["open"] -= 1


async def _open_loop(url, body, rate, seconds, warmup):
    parts = urlsplit(url)
    head = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.hostname}:{parts.port}",
            "Content-Type: application/json", f"Content-Length: {len(body)}", "Connection: keep-alive"]
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + body
    idle, state, warm_record, record, tasks = [], {"open": 0}, [], [], set()
    start = time.perf_counter()
    measured_from, end = start + warmup, start + warmup + seconds
    sent = 0
    while True:
        now = time.perf_counter()
        due = start + sent / rate
        if due >= end:
            break
        if due > now:
            await asyncio.sleep(due - now)
            continue
        while due <= now and due < end:
            task = asyncio.ensure_future(_one(parts.hostname, parts.port, request, due, idle, state,
                                              record if due >= measured_from else warm_record))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sent += 1
            due = start + sent / rate
    if tasks:
        await asyncio.wait(tasks, timeout=60)
    return _summary(record, rate, seconds, state)


def _summary(record, rate, seconds, state):
    statuses: dict[str, int] = {}
    for status, _ in record:
        key = {-1: "broken", -2: "not_sent"}.get(status, str(status))
        statuses[key] = statuses.get(key, 0) + 1
    answered = sorted(latency for status, latency in record if status == 200)
    total = len(record)

    def percentile(values, q):
        return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1) if values else None

    return {"offered_rps": round(rate, 1), "seconds": seconds, "requests": total,
            "sent_rps": round(total / seconds, 1), "statuses": statuses,
            "share_503": round(statuses.get("503", 0) / total, 4) if total else None,
            "answered_200_rps": round(len(answered) / seconds, 1),
            "latency_200_ms": {"p50": percentile(answered, 0.5), "p90": percentile(answered, 0.9),
                               "p99": percentile(answered, 0.99), "max": percentile(answered, 1.0)},
            "connections_opened": state["open"]}


def openloop_main(argv):
    parser = argparse.ArgumentParser(prog="bench_robustness.py openloop")
    parser.add_argument("url")
    parser.add_argument("body_file")
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--warmup", type=float, default=2)
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    body = Path(args.body_file).read_bytes()
    print(json.dumps(asyncio.run(_open_loop(args.url, body, args.rate, args.seconds, args.warmup))))


def run_open_loop(url, body_file, rate, seconds, warmup=2.0):
    done = subprocess.run([sys.executable, __file__, "openloop", url, str(body_file), "--rate", str(rate),
                           "--seconds", str(seconds), "--warmup", str(warmup)],
                          capture_output=True, text=True, timeout=seconds + warmup + 180)
    if done.returncode != 0:
        raise RuntimeError(f"open-loop load generator failed: {done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- phases ---------------------------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    """Resident memory of the server process, MB."""
    import psutil

    return round(psutil.Process(pid).memory_info().rss / 2**20, 1)


def server_metric(base: str, name: str) -> float:
    with urllib.request.urlopen(base + "/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def open_loop_phase(base, pid, body_file, rate, seconds) -> dict:
    load = bench_serve.load_average()
    before = rss_mb(pid)
    result = run_open_loop(base + "/predict", body_file, rate, seconds)
    result.update(rss_mb_before=before, rss_mb_after=rss_mb(pid), load_average_before=load)
    result["rss_growth_share"] = round((result["rss_mb_after"] - before) / before, 4)
    print(f"   {rate:.0f} req/s offered for {seconds:g} s: {result['statuses']}, 200s p99 "
          f"{result['latency_200_ms']['p99']} ms, RSS {before} -> {result['rss_mb_after']} MB (load {load})",
          flush=True)
    return result


def soak_phase(base, pid, body_file, rate, seconds, sample_every=30.0) -> dict:
    """The open loop at ``rate`` in slices of ``sample_every`` seconds, RSS sampled between slices."""
    load = bench_serve.load_average()
    start_rss = rss_mb(pid)
    samples, slices = [start_rss], []
    remaining = seconds
    while remaining > 0:
        length = min(sample_every, remaining)
        slices.append(run_open_loop(base + "/predict", body_file, rate, length, warmup=0.0))
        samples.append(rss_mb(pid))
        remaining -= length
    statuses: dict[str, int] = {}
    for part in slices:
        for key, count in part["statuses"].items():
            statuses[key] = statuses.get(key, 0) + count
    p99s = [part["latency_200_ms"]["p99"] for part in slices if part["latency_200_ms"]["p99"] is not None]
    result = {"offered_rps": round(rate, 1), "seconds": seconds, "requests": sum(statuses.values()),
              "statuses": statuses, "errors": sum(count for key, count in statuses.items() if key != "200"),
              "p99_ms_per_slice_max": max(p99s) if p99s else None,
              "p99_ms_per_slice_median": statistics.median(p99s) if p99s else None,
              "rss_mb_start": start_rss, "rss_mb_end": samples[-1], "rss_mb_samples": samples,
              "rss_growth_share": round((samples[-1] - start_rss) / start_rss, 4), "load_average_before": load}
    print(f"   soak: {statuses}, RSS {start_rss} -> {samples[-1]} MB", flush=True)
    return result


def slow_clients_phase(port: int, count: int, header_timeout: float) -> dict:
    """``count`` connections stuck in their headers; /health latencies meanwhile; closed after the timeout?"""
    load = bench_serve.load_average()
    sockets = []
    started = time.perf_counter()
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode())
        sockets.append(sock)
    opened = time.perf_counter() - started
    latencies = []
    for _ in range(50):
        began = time.perf_counter()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            response.read()
        latencies.append((time.perf_counter() - began) * 1000)
    latencies.sort()
    time.sleep(max(0.0, header_timeout - (time.perf_counter() - started)) + 2.0)
    closed = 0
    for sock in sockets:
        sock.settimeout(0.5)
        try:
            closed += sock.recv(100) == b""
        except (socket.timeout, OSError):
            pass
        sock.close()
    result = {"half_open_connections": count, "seconds_to_open_them": round(opened, 2),
              "health_ms": {"p50": round(latencies[len(latencies) // 2], 1),
                            "p99": round(latencies[int(0.99 * len(latencies))], 1), "max": round(latencies[-1], 1)},
              "health_under_100_ms_share": round(sum(value < 100 for value in latencies) / len(latencies), 3),
              "closed_by_the_service_after_header_timeout": closed, "header_timeout_seconds": header_timeout,
              "load_average_before": load}
    print(f"   slow clients: {result}", flush=True)
    return result


def write_figures(path: Path, figures: dict) -> None:
    """Read ``path`` (other benchmarks' keys), update our keys, write it back."""
    current = json.loads(path.read_text()) if path.exists() else {}
    current.update(figures)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(current, indent=2) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=None,
                        help="serve this built project's champion (default: build a copy, as the serve benchmark)")
    parser.add_argument("--overload-seconds", type=float, default=60.0)
    parser.add_argument("--soak-seconds", type=float, default=600.0)
    parser.add_argument("--half-open", type=int, default=3000)
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "benchmarks" / "robustness.json")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="nbprod-robust-"))
    env = {key: value for key, value in os.environ.items() if key not in ("MLFLOW_TRACKING_URI", "NBPROD_TOKEN")}
    process = None
    try:
        project = args.project.resolve() if args.project else bench_serve.build_champion(folder / "project")
        settings, uri, description = bench_serve.champion(project)
        env["MLFLOW_TRACKING_URI"] = uri
        body_file = folder / "one.json"
        body_file.write_text(json.dumps(bench_serve.request_rows(project, 1)[0]))
        port = bench_serve.free_port()
        base = f"http://127.0.0.1:{port}"
        with open(folder / "server.log", "w") as output:
            process = subprocess.Popen([sys.executable, "-m", "nbprod.serving", "serve", "--project", str(project),
                                        "--port", str(port), "--log-level", "warning"], env=env, stdout=output,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        bench_serve.wait_http(base + "/ready", process)
        serve = settings["serve"]
        context = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                               "platform": platform.platform()},
                   "note": "measured on a machine shared with other work (see load_average_before): latencies "
                           "and capacity are inflated, the shares and RSS growth less so",
                   "model": f"{description}; single-row requests",
                   "guards": {key: serve[key] for key in ("max_in_flight", "max_queue_rows", "request_timeout_seconds",
                                                          "header_timeout_seconds", "max_connections")}}
        print("== capacity (closed loop, 8 connections, 10 s)", flush=True)
        capacity = bench_serve.run_load(base + "/predict", body_file, 8, 10.0)
        rate = capacity["throughput_rps"]
        print(f"   {rate} req/s, p99 {capacity['latency_ms']['p99']} ms", flush=True)
        print("== overload: 2x capacity, open loop", flush=True)
        overload = open_loop_phase(base, process.pid, body_file, 2 * rate, args.overload_seconds)
        overload.update(context, capacity_rps=rate, capacity_p99_ms=capacity["latency_ms"]["p99"],
                        what=f"open loop at 2x the closed-loop capacity for {args.overload_seconds:g} s")
        overload["server_overloaded_total"] = server_metric(base, 'nbprod_errors_total{kind="overloaded"}')
        figures = {"overload": overload}
        write_figures(args.out, figures)
        print(f"== soak: 70% of capacity for {args.soak_seconds:g} s", flush=True)
        figures["soak"] = soak_phase(base, process.pid, body_file, 0.7 * rate, args.soak_seconds)
        figures["soak"].update(context, capacity_rps=rate,
                               what=f"open loop at 70% of the closed-loop capacity for {args.soak_seconds:g} s"
                                    + (" (shortened from the 10 minutes asked)" if args.soak_seconds < 600 else ""))
        write_figures(args.out, figures)
        print(f"== slow clients: {args.half_open} half-open connections", flush=True)
        figures["slow_clients"] = slow_clients_phase(port, args.half_open, float(serve["header_timeout_seconds"]))
        figures["slow_clients"].update(context)
        write_figures(args.out, figures)
        print(f"written {args.out}")
    finally:
        if process is not None:
            bench_serve.stop(process)
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "openloop":
        openloop_main(sys.argv[2:])
    else:
        sys.exit(main())
