"""Robustness benchmark of ``nbprod serve`` (the guards): overload, soak, slow clients.

    .venv/bin/python benchmarks/bench_robustness.py [--overload-seconds 60] [--soak-seconds 600]
                                                    [--half-open 3000] [--out reports/benchmarks/robustness.json]

Serves the champion of the default build, as the serve benchmark does (``benchmarks/champion.py``:
``build_champion``, or ``--project DIR``) with ``nbprod serve`` and its defaults (validation, prediction
log, guards), then, with the benchmarks' load generator (``benchmarks/loadgen.py``, another process):

1. capacity: its closed loop, as the serve benchmark's, 8 keep-alive connections, single-row
   requests, ``--capacity-seconds`` (10) -> requests/s;
2. open-loop capacity (before the overload, on a server that has seen only the closed loop): wrk's open
   loop (below) at rising rates, from half the closed-loop capacity in steps of a twentieth of it,
   ``--capacity-seconds`` each, up to the first rate that has any 503 -> the highest rate answered in
   full: what the service sustains when single-row requests arrive spread over 1,024
   connections rather than from 8 clients (whose requests the micro-batcher gathers as they come back
   together); the soak's yardstick (key ``open_loop_capacity``, with every step);
3. overload: its open loop (requests started on a fixed schedule whatever the answers, on as many
   keep-alive connections as it takes, up to 1,000) offering 2x that capacity for
   ``--overload-seconds`` -> share of 503s, p99 of the answered others (from their scheduled start:
   waiting for a connection counts), server RSS before/after;
4. soak: 70% of the open-loop capacity for ``--soak-seconds`` -> errors, RSS growth, from wrk's open loop
   (``benchmarks/open_loop.lua``: the same fixed schedule over 1,024 connections, twice the in-flight bound)
   when Debian's ``wrk`` is installed; then the Python open loop at that rate for ``--soak-check-seconds``,
   side by side (key ``soak_python_generator``). On two cores shared with the service, the Python loop
   falls behind and sends the overdue requests at once, hundreds of them; wrk, in C, keeps the schedule
   (its send lag is reported);
5. slow clients: ``--half-open`` connections that send part of a request's headers and stop,
   then ``GET /health`` 50 times: latencies, and whether the service closed them after
   ``serve.header_timeout_seconds``.

``--quick`` runs every phase briefly (a 10 s soak; its figures say QUICK RUN): a check that the script
works. Figures go under the keys ``overload``, ``soak``, ``soak_python_generator`` and ``slow_clients`` of ``--out`` (read, updated,
written back: other benchmarks own the other keys). The machine is shared: the load average
before each phase is recorded next to its figures.
"""

from __future__ import annotations

import argparse
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

import champion  # noqa: E402 - the champion, its rows, the server process (shared by the serving benchmarks)
import loadgen  # noqa: E402 - the closed and open loops (shared with bench_serve.py)

REPO = champion.REPO
#: ``--quick``: a short run of every phase (a check that the script works, not figures to keep).
QUICK = {"overload_seconds": 5.0, "soak_seconds": 10.0, "soak_check_seconds": 5.0, "half_open": 200,
         "capacity_seconds": 3.0}


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
    load = champion.load_average()
    before = rss_mb(pid)
    result = loadgen.run_open(base + "/predict", body_file, rate, seconds)
    result.update(rss_mb_before=before, rss_mb_after=rss_mb(pid), load_average_before=load)
    result["rss_growth_share"] = round((result["rss_mb_after"] - before) / before, 4)
    print(f"   {rate:.0f} req/s offered for {seconds:g} s: {result['statuses']}, 200s p99 "
          f"{result['latency_200_ms']['p99']} ms, RSS {before} -> {result['rss_mb_after']} MB (load {load})",
          flush=True)
    return result


def open_loop_generators() -> dict:
    """The soak's open loops by name: wrk's (when installed) and the Python one."""
    found = {"python": loadgen.run_open}
    if shutil.which("wrk"):
        found["wrk"] = loadgen.run_open_wrk
    return found


