"""The benchmarks' HTTP load generator: closed loop and open loop, in a process of its own.

    .venv/bin/python benchmarks/loadgen.py closed URL BODY_FILE [--connections 8] [--seconds 10] [--warmup 2]
    .venv/bin/python benchmarks/loadgen.py open URL BODY_FILE --rate 500 --seconds 60 [--warmup 2]

Both POST the same JSON body over raw HTTP/1.1 keep-alive connections (asyncio, uvloop when installed)
and print one JSON line of figures:

- closed loop (``bench_serve.py``, the capacity phase of ``bench_robustness.py``): ``--connections``
  clients, each sending its next request when the previous is answered -> requests/s and latency
  percentiles of the requests started after the warm-up;
- open loop (the overload and soak phases of ``bench_robustness.py``): requests started on a fixed
  schedule (``--rate`` per second) whatever the answers, on as many keep-alive connections as it takes, up to
  :data:`MAX_CONNECTIONS` -> answers by status, share of 503s, latency of the 200s from their scheduled
  start (waiting for a connection counts).

The benchmarks call :func:`run_closed` and :func:`run_open`, which start this file as a subprocess: the load
generator never shares a Python process (and its GIL) with the benchmark or the server.

:func:`run_open_wrk` is the open loop in wrk (C, ``open_loop.lua``) over a fixed set of connections, for
the soak: at 70% of capacity on two shared cores, the Python open loop falls behind its schedule and sends
the overdue requests in bursts (hundreds at once), which the service's in-flight bound answers with 503.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

#: Connections the open loop opens at most; a request due when all are busy is counted as ``not_sent``.
MAX_CONNECTIONS = 1000


def request_bytes(url: str, body: bytes) -> bytes:
    """A keep-alive ``POST`` of ``body`` (JSON) to ``url``, as bytes on the wire."""
    parts = urlsplit(url)
    head = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.hostname}:{parts.port}",
            "Content-Type: application/json", f"Content-Length: {len(body)}", "Connection: keep-alive"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """``(status, lower-cased head)`` of one response; its body is read and dropped."""
    head = await reader.readuntil(b"\r\n\r\n")
    lower = head.lower()
    at = lower.find(b"content-length:")
    if at < 0:
        raise RuntimeError(f"response without Content-Length: {head[:200]!r}")
    await reader.readexactly(int(lower[at + 15: lower.find(b"\r\n", at)]))
    return int(head[9:12]), lower


def percentile_ms(values: list[float], q: float, digits: int = 2) -> float | None:
    """The ``q`` quantile of sorted ``values`` (seconds), in milliseconds; None when there are none."""
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, digits) if values else None


# -- closed loop ----------------------------------------------------------------------------------------

async def _client(host, port, request, warm, stop, latencies, counts):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            began = time.perf_counter()
            if began >= stop:
                return
            writer.write(request)
            status, head = await read_response(reader)
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


async def closed_loop(url: str, body: bytes, connections: int, seconds: float, warmup: float) -> dict:
    """``connections`` clients for ``warmup`` + ``seconds``; the figures of the last ``seconds``."""
    parts = urlsplit(url)
    request = request_bytes(url, body)
    latencies, counts = [], {"ok": 0, "errors": 0, "broken": 0}
    warm = time.perf_counter() + warmup
    stop = warm + seconds
    await asyncio.gather(*(_client(parts.hostname, parts.port, request, warm, stop, latencies, counts)
                           for _ in range(connections)))
    window = time.perf_counter() - warm
    latencies.sort()
    return {"connections": connections, "seconds": round(window, 2), "requests": len(latencies),
            "errors": counts["errors"] + counts["broken"],
            "throughput_rps": round(counts["ok"] / window, 1),
            "latency_ms": {"p50": percentile_ms(latencies, 0.5), "p90": percentile_ms(latencies, 0.9),
                           "p99": percentile_ms(latencies, 0.99), "max": percentile_ms(latencies, 1.0)}}


# -- open loop ------------------------------------------------------------------------------------------

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
        status, head = await read_response(reader)
        record.append((status, time.perf_counter() - scheduled))
        if b"connection: close" in head:
            writer.close()
            state["open"] -= 1
        else:
            idle.append((reader, writer))
    except (OSError, asyncio.IncompleteReadError, ValueError, RuntimeError):
        record.append((-1, time.perf_counter() - scheduled))
        writer.close()
        state["open"] -= 1


async def open_loop(url: str, body: bytes, rate: float, seconds: float, warmup: float) -> dict:
    """Requests started ``rate`` times a second for ``warmup`` + ``seconds``; the figures of the last ``seconds``."""
    parts = urlsplit(url)
    request = request_bytes(url, body)
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
    return open_summary(record, rate, seconds, state["open"])


def open_summary(record: list[tuple[int, float]], rate: float, seconds: float, connections: int) -> dict:
    """The open loop's figures from its ``(status, latency)`` records (-1: broken, -2: not sent)."""
    statuses: dict[str, int] = {}
    for status, _ in record:
        key = {-1: "broken", -2: "not_sent"}.get(status, str(status))
        statuses[key] = statuses.get(key, 0) + 1
    answered = sorted(latency for status, latency in record if status == 200)
    total = len(record)
    return {"offered_rps": round(rate, 1), "seconds": seconds, "requests": total,
            "sent_rps": round(total / seconds, 1), "statuses": statuses,
            "share_503": round(statuses.get("503", 0) / total, 4) if total else None,
            "answered_200_rps": round(len(answered) / seconds, 1),
            "latency_200_ms": {"p50": percentile_ms(answered, 0.5, 1), "p90": percentile_ms(answered, 0.9, 1),
                               "p99": percentile_ms(answered, 0.99, 1), "max": percentile_ms(answered, 1.0, 1)},
            "connections_opened": connections}


