"""The benchmarks' model and server helpers: the champion users get, its rows, a server process.

Every serving benchmark (``bench_serve.py``, ``bench_robustness.py``, ``bench_bad_input.py``,
``bench_faults.py``) serves the same model: the champion of a copy of this project built with its
default settings and data (:func:`build_champion`, as ``make run``), or of an already built project
(``--project DIR``, :func:`champion_project`). Its requests are made of its own test split's rows
(:func:`request_rows`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def build_champion(folder: Path, *settings: str) -> Path:
    """A copy of the project built with its default settings and data (``nbprod build``, as ``make run``;
    ``settings``: ``--set`` overrides, e.g. ``sample_frac=0.05`` for a quick run): the champion users get.
    The dashboards and monitor tasks are left out: they come after the gate."""
    from bench_pipeline import REPORTING_TASKS, project_copy

    project = project_copy(folder, REPORTING_TASKS)
    started = time.perf_counter()
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    overrides = [item for text in settings for item in ("--set", text)]
    done = subprocess.run([sys.executable, "-m", "nbprod.cli", "build", "--project", str(project), *overrides],
                          env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"nbprod build failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    if "No version holds" in done.stdout:  # the gate rejected the only candidate: nothing to serve
        verdict = next((line for line in done.stdout.splitlines() if line.startswith("The gate rejected")), "")
        raise RuntimeError(f"the build promoted no champion ({verdict}); on a loaded machine the gate's latency "
                           f"budget can fail: re-run when it is quiet, or promote by hand and pass --project")
    print(f"built the default project{' with ' + ' '.join(settings) if settings else ''} in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    return project


def champion_project(given: Path | None, folder: Path) -> Path:
    """``given`` (an already built project) or a fresh build under ``folder`` (:func:`build_champion`)."""
    return given.resolve() if given else build_champion(folder / "project")


def request_rows(project: Path, rows: int) -> list[dict]:
    """``rows`` records of the project's test split, with the columns the model's contract names."""
    from nbprod.monitoring.replay import records_json

    return json.loads(records_json(test_rows(project, rows)))


def test_rows(project: Path, rows: int):
    """``rows`` rows of the project's test split (repeated when it holds fewer), the contract's columns."""
    import pandas as pd

    from nbprod.model.contract import FeatureContract
    from nbprod.project import Project

    catalog = Project.load(project)
    names = FeatureContract.from_dict(json.loads(catalog.contract.read_text())).names
    frame = pd.read_parquet(catalog.split("test"), columns=list(names))
    return pd.concat([frame] * (rows // len(frame) + 1), ignore_index=True).head(rows)


def champion(project: Path) -> tuple[dict, str, str]:
    """The project's settings, store URI and a description of the model its alias points at."""
    import mlflow

    from nbprod import tracking
    from nbprod.project import Project

    catalog = Project.load(project)
    uri = catalog.tracking_uri({})
    tracking.set_uri(uri)
    version = mlflow.MlflowClient().get_model_version_by_alias(catalog.model_name, catalog.alias)
    model = mlflow.sklearn.load_model(f"models:/{catalog.model_name}/{version.version}")
    final = model[-1]
    inner = getattr(final, "estimator_", final)
    shape = ""
    if hasattr(inner, "max_leaf_nodes") and hasattr(inner, "n_iter_"):  # gradient boosting (a linear model: none)
        shape = (f" ({inner.n_iter_} iterations, max_leaf_nodes={inner.max_leaf_nodes}, "
                 f"learning_rate={inner.learning_rate})")
    description = (f"the champion of the default build: {catalog.model_name} version {version.version}, "
                   f"{type(inner).__name__}{shape} behind {type(model[0]).__name__}")
    return catalog.settings, uri, description


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, process: subprocess.Popen, timeout: float = 180) -> None:
    """Until ``url`` answers 200 (``process``, the server, must not exit meanwhile)."""
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
    """SIGTERM to the server's process group (started with ``start_new_session``), SIGKILL after 60 s."""
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