def open_loop_capacity(run, base: str, body_file: Path, closed_rate: float, seconds: float) -> dict:
    """The highest open-loop rate answered without a 503, from half ``closed_rate`` up in steps of 5% of it."""
    steps, best = [], None
    for share in [0.5 + 0.05 * step for step in range(11)]:
        result = run(base + "/predict", body_file, share * closed_rate, seconds)
        steps.append({"offered_rps": result["offered_rps"], "statuses": result["statuses"]})
        print(f"   {result['offered_rps']} req/s offered: {result['statuses']}", flush=True)
        if set(result["statuses"]) - {"200"}:
            break
        best = result["offered_rps"]
    if best is None:
        raise RuntimeError(f"the service shed at half its closed-loop capacity: {steps[0]}")
    return {"open_loop_capacity_rps": best, "closed_loop_capacity_rps": closed_rate, "seconds_per_step": seconds,
            "steps": steps, "what": "the highest open-loop rate answered without a 503 or error: the soak's "
                                    "yardstick"}


def soak_phase(base, pid, body_file, rate, seconds, sample_every=30.0, generator: str = "python") -> dict:
    """The open loop ``generator`` at ``rate`` in slices of ``sample_every`` seconds, RSS sampled between slices."""
    run = open_loop_generators()[generator]
    load = champion.load_average()
    start_rss = rss_mb(pid)
    samples, slices = [start_rss], []
    remaining = seconds
    while remaining > 0:
        length = min(sample_every, remaining)
        slices.append(run(base + "/predict", body_file, rate, length, warmup=0.0))
        samples.append(rss_mb(pid))
        remaining -= length
    result = {"generator": slices[0].get("generator", "python (loadgen.py)"), "offered_rps": round(rate, 1),
              "seconds": seconds, **slice_figures(slices), "rss_mb_start": start_rss, "rss_mb_end": samples[-1],
              "rss_mb_samples": samples, "rss_growth_share": round((samples[-1] - start_rss) / start_rss, 4),
              "load_average_before": load}
    print(f"   soak ({generator}): {result['statuses']}, RSS {start_rss} -> {samples[-1]} MB", flush=True)
    return result


def slice_figures(slices: list[dict]) -> dict:
    """Statuses summed over the soak's slices; the worst and median slice p99 (from the send for wrk, from
    the scheduled start for the Python loop) and, for wrk, the worst slice's p99 send lag."""
    statuses: dict[str, int] = {}
    for part in slices:
        for key, count in part["statuses"].items():
            statuses[key] = statuses.get(key, 0) + count
    p99s = [(part.get("latency_200_ms") or part.get("latency_from_send_ms"))["p99"] for part in slices]
    p99s = [value for value in p99s if value is not None]
    figures = {"requests": sum(statuses.values()), "statuses": statuses,
               "errors": sum(count for key, count in statuses.items() if key != "200"),
               "p99_ms_per_slice_max": max(p99s) if p99s else None,
               "p99_ms_per_slice_median": statistics.median(p99s) if p99s else None}
    if all("send_lag_ms" in part for part in slices):
        figures["send_lag_p99_ms_per_slice_max"] = max(part["send_lag_ms"]["p99"] for part in slices)
    return figures


