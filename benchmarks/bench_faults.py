"""Faults benchmark: rows lost by the prediction log on kill -9, on SIGTERM and on a full disk, under load.

    .venv/bin/python benchmarks/bench_faults.py [--seconds 3] [--clients 4] [--project DIR]
                                               [--out reports/benchmarks/robustness.json]

The model is the champion every serving benchmark serves (``benchmarks/champion.py``: a copy of the
project built with its default settings and data, or ``--project DIR``), served by real ``nbprod serve``
processes on loopback (the serving tests' ``Server``, ``tests/serving/conftest.py``). Each scenario runs ``--clients`` keep-alive clients posting 5-row requests for ``--seconds``
(the load generator of ``tests/serving/fault_load.py``), then applies its fault, and counts
the *lost* rows: rows of requests answered 200 that the prediction log lacks.

- ``kill9_defaults``: the env.yaml log settings (flush every 5,000 rows or 2 s, at most
  ``serve.log_max_rows`` = 50,000 rows held); SIGKILL under load.
- ``kill9_small_bound``: the bound lowered to 1,000 rows and the time trigger out of reach
  (flush every 30 s): batches are written at half the bound; SIGKILL. The loss stays under the bound.
- ``sigterm``: the env.yaml settings; SIGTERM under load (graceful shutdown flushes). Target 0.
- ``disk_full_refuse`` / ``disk_full_serve``: the log's folder on a 32 MiB tmpfs filled up
  (root only; otherwise ENOSPC injected at the log's write call, recorded as ``disk``), bound
  500 rows; ``serve.log_policy`` refuse (503 ``log_full``; target 0 lost) or serve (answered,
  counted as unlogged in ``/metrics``); then the disk is freed and the server stopped with SIGTERM.

Writes its figures under the top-level key ``faults`` of ``--out`` (read-modify-write: other
benchmarks write other keys of the same file). The machine is shared (load average recorded):
throughput figures are inflated by other work; the lost-row counts are what matters.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests" / "serving"), str(REPO / "tests"), str(REPO / "src")]  # its conftest first

KEY = "faults"
#: The full disk's size: once the filler is deleted, room for the seconds of traffic that follow (1 MiB filled
#: up again with the log's own files within a second at 5,000 rows/s, and the held rows were then lost).
DISK_KB = 32 * 1024


def use_this_checkout() -> None:
    """The servers started (subprocesses) import this checkout's ``nbprod``, as this script does."""
    paths = [str(REPO / "src"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))


def served_project(given: Path | None, work: Path):
    """The champion every serving benchmark serves (``benchmarks/champion.py``: ``given``, a built project, or
    a fresh build of the default one under ``work``), as the serving tests' ``Project``."""
    import conftest
    from champion import champion_project

    from nbprod.project import Project

    path = champion_project(given, work)
    return conftest.Project(path, Project.load(path).settings, [])


def records(project, rows: int = 20) -> list[dict]:
    """``rows`` records of the champion's test split (``benchmarks/champion.py``)."""
    from champion import request_rows

    return request_rows(project.path, rows)


def metric(text: str, name: str) -> float | None:
    found = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


def run_load(server, project, seconds: float, clients: int, fault) -> tuple:
    """Load for ``seconds``, then ``fault(server, load)``; returns the load (stopped)."""
    from fault_load import Load

    load = Load(server.url, records(project), clients=clients)
    with load:
        time.sleep(seconds)
        fault(server, load)
    return load


def outcome(load, folder: Path, seconds: float, **extra) -> dict:
    from fault_load import lost_rows

    return {"answered_rows": load.acknowledged_rows, "lost_rows": lost_rows(load, folder),
            "statuses": {str(k): v for k, v in sorted(load.statuses.items())},
            "rows_per_second": round(load.acknowledged_rows / seconds, 1), **extra}


def kill(server, load) -> None:
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(30)


def terminate(server, load) -> None:
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(90)


def start(project, folder: Path, *settings: str, entry=("-m", "nbprod.serving")):
    import conftest

    server = conftest.Server(project, folder, args=[item for text in settings for item in ("--set", text)],
                             entry=entry)
    server.wait_ready(300)  # the champion loads in seconds; a loaded machine is slower
    return server


