"""Dashboard load-time benchmark: from the browser's request to the fully rendered page, in headless Chromium.

    python benchmarks/bench_dashboards.py [--project PATH] [--repeats 3] [--out reports/benchmarks/dashboards.json]

The project (default: the one at or above the working directory) must be built:
a build in its MLflow store, the registered model, and its products (and, for the
drift report, a drift history or the pipeline's drift check). Nothing is written
into it: Voila and the kernels only read.

The dashboards measured are this checkout's (``notebooks/dashboards`` next to this
script, ``--folder`` to change), run by this Python (so the ``nbprod`` package
under test is the one this interpreter imports). Voila is started as
``nbprod dashboard`` starts it (:func:`nbprod.dashboards.command.voila_command`),
on loopback (``served``: every request starts its kernel); ``--modes
served,preheated`` also tries Voila's preheated kernels (one kernel per
dashboard started ahead, waiting for a request; ``--pause`` seconds before each
request let the pool refill).

For each dashboard and way: one warm-up request, then the median (and all runs)
of ``--repeats`` requests. A request is timed from ``driver.get(url)`` until the
page has rendered: Voila's spinner gone, the cells shown, the headline and at
least the dashboard's usual number of figures there
(:func:`nbprod.dashboards.browser.rendered`). Chromium: ``--headless --no-sandbox
--disable-gpu --no-first-run --disable-background-networking
--disable-component-update --disable-sync``, offline.

Also recorded: the time to execute each notebook headless without Voila or a
browser (as the static snapshot does; one run).

Writes ``reports/benchmarks/dashboards.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Figures each dashboard shows at least when it has data (model: metrics, curves, confusion,
#: importance, versions; drift: drift over time, per-feature bars, distributions).
MIN_IMAGES = {"model_report": 5, "drift_report": 3}
RENDER_TIMEOUT = 90.0


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_http(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Voila exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise RuntimeError(f"Voila did not answer {url} within {timeout:.0f} s")


def environment(project: Path) -> dict[str, str]:
    """What ``nbprod dashboard`` gives Voila's kernels for ``project`` (its settings and MLflow store)."""
    from nbprod import settings as settings_module
    from nbprod.dashboards.snapshot import dashboard_env
    from nbprod.tracking import tracking_uri

    settings = settings_module.load(project, None, [])
    base = {key: value for key, value in os.environ.items()
            if key not in ("NBPROD_PROJECT", "NBPROD_ENV_FILE", "NBPROD_SET", "NBPROD_DASHBOARD_STATIC",
                           "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID")}
    return dashboard_env(project, None, [], tracking_uri(settings, project), base=base)


def time_pages(driver, base: str, names: list[str], repeats: int, pause: float) -> dict[str, dict]:
    """Warm-up plus ``repeats`` timed requests per dashboard: seconds until the page has rendered."""
    from selenium.webdriver.support.ui import WebDriverWait

    from nbprod.dashboards.browser import STATE_JS, open_page

    from selenium.common.exceptions import TimeoutException

    found = {}
    for name in names:
        runs, timeouts, stuck = [], 0, []
        while len(runs) < repeats + 1:
            time.sleep(pause)
            driver.get("about:blank")  # leave the previous page (its kernel is let go) before timing
            WebDriverWait(driver, 30).until(lambda d: d.execute_script(
                "return location.href === 'about:blank' && document.readyState === 'complete'"))
            started = time.perf_counter()
            try:
                state = open_page(driver, f"{base}/voila/render/{name}.ipynb", MIN_IMAGES[name], RENDER_TIMEOUT)
            except TimeoutException:
                timeouts += 1  # counted in the results (with what the page showed), then tried again
                stuck.append({"after_request": len(runs) + timeouts, "state": driver.execute_script(STATE_JS),
                              "text": driver.execute_script(
                                  "return document.body ? document.body.innerText.slice(0, 300) : null")})
                if timeouts > repeats:
                    raise
                continue
            runs.append(round(time.perf_counter() - started, 3))
        timed = runs[1:]  # the first request warms up
        found[name] = {"median_s": round(statistics.median(timed), 3), "runs_s": timed, "warm_up_s": runs[0],
                       "timeouts": timeouts, "timed_out_pages": stuck, "images": state["images"]}
    return found


