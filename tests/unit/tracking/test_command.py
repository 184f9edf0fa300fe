"""``nbprod mlflow-ui``: the MLflow UI on the store the settings name, a real server on loopback."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ..helpers import REPO


def project(folder: Path, uri: str = "sqlite:///store/mlflow.db") -> Path:
    """A project folder with the repository's pipeline and settings, its store at ``uri``."""
    folder.mkdir(parents=True)
    shutil.copy(REPO / "pipeline.yaml", folder / "pipeline.yaml")
    settings = (REPO / "env.yaml").read_text()
    assert "uri: sqlite:///mlflow.db" in settings
    (folder / "env.yaml").write_text(settings.replace("uri: sqlite:///mlflow.db", f"uri: {uri}", 1))
    return folder


def nbprod(*args: str) -> list[str]:
    return [sys.executable, "-m", "nbprod.cli", *args]


def environment(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MLFLOW_", "NBPROD_"))}
    return {**env, **extra}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str, deadline: float, process: subprocess.Popen) -> dict:
    """GET ``url`` until it answers (the server is starting) or ``deadline`` passes."""
    while True:
        assert process.poll() is None, process.stdout.read()
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_a_missing_store_is_an_error_and_is_not_created(tmp_path):
    folder = project(tmp_path / "p")
    done = subprocess.run(nbprod("mlflow-ui", "--project", str(folder)), env=environment(), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert f"no MLflow store at {folder / 'store' / 'mlflow.db'} yet" in done.stderr and "nbprod build" in done.stderr
    assert not (folder / "store").exists()


def test_a_tracking_server_is_named_not_served(tmp_path):
    folder = project(tmp_path / "p")
    done = subprocess.run(nbprod("mlflow-ui", "--project", str(folder)),
                          env=environment(MLFLOW_TRACKING_URI="http://tracking.example:5000"), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "open http://tracking.example:5000" in done.stdout


def test_a_bad_port_is_an_error(tmp_path):
    folder = project(tmp_path / "p")
    done = subprocess.run(nbprod("mlflow-ui", "--project", str(folder), "--port", "70000"), env=environment(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "argument --port: must be between 1 and 65535, got 70000" in done.stderr


@pytest.mark.slow
def test_serves_the_settings_store_on_loopback(tmp_path):
    from mlflow import MlflowClient

    folder = project(tmp_path / "p")
    (folder / "store").mkdir()
    MlflowClient(f"sqlite:///{folder / 'store' / 'mlflow.db'}").create_experiment("seen-by-the-ui")
    port = free_port()
    process = subprocess.Popen(nbprod("mlflow-ui", "--project", str(folder), "--port", str(port)),
                               env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        found = get_json(f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search?max_results=10",
                         time.monotonic() + 120, process)
        assert "seen-by-the-ui" in [experiment["name"] for experiment in found["experiments"]]
    finally:
        process.terminate()  # nbprod became the UI (exec): the signal reaches MLflow, which stops its server
        process.wait(timeout=30)
    deadline = time.monotonic() + 20
    while port_open(port) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not port_open(port), "the UI's server outlived the command"


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_mlflows_job_runner_is_off_unless_asked_for():
    from nbprod.tracking.command import JOBS_ENV, ui_environment

    assert ui_environment({"PATH": "/bin"}) == {"PATH": "/bin", JOBS_ENV: "false"}
    assert ui_environment({JOBS_ENV: "true"})[JOBS_ENV] == "true"