def kill9(project, work: Path, name: str, seconds: float, clients: int, *settings: str) -> dict:
    folder = work / name / "predictions"
    folder.parent.mkdir()
    server = start(project, folder, *settings)
    load = run_load(server, project, seconds, clients, kill)
    bound = next((int(text.split("=")[1]) for text in settings if text.startswith("serve.log_max_rows=")),
                 int(project.settings["serve"]["log_max_rows"]))
    return outcome(load, folder, seconds, bound_rows=bound, within_bound=None, settings=list(settings))


def sigterm(project, work: Path, seconds: float, clients: int) -> dict:
    folder = work / "sigterm" / "predictions"
    folder.parent.mkdir()
    server = start(project, folder)
    load = run_load(server, project, seconds, clients, terminate)
    return outcome(load, folder, seconds, target_lost_rows=0)


def disk_full(project, work: Path, policy: str, seconds: float, clients: int) -> dict:
    """The log on a full tmpfs of :data:`DISK_KB` (or ENOSPC injected), ``policy``; then room again and SIGTERM."""
    import urllib.request

    from fault_load import fill, small_disk

    base = work / f"disk-{policy}"
    disk, folder, flag = base / "disk", base / "predictions", base / "disk-full"
    with small_disk(disk, DISK_KB) as kind:
        (disk / "predictions").mkdir(parents=True)
        folder.symlink_to(disk / "predictions")
        if kind == "tmpfs":
            filler, entry = fill(disk), ("-m", "nbprod.serving")
        else:
            flag.write_text("full")
            filler, entry = flag, (str(REPO / "tests" / "serving" / "full_disk_server.py"), str(flag))
        server = start(project, folder, "serve.log_max_rows=500", f"serve.log_policy={policy}", entry=entry)
        seen = {}

        def free_then_stop(server, load) -> None:
            seen["metrics"] = urllib.request.urlopen(server.url + "/metrics", timeout=10).read().decode()
            seen["answered_while_full"] = load.acknowledged_rows
            filler.unlink()
            time.sleep(min(seconds, 3.0))  # room again: held rows written (retry back-off up to 2 s)
            terminate(server, load)

        load = run_load(server, project, seconds, clients, free_then_stop)
        text = seen["metrics"]
        return outcome(load, folder, seconds, disk=kind or "ENOSPC injected at the write call",
                       policy=policy, bound_rows=500, answered_rows_while_full=seen["answered_while_full"],
                       refused_rows_while_full=metric(text, "nbprod_prediction_log_refused_rows_total"),
                       unlogged_rows_while_full=metric(text, "nbprod_prediction_log_unlogged_rows_total"),
                       write_errors_while_full=metric(text, "nbprod_prediction_log_write_errors_total"),
                       target_lost_rows=0 if policy == "refuse" else "the unlogged rows")


def write(out: Path, figures: dict) -> None:
    """Read-modify-write of ``out``: only the key :data:`KEY` is replaced."""
    data = json.loads(out.read_text()) if out.exists() else {}
    data[KEY] = figures
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="load before each fault")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--project", type=Path, default=None,
                        help="serve this built project's champion (default: build a copy, as the serve benchmark)")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "benchmarks" / "robustness.json")
    args = parser.parse_args()
    use_this_checkout()
    with tempfile.TemporaryDirectory(prefix="nbprod-faults-") as temporary:
        work = Path(temporary)
        project = served_project(args.project, work)
        scenarios = {
            "kill9_defaults": kill9(project, work, "kill9-defaults", args.seconds, args.clients),
            "kill9_small_bound": kill9(project, work, "kill9-bound", args.seconds, args.clients,
                                         "serve.log_max_rows=1000", "serve.log_flush_rows=1000000",
                                         "serve.log_flush_seconds=30"),
            "sigterm": sigterm(project, work, args.seconds, args.clients),
            "disk_full_refuse": disk_full(project, work, "refuse", args.seconds, args.clients),
            "disk_full_serve": disk_full(project, work, "serve", args.seconds, args.clients),
        }
    for name in ("kill9_defaults", "kill9_small_bound"):
        scenario = scenarios[name]
        scenario["within_bound"] = scenario["lost_rows"] <= scenario["bound_rows"]
    figures = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average_1m": round(os.getloadavg()[0], 2)},
        "method": "4 keep-alive clients x 5-row requests for --seconds, then the fault; lost = rows answered 200 "
                  "absent from the prediction log. Shared machine: rates are inflated by other work.",
        "seconds": args.seconds, "clients": args.clients,
        "durability_bound": "kill -9 loses at most max(serve.log_max_rows, serve.max_rows) answered rows",
        "scenarios": scenarios,
    }
    write(args.out, figures)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