# -- the process and its callers ------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("loop", choices=["closed", "open"])
    parser.add_argument("url")
    parser.add_argument("body_file", type=Path)
    parser.add_argument("--connections", type=int, default=8, help="closed loop: concurrent clients")
    parser.add_argument("--rate", type=float, default=None, help="open loop: requests started per second")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    args = parser.parse_args(argv)
    if args.loop == "open" and not args.rate:
        parser.error("the open loop needs --rate")
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    body = args.body_file.read_bytes()
    if args.loop == "closed":
        figures = asyncio.run(closed_loop(args.url, body, args.connections, args.seconds, args.warmup))
    else:
        figures = asyncio.run(open_loop(args.url, body, args.rate, args.seconds, args.warmup))
    print(json.dumps(figures))
    return 0


def _run(arguments: list[str], timeout: float) -> dict:
    done = subprocess.run([sys.executable, __file__, *arguments], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr}")
    if done.stderr.strip():
        print(done.stderr.strip()[:2000], file=sys.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_closed(url: str, body_file: Path, connections: int, seconds: float, warmup: float = 2.0) -> dict:
    """The closed loop's figures (a subprocess)."""
    return _run(["closed", url, str(body_file), "--connections", str(connections), "--seconds", str(seconds),
                 "--warmup", str(warmup)], seconds + warmup + 120)


def run_open(url: str, body_file: Path, rate: float, seconds: float, warmup: float = 2.0) -> dict:
    """The open loop's figures (a subprocess)."""
    return _run(["open", url, str(body_file), "--rate", str(rate), "--seconds", str(seconds),
                 "--warmup", str(warmup)], seconds + warmup + 180)


# -- the open loop in wrk -------------------------------------------------------------------------------

#: wrk's open-loop script (a fixed schedule over wrk's fixed connections; see its header).
WRK_OPEN_LOOP = Path(__file__).resolve().parent / "open_loop.lua"
#: Connections of the wrk open loop: twice the service's default in-flight bound, so that the bound can
#: still shed load (a stall of the service queues up to this many requests), while a stall of the
#: generator cannot send more than this many at once.
WRK_CONNECTIONS = 1024


def wrk_open_figures(output: str, rate: float, seconds: float, connections: int) -> dict:
    """The figures of ``open_loop.lua``'s JSON line in wrk's ``output``, in :func:`open_summary`'s shape."""
    line = next((line for line in output.splitlines() if line.startswith('{"open_loop"')), None)
    if line is None:
        raise RuntimeError(f"wrk printed no open-loop figures:\n{output[-2000:]}")
    found = json.loads(line)
    statuses = dict(found["statuses"])
    broken = sum(found["socket_errors"].values())
    if broken:
        statuses["broken"] = broken
    total = sum(statuses.values())
    return {"generator": "wrk (open_loop.lua)", "offered_rps": round(rate, 1), "seconds": seconds,
            "requests": total, "sent_rps": round(found["sent"] / seconds, 1), "statuses": statuses,
            "share_503": round(statuses.get("503", 0) / total, 4) if total else None,
            "answered_200_rps": round(statuses.get("200", 0) / seconds, 1),
            "latency_from_send_ms": found["latency_from_send_ms"], "send_lag_ms": found["send_lag_ms"],
            "connections": connections}


def run_open_wrk(url: str, body_file: Path, rate: float, seconds: float, warmup: float = 2.0,
                 connections: int = WRK_CONNECTIONS) -> dict:
    """The open loop's figures from wrk (Debian's ``wrk``, one thread) with :data:`WRK_OPEN_LOOP`.

    wrk, in C, keeps a schedule that this file's Python loop, sharing the cores with the service, falls
    behind of and catches up on in bursts. Answers and send lag count after ``warmup``; wrk's latency
    (from the send, not from the slot: the send lag is the rest) covers the whole run.
    """
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (make benchmarks installs it: scripts/install-wrk.sh)")
    total = seconds + warmup
    done = subprocess.run([wrk, "-t1", f"-c{connections}", f"-d{total:g}s", "--timeout", "30s", "-s",
                           str(WRK_OPEN_LOOP), url], capture_output=True, text=True, timeout=total + 120,
                          env={**os.environ, "NBPROD_BODY": str(body_file), "NBPROD_RATE": str(rate),
                               "NBPROD_WARMUP": str(warmup), "NBPROD_SECONDS": str(seconds)})
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr[-2000:]}")
    return wrk_open_figures(done.stdout, rate, seconds, connections)


if __name__ == "__main__":
    sys.exit(main())