def serve_and_time(folder: Path, env: dict[str, str], names: list[str], repeats: int, pause: float,
                   preheat: bool, profile: Path) -> dict[str, dict]:
    """Start Voila (preheated or not), time each dashboard in Chromium, stop Voila."""
    from nbprod.dashboards.browser import chrome
    from nbprod.dashboards.command import voila_command
    from nbprod.monitoring.replay import stop_server

    port = _free_port()
    command = voila_command(folder, port, no_browser=True)
    if preheat:
        command += ["--preheat_kernel=True", "--pool_size=1"]
    log = profile / f"voila-{'preheated' if preheat else 'served'}.log"
    with open(log, "w") as output:
        process = subprocess.Popen(command, env=env, cwd=folder, stdout=output, stderr=subprocess.STDOUT)
    driver = None
    try:
        _wait_http(f"http://127.0.0.1:{port}/", process, 90)
        driver = chrome(profile / ("chromium-preheated" if preheat else "chromium-served"))
        return time_pages(driver, f"http://127.0.0.1:{port}", names, repeats, pause)
    except Exception:
        print(f"Voila's log ({log}):\n{log.read_text()[-4000:]}", file=sys.stderr)
        raise
    finally:
        if driver is not None:
            driver.quit()
        stop_server(process, 15)


def execute_times(folder: Path, env: dict[str, str], names: list[str]) -> dict[str, float]:
    """Seconds to execute each notebook headless in a fresh kernel, as a static snapshot does."""
    from nbprod.dashboards.snapshot import execute

    found = {}
    for name in names:
        started = time.perf_counter()
        execute(folder / f"{name}.ipynb", {**env, "NBPROD_DASHBOARD_STATIC": "1"})
        found[name] = round(time.perf_counter() - started, 3)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=None,
                        help="a built project (default: the one at or above the working directory)")
    parser.add_argument("--folder", type=Path, default=REPO / "notebooks" / "dashboards",
                        help="the dashboard notebooks (default: this checkout's)")
    parser.add_argument("--repeats", type=int, default=3, help="timed requests per dashboard after one warm-up")
    parser.add_argument("--pause", type=float, default=12.0,
                        help="seconds before each request (lets Voila refill its preheated kernel)")
    parser.add_argument("--modes", default="served", help="comma-separated: served, preheated")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "benchmarks" / "dashboards.json")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    modes = args.modes.split(",")
    if not set(modes) <= {"served", "preheated"}:
        parser.error(f"--modes: expected served and/or preheated, got {args.modes!r}")

    from nbprod import settings as settings_module
    from nbprod.dashboards import DASHBOARDS

    project = (args.project or settings_module.find_project_root(Path.cwd())).resolve()
    folder = args.folder.resolve()
    names = list(DASHBOARDS)
    missing = [name for name in names if not (folder / f"{name}.ipynb").is_file()]
    if missing:
        parser.error(f"no dashboard notebook {missing} in {folder}")
    env = environment(project)
    results: dict = {
        "what": "wall time from the browser's request (driver.get) to the fully rendered Voila page "
                "(spinner gone, headline and figures shown), headless Chromium on loopback; median of "
                f"{args.repeats} after one warm-up request; 'served' = as `nbprod dashboard` serves (every "
                f"request starts its kernel), 'preheated' = Voila's preheated kernels ({args.pause:g} s between "
                "requests); 'execute_s' = the notebook executed headless without Voila (one run)",
        "project": {"name": project.name, "dashboards": os.path.relpath(folder, REPO) if folder.is_relative_to(REPO)
                    else folder.name},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None},
        "versions": {name: _version(name) for name in ("voila", "mlflow", "scikit-learn", "pandas", "matplotlib",
                                                      "selenium")},
    }
    with tempfile.TemporaryDirectory(prefix="nbprod-bench-dash-") as scratch:
        profile = Path(scratch)
        results["execute_s"] = execute_times(folder, env, names)
        print(json.dumps({"execute_s": results["execute_s"]}), flush=True)
        for key in modes:
            preheat = key == "preheated"
            results[key] = serve_and_time(folder, env, names, args.repeats, args.pause if preheat else 1.0,
                                          preheat, profile)
            print(json.dumps({key: results[key]}), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
