"""``POST /recommend`` through a real ``nbprod serve`` on 127.0.0.1: the alias moves under load, the new version
answers, no request fails. Two recommenders (popularity, then item-item neighbours) registered in the MLflow
store of a project written by ``nbprod new --template recommender``."""

from __future__ import annotations

import http.client
import json
import threading
import time
from types import SimpleNamespace

import pandas as pd
import pytest

from conftest import Server

pytestmark = pytest.mark.slow


def interactions() -> pd.DataFrame:
    rows = [(f"u{user}", f"i{(user + step) % 12}") for user in range(30) for step in range(4)]
    return pd.DataFrame(rows, columns=["user", "item"]).assign(weight=1.0, time=pd.Timestamp("2024-01-01"))


def register_two_versions(folder, model_name: str) -> tuple[str, str]:
    """Log and register a popularity and an item-item recommender; the alias on the first."""
    import mlflow

    from nbprod.recommender import pyfunc
    from nbprod.recommender.estimator import Recommender
    from nbprod.registry.client import Registry
    from nbprod.tracking.tags import TASK

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.create_experiment("recommend-reload", artifact_location=(folder / "mlartifacts").as_uri())
    registry, versions = Registry(model_name, uri), []
    for kind, params in (("popularity", {}), ("item_knn", {"neighbours": 5})):
        with mlflow.start_run(experiment_id=experiment) as run:
            model_uri = pyfunc.log_model(Recommender(kind, params).fit(interactions()))
        versions.append(registry.register(model_uri, run.info.run_id, {TASK: "recommendation"}))
    registry.set_alias("champion", versions[0])
    return registry, versions


def client_loop(port: int, stop: threading.Event, results: list, lock: threading.Lock) -> None:
    """``/recommend`` on one keep-alive connection until ``stop``; record (status, version, path)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"user": "u3", "k": 3}).encode()
    while not stop.is_set():
        try:
            connection.request("POST", "/recommend", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            payload = json.loads(response.read())
            outcome = (response.status, payload.get("model", {}).get("version"), payload.get("path"))
        except Exception as error:  # a failed request is a test failure, recorded as such
            outcome = (repr(error), None, None)
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        with lock:
            results.append(outcome)
    connection.close()


def test_alias_move_under_load_switches_recommend_to_the_new_version_without_a_failed_request(tmp_path,
                                                                                            monkeypatch):
    from nbprod import cli

    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "NBPROD_PARENT_RUN"):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "movies"
    assert cli.main(["new", str(folder), "--template", "recommender"]) == 0
    model_name = "movies-model"  # the name nbprod new gives the project's registered model
    registry, versions = register_two_versions(folder, model_name)
    server = Server(SimpleNamespace(path=folder), tmp_path / "log", args=("--set", "serve.reload_seconds=0.3"))
    stop, lock, results = threading.Event(), threading.Lock(), []
    clients = [threading.Thread(target=client_loop, args=(server.port, stop, results, lock)) for _ in range(4)]
    try:
        assert server.wait_ready()["model"]["version"] == versions[0]
        for client in clients:
            client.start()
        time.sleep(1.0)
        registry.set_alias("champion", versions[1])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with lock:
                if sum(1 for _, version, _ in results if version == versions[1]) >= 20:
                    break
            time.sleep(0.1)
    finally:
        stop.set()
        for client in clients:
            client.join(15)
        server.stop()

    failures = [outcome for outcome in results if outcome[0] != 200]
    assert not failures, failures[:5]
    answered = [version for _, version, _ in results]
    assert answered[0] == versions[0] and answered[-1] == versions[1]
    switch = answered.index(versions[1])
    assert set(answered[:switch]) == {versions[0]} and answered[switch:].count(versions[0]) <= len(clients)
    # the popularity model answers everyone from its global top; the neighbours model knows u3
    assert {path for _, version, path in results if version == versions[1]} == {"collaborative"}
