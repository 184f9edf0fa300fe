"""nbprod.alerts: payloads, settings, and delivery to a real receiver on 127.0.0.1 (retries, down, slow)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from alert_receiver import Receiver, closed_port_url

from nbprod import alerts
from nbprod.monitoring.retrain import Outcome
from nbprod.monitoring.trigger import Decision
from nbprod.settings import SettingsError

URL_ENV = "TEST_ALERT_URL"


def config(fmt: str = "json", *, events=(), timeout_s=2.0, retries=2, backoff_s=0.05, deadline_s=5.0,
           token_env=None, queue_size=10) -> alerts.AlertConfig:
    return alerts.AlertConfig((alerts.Webhook(URL_ENV, fmt, tuple(events), token_env),), timeout_s, retries,
                              backoff_s, deadline_s, queue_size)


RECORD = {
    "decision": "rejected", "summary": "rejected: roc_auc 0.610 does not beat champion v1's 0.700 by 0.0",
    "model_name": "m", "previous_champion": "1", "champion_after": "1", "decided_at": "2026-11-29T10:00:00+00:00",
    "mlflow_run_id": "abc123", "candidate": {"name": "hgb", "version": "2"},
    "metric": {"name": "roc_auc", "candidate": 0.61, "reference": 0.7},
    "reasons": [{"check": "metric", "passed": False, "detail": "0.610 < 0.700"},
                {"check": "size", "passed": True, "detail": "1.2 MB <= 200 MB"}],
}


def test_gate_event_carries_the_failed_reasons_and_links_to_the_evidence():
    event = alerts.gate_event(RECORD, "reports/promotion.json", "reports/promotion.html", "http://mlflow:5000")
    body = alerts.payload(event, "json")
    assert body["event"] == "rejected" and body["summary"] == RECORD["summary"]
    assert body["details"]["reasons"] == ["metric: 0.610 < 0.700"]
    assert body["details"]["model"] == "m v2" and body["details"]["champion_after"] == "1"
    assert body["links"] == {"evidence": "reports/promotion.html", "evidence_json": "reports/promotion.json",
                             "mlflow_run": "http://mlflow:5000/#/runs/abc123"}
    text = alerts.payload(event, "slack")["text"]
    assert list(alerts.payload(event, "slack")) == ["text"]
    assert text.startswith("*Candidate rejected*: rejected: roc_auc 0.610")
    assert "metric: 0.610 < 0.700" in text and "<http://mlflow:5000/#/runs/abc123>" in text


def test_monitor_decisions_become_drift_quality_and_retrain_events():
    drift = Decision(True, "the data drifted in 2 of the last 3 windows", "2013-10-07", "drift", drifted=("a", "b"))
    kinds = [e.kind for e in alerts.decision_events(drift, True, "new.csv", "run1")]
    assert kinds == ["drift", "retrain_started"]
    quality = Decision(True, "roc_auc 0.55 is below the floor 0.6", "2013-10-07", "performance")
    assert [e.kind for e in alerts.decision_events(quality, False, "new.csv", None)] == ["quality_drop"]
    assert alerts.decision_events(Decision(False, "no drift", "2013-10-07"), True, "new.csv", None) == []
    failed = Outcome(ok=False, overrides=["sample_frac=0.1"], parent_run_id="p1", reason="train failed")
    [event] = alerts.retrain_events(failed)
    assert event.kind == "retrain_failed" and event.links["build_run"] == "runs:/p1"
    assert alerts.retrain_events(Outcome(ok=True, overrides=[])) == []


@pytest.mark.parametrize("hook, message", [
    ({"url_env": "X", "format": "teams"}, "'alerts.webhooks[0].format' must be one of"),
    ({"url": "https://hooks.example/secret", "format": "json"}, "unknown key(s) url"),
    ({"url_env": "X", "format": "json", "events": ["drifted"]}, "'drifted'"),
    ({"format": "json"}, "missing key(s) url_env"),
])
def test_a_malformed_webhook_setting_is_named(hook, message):
    with pytest.raises(SettingsError, match="alerts.webhooks") as error:
        alerts.check_webhooks([hook])
    assert message in str(error.value)


def test_generic_and_slack_bodies_reach_the_receiver_with_the_token(monkeypatch):
    with Receiver() as json_hook, Receiver() as slack_hook:
        environ = {URL_ENV: json_hook.url, "SLACK_URL": slack_hook.url, "TOKEN": "s3cret"}
        cfg = alerts.AlertConfig((alerts.Webhook(URL_ENV, "json", (), "TOKEN"),
                                  alerts.Webhook("SLACK_URL", "slack", ("promoted",))), 2.0, 0, 0.0, 5.0, 10)
        notifier = alerts.Notifier(cfg, environ)
        event = alerts.gate_event(RECORD, "p.json", "p.html")
        assert notifier.send(event) == 0
    assert json_hook.bodies == [alerts.payload(event, "json")]
    assert json_hook.headers[0]["Authorization"] == "Bearer s3cret"
    assert slack_hook.bodies == []  # it asked for promotions only
    assert notifier.counts() == {"nbprod_alerts_sent_total": 1, "nbprod_alerts_failed_total": 0}


def test_a_receiver_failing_twice_gets_the_alert_on_the_third_attempt():
    with Receiver(statuses=[500, 500]) as hook:
        notifier = alerts.Notifier(config(retries=2), {URL_ENV: hook.url})
        event = alerts.Event("drift", "drifted")
        assert notifier.send(event) == 0
    assert len(hook.bodies) == 3 and hook.bodies[0] == hook.bodies[2]
    assert notifier.counts()["nbprod_alerts_sent_total"] == 1


def test_a_refused_request_is_not_retried_but_a_throttled_one_is():
    with Receiver(statuses=[404]) as hook:
        notifier = alerts.Notifier(config(retries=2), {URL_ENV: hook.url})
        assert notifier.send(alerts.Event("drift", "drifted")) == 1
    assert len(hook.bodies) == 1
    with Receiver(statuses=[429]) as hook:
        assert alerts.Notifier(config(retries=2), {URL_ENV: hook.url}).send(alerts.Event("drift", "drifted")) == 0
    assert len(hook.bodies) == 2


def test_a_receiver_that_is_down_is_counted_and_logged_within_the_deadline(caplog):
    notifier = alerts.Notifier(config(retries=5, backoff_s=0.2, deadline_s=0.5), {URL_ENV: closed_port_url()})
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="nbprod.alerts"):
        assert notifier.send(alerts.Event("retrain_failed", "boom")) == 1
    assert time.monotonic() - started < 1.0
    assert notifier.counts() == {"nbprod_alerts_sent_total": 0, "nbprod_alerts_failed_total": 1}
    assert "retrain_failed alert not delivered to the webhook in TEST_ALERT_URL" in caplog.text


def test_a_slow_receiver_times_out():
    with Receiver(delay_s=1.5) as hook:
        notifier = alerts.Notifier(config(timeout_s=0.3, retries=0), {URL_ENV: hook.url})
        started = time.monotonic()
        assert notifier.send(alerts.Event("drift", "drifted")) == 1
        assert time.monotonic() - started < 1.0
    assert notifier.counts()["nbprod_alerts_failed_total"] == 1


def test_the_background_sender_never_blocks_and_drops_what_overflows_its_queue():
    with Receiver(delay_s=0.3) as hook:
        notifier = alerts.BackgroundNotifier(config(queue_size=2, retries=0), {URL_ENV: hook.url})
        started = time.monotonic()
        failures = [notifier.send(alerts.Event("model_load_failed", f"v{i}")) for i in range(6)]
        assert time.monotonic() - started < 0.1
        notifier.close(timeout_s=5.0)
    counts = notifier.counts()
    assert sum(failures) >= 3 and counts["nbprod_alerts_failed_total"] == sum(failures)
    assert counts["nbprod_alerts_sent_total"] == len(hook.bodies) == 6 - sum(failures)


def test_an_event_sent_once_per_key_is_not_repeated():
    with Receiver() as hook:
        notifier = alerts.Notifier(config(), {URL_ENV: hook.url})
        for _ in range(3):
            notifier.send(alerts.load_failed_event("m", "3", "no such file"), once="3")
    assert len(hook.bodies) == 1 and hook.bodies[0]["details"]["model"] == "m v3"


def test_a_webhook_without_its_url_variable_is_skipped(caplog):
    with caplog.at_level(logging.WARNING, logger="nbprod.alerts"):
        notifier = alerts.Notifier(config(), {})
    assert notifier.send(alerts.Event("drift", "x")) == 0 and notifier.counts()["nbprod_alerts_sent_total"] == 0
    assert "TEST_ALERT_URL" in caplog.text


def test_the_gate_alerts_with_the_settings_its_build_exported(monkeypatch):
    with Receiver() as hook:
        settings = {"alerts": {"webhooks": [{"url_env": URL_ENV, "format": "slack"}], "timeout_seconds": 2,
                               "retries": 0, "backoff_seconds": 0, "deadline_seconds": 5, "queue_size": 5}}
        monkeypatch.setenv(URL_ENV, hook.url)
        alerts.notify_gate(RECORD, "p.json", "p.html")  # outside a build: nothing
        assert hook.bodies == []
        for key, value in alerts.export(settings).items():
            monkeypatch.setenv(key, value)
        alerts.notify_gate(RECORD, "p.json", "p.html")
    assert hook.bodies[0]["text"].startswith("*Candidate rejected*")
    assert f"evidence: {(Path.cwd() / 'p.html')}" in hook.bodies[0]["text"]


def test_the_monitor_sends_all_its_alerts_within_one_deadline(monkeypatch):
    monkeypatch.setenv(URL_ENV, closed_port_url())
    settings = {"alerts": {"webhooks": [{"url_env": URL_ENV, "format": "json"}], "timeout_seconds": 1,
                           "retries": 10, "backoff_seconds": 0.2, "deadline_seconds": 0.6, "queue_size": 5}}
    decision = Decision(True, "the data drifted in 2 of the last 3 windows", "2013-10-07", "drift")
    started = time.monotonic()
    alerts.send_all(settings, alerts.decision_events(decision, True, "new.csv", None))  # two events
    assert time.monotonic() - started < 1.0


def test_alerts_settings_are_checked_with_every_other_setting():
    from project_copy import REPO

    from nbprod import settings as settings_module

    loaded = settings_module.load(REPO, overrides=["alerts.webhooks=[{url_env: HOOK, format: slack}]"])
    assert alerts.AlertConfig.from_settings(loaded["alerts"]).webhooks == (alerts.Webhook("HOOK", "slack"),)
    with pytest.raises(SettingsError, match=r"'alerts.webhooks\[0\].format' must be one of \('json', 'slack'\)"):
        settings_module.load(REPO, overrides=["alerts.webhooks=[{url_env: HOOK, format: teams}]"])
    with pytest.raises(SettingsError, match="'alerts.retries' must be at least 0, got -1"):
        settings_module.load(REPO, overrides=["alerts.retries=-1"])
