"""The service alerts when the champion fails to load, once per version, without blocking; /metrics counts."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from alert_receiver import Receiver, closed_port_url

from nbprod.alerts import AlertConfig, Webhook
from nbprod.serving.app import PredictionService, ServeConfig
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
                       max_body_bytes=2**20, max_rows=10, max_text_chars=1000, reload_seconds=0.2, log_folder=None, log_flush_rows=10,
                       log_flush_seconds=1.0, log_max_rows=None, log_policy="refuse",
                       alerts=AlertConfig((Webhook(URL_ENV, "json"),), 1.0, 1, 0.1, 3.0, 10))


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
