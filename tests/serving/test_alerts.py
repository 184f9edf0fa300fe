"""The service alerts when the champion fails to load, once per version, without blocking; /metrics counts."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from pathlib import Path

import pytest
from alert_receiver import Receiver, closed_port_url

from nbprod.alerts import AlertConfig, Webhook
from nbprod.serving.app import PredictionService, ServeConfig
from nbprod.serving.guards import GuardConfig
from project_copy import REPO
from nbprod.tracking import client_for

URL_ENV = "TEST_SERVICE_ALERT_URL"


def broken_champion(folder: Path) -> str:
    """A store whose alias points at a version with no model files; its URI."""
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = client_for(uri)
    client.create_registered_model("m")
    version = client.create_model_version("m", source=str(folder / "no-model-here"))
    client.set_registered_model_alias("m", "champion", version.version)
    return uri


def service_config(uri: str) -> ServeConfig:
    return ServeConfig(model_name="m", alias="champion", tracking_uri=uri, host="127.0.0.1", port=0, token=None,
                       max_body_bytes=2**20, max_rows=10, reload_seconds=0.2, log_folder=None, log_flush_rows=10,
                       log_flush_seconds=1.0, log_max_rows=None, log_policy="refuse",
                       alerts=AlertConfig((Webhook(URL_ENV, "json"),), 1.0, 1, 0.1, 3.0, 10),
                       guard=default_guard())


def default_guard(**changes) -> GuardConfig:
    """The guards of the repository's env.yaml, with ``changes``."""
    import dataclasses

    import yaml

    serve = yaml.safe_load((REPO / "env.yaml").read_text())["serve"]
    return dataclasses.replace(GuardConfig.from_settings(serve), **changes)


async def run_until(service: PredictionService, done, timeout_s: float = 60.0, settle_s: float = 1.0) -> str:
    """Start ``service``, wait for ``done()`` and ``settle_s`` more (a few polls), return /metrics, stop."""
    await service.startup()
    try:
        deadline = time.monotonic() + timeout_s
        while not done() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(settle_s)
        return service.metrics.render()
    finally:
        await service.shutdown()


@pytest.mark.slow
def test_a_champion_that_fails_to_load_alerts_once(tmp_path, monkeypatch):
    uri = broken_champion(tmp_path)
    with Receiver() as hook:
        monkeypatch.setenv(URL_ENV, hook.url)
        service = PredictionService(service_config(uri))
        metrics = asyncio.run(run_until(service, lambda: hook.bodies))
    assert [body["event"] for body in hook.bodies] == ["model_load_failed"]  # polled again, not alerted again
    assert hook.bodies[0]["details"]["model"] == "m v1" and "could not load m version 1" in hook.bodies[0]["summary"]
    assert "nbprod_alerts_sent_total 1\n" in metrics and "nbprod_alerts_failed_total 0\n" in metrics
    assert 'nbprod_model_reloads_total{result="failure"}' in metrics


@pytest.mark.slow
def test_an_unreachable_webhook_is_counted_and_the_service_keeps_going(tmp_path, monkeypatch):
    uri = broken_champion(tmp_path)
    monkeypatch.setenv(URL_ENV, closed_port_url())
    service = PredictionService(service_config(uri))
    metrics = asyncio.run(run_until(service, lambda: service.alerts is not None and service.alerts.failed))
    assert "nbprod_alerts_failed_total 1\n" in metrics and "nbprod_alerts_sent_total 0\n" in metrics
    assert "# TYPE nbprod_alerts_failed_total counter" in metrics


def test_a_version_that_fails_to_load_is_retried_with_back_off_and_reported_briefly(tmp_path, monkeypatch):
    uri = broken_champion(tmp_path)
    monkeypatch.delenv(URL_ENV, raising=False)
    config = dataclasses.replace(service_config(uri), reload_seconds=0.05, alerts=None,
                                 guard=default_guard(load_backoff_max_seconds=0.4))

    async def run() -> tuple[str, tuple[int, bytes]]:
        service = PredictionService(config)
        await service.startup()
        try:
            await asyncio.sleep(2.0)  # 40 polls: without back-off 40 attempts, with it 7 or so
            return service.metrics.render(), service.ready()
        finally:
            await service.shutdown()

    metrics, (status, body) = asyncio.run(run())
    failures = int(next(line.split()[1] for line in metrics.splitlines()
                        if line.startswith("nbprod_model_load_failures_total")))
    assert 3 <= failures <= 9, failures
    assert "# TYPE nbprod_model_load_failures_total counter" in metrics
    error = json.loads(body)["error"]
    assert status == 503 and error.startswith("version 1 failed to load") and "next attempt in" in error
    assert str(tmp_path) not in error and "Traceback" not in error and "\n" not in error


def test_back_off_doubles_per_version_up_to_the_longest_wait():
    from nbprod.serving.model_source import Backoff

    now = [0.0]
    backoff = Backoff(5, 60, clock=lambda: now[0])
    assert backoff.due("3")
    waits = []
    for _ in range(6):
        backoff.failed("3")
        waits.append(backoff.wait("3"))
    assert waits == [5, 10, 20, 40, 60, 60]
    assert not backoff.due("3") and backoff.due("4")  # another version is tried at once
    now[0] = 60.0
    assert backoff.due("3")
    backoff.succeeded("3")
    assert backoff.wait("3") == 0