def slow_clients_phase(port: int, count: int, header_timeout: float) -> dict:
    """``count`` connections stuck in their headers; /health latencies meanwhile; closed after the timeout?"""
    load = champion.load_average()
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
    parser.add_argument("--soak-seconds", type=float, default=600.0, help="the soak's length (shorter: a short soak)")
    parser.add_argument("--soak-check-seconds", type=float, default=120.0,
                        help="after a soak with wrk, the same load from the Python open loop for this long (0: not)")
    parser.add_argument("--half-open", type=int, default=3000)
    parser.add_argument("--capacity-seconds", type=float, default=10.0, help="the closed-loop capacity run")
    parser.add_argument("--quick", action="store_true",
                        help=f"a short run of every phase ({QUICK}); its figures are marked quick")
    parser.add_argument("--out", type=Path, default=None,
                        help="default: reports/benchmarks/robustness.json; with --quick, a file in the temporary "
                             "folder (quick figures never replace the kept ones unless asked)")
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)
    if args.out is None:
        args.out = (Path(tempfile.gettempdir()) / "nbprod-robustness-quick.json" if args.quick
                    else REPO / "reports" / "benchmarks" / "robustness.json")

    folder = Path(tempfile.mkdtemp(prefix="nbprod-robust-"))
    env = {key: value for key, value in os.environ.items() if key not in ("MLFLOW_TRACKING_URI", "NBPROD_TOKEN")}
    process = None
    try:
        project = champion.champion_project(args.project, folder)
        settings, uri, description = champion.champion(project)
        env["MLFLOW_TRACKING_URI"] = uri
        body_file = folder / "one.json"
        body_file.write_text(json.dumps(champion.request_rows(project, 1)[0]))
        port = champion.free_port()
        base = f"http://127.0.0.1:{port}"
        with open(folder / "server.log", "w") as output:
            process = subprocess.Popen([sys.executable, "-m", "nbprod.serving", "serve", "--project", str(project),
                                        "--port", str(port), "--log-level", "warning"], env=env, stdout=output,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        champion.wait_http(base + "/ready", process)
        serve = settings["serve"]
        context = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                               "platform": platform.platform()},
                   "note": "measured on a machine shared with other work (see load_average_before): latencies "
                           "and capacity are inflated, the shares and RSS growth less so"
                           + ("; QUICK RUN (--quick): a check that the script works, not figures" if args.quick
                              else ""),
                   "model": f"{description}; single-row requests",
                   "guards": {key: serve[key] for key in ("max_in_flight", "max_in_flight_mb", "max_queue_rows", "request_timeout_seconds",
                                                          "header_timeout_seconds", "max_connections")}}
        print(f"== capacity (closed loop, 8 connections, {args.capacity_seconds:g} s)", flush=True)
        capacity = loadgen.run_closed(base + "/predict", body_file, 8, args.capacity_seconds)
        rate = capacity["throughput_rps"]
        print(f"   {rate} req/s, p99 {capacity['latency_ms']['p99']} ms", flush=True)
        generators = open_loop_generators()
        generator = "wrk" if "wrk" in generators else "python"
        print(f"== open-loop capacity: {generator}, rising rates, {args.capacity_seconds:g} s each", flush=True)
        figures = {"open_loop_capacity": open_loop_capacity(generators[generator], base, body_file, rate,
                                                            args.capacity_seconds)}
        open_rate = figures["open_loop_capacity"]["open_loop_capacity_rps"]
        figures["open_loop_capacity"].update(context)
        print("== overload: 2x capacity, open loop", flush=True)
        overload = open_loop_phase(base, process.pid, body_file, 2 * rate, args.overload_seconds)
        overload.update(context, capacity_rps=rate, capacity_p99_ms=capacity["latency_ms"]["p99"],
                        what=f"open loop at 2x the closed-loop capacity for {args.overload_seconds:g} s")
        overload["server_overloaded_total"] = server_metric(base, 'nbprod_errors_total{kind="overloaded"}')
        figures["overload"] = overload
        write_figures(args.out, figures)
        soak_rate = 0.7 * open_rate
        print(f"== soak: 70% of the open-loop capacity for {args.soak_seconds:g} s ({generator})", flush=True)
        figures["soak"] = soak_phase(base, process.pid, body_file, soak_rate, args.soak_seconds,
                                     min(30.0, args.soak_seconds), generator)
        figures["soak"].update(context, capacity_rps=rate, open_loop_capacity_rps=open_rate,
                               what=f"open loop at 70% of the open-loop capacity for {args.soak_seconds:g} s"
                                    + (" (shortened from the 10 minutes asked)" if args.soak_seconds < 600 else ""))
        write_figures(args.out, figures)
        if generator == "wrk" and args.soak_check_seconds > 0:
            print(f"== soak, the Python open loop side by side: {args.soak_check_seconds:g} s", flush=True)
            figures["soak_python_generator"] = soak_phase(base, process.pid, body_file, soak_rate,
                                                          args.soak_check_seconds,
                                                          min(30.0, args.soak_check_seconds), "python")
            figures["soak_python_generator"].update(
                context, capacity_rps=rate, open_loop_capacity_rps=open_rate, what="the soak's load from the Python open loop (loadgen.py), "
                "which sends the requests it fell behind on at once, on up to 1,000 connections")
            write_figures(args.out, figures)
        print(f"== slow clients: {args.half_open} half-open connections", flush=True)
        figures["slow_clients"] = slow_clients_phase(port, args.half_open, float(serve["header_timeout_seconds"]))
        figures["slow_clients"].update(context)
        write_figures(args.out, figures)
        print(f"written {args.out}")
    finally:
        if process is not None:
            champion.stop(process)
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
