"""Alerts: webhooks told about drift, quality drops, retraining, the gate's verdicts and failed model loads.

Three steps, as for a metric: the ``alerts`` settings -> :class:`AlertConfig`; an event ->
its body (:func:`payload`, pure: a generic JSON object or a Slack-compatible ``{"text": ...}``);
the body -> each webhook (:func:`deliver`: a timeout on every call, retries with back-off, one
total deadline). A failed delivery is logged and counted, never raised.

The webhooks' URLs (and optional bearer tokens) are secrets: the settings name the
environment variables that hold them, never the values::

    alerts:
      webhooks:
        - {url_env: NBPROD_ALERT_URL, format: slack, events: [drift, promoted, rejected]}

The service sends from a background thread through a bounded queue (:class:`BackgroundNotifier`);
the monitor and the gate send synchronously within ``alerts.deadline_seconds``
(:class:`Notifier`). A build exports its ``alerts`` settings to its tasks in ``NBPROD_ALERTS``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

log = logging.getLogger(__name__)

#: The environment variable through which a build hands its ``alerts`` settings (JSON) to its tasks.
ENV = "NBPROD_ALERTS"
#: What an alert can be about.
EVENTS = ("drift", "quality_drop", "retrain_started", "retrain_failed", "promoted", "rejected", "model_load_failed")
FORMATS = ("json", "slack")
WEBHOOK_KEYS = {"url_env": "required", "format": "required", "events": "optional", "token_env": "optional"}
TITLES = {"drift": "Dataset drift", "quality_drop": "Model quality drop", "retrain_started": "Retraining started",
          "retrain_failed": "Retraining failed", "promoted": "Candidate promoted", "rejected": "Candidate rejected",
          "model_load_failed": "Model failed to load"}


# -- configuration ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Webhook:
    """One receiver: the variable holding its URL, its body format, the events it wants (empty: all)."""

    url_env: str
    format: str
    events: tuple[str, ...] = ()
    token_env: str | None = None

    def wants(self, kind: str) -> bool:
        return not self.events or kind in self.events


@dataclass(frozen=True)
class AlertConfig:
    """The ``alerts`` settings."""

    webhooks: tuple[Webhook, ...]
    timeout_s: float
    retries: int
    backoff_s: float
    deadline_s: float
    queue_size: int

    @classmethod
    def from_settings(cls, alerts: Mapping[str, Any]) -> "AlertConfig":
        """The config of an ``alerts`` settings mapping (checked with :func:`check_webhooks` first)."""
        check_webhooks(alerts["webhooks"])
        hooks = tuple(Webhook(w["url_env"], w["format"], tuple(w.get("events") or ()), w.get("token_env"))
                      for w in alerts["webhooks"])
        return cls(hooks, float(alerts["timeout_seconds"]), int(alerts["retries"]),
                   float(alerts["backoff_seconds"]), float(alerts["deadline_seconds"]), int(alerts["queue_size"]))


def check_webhooks(webhooks: Sequence[Any]) -> None:
    """Raise :class:`~nbprod.settings.SettingsError` naming the first malformed ``alerts.webhooks`` entry."""
    from nbprod.settings import SettingsError

    for index, hook in enumerate(webhooks):
        name = f"alerts.webhooks[{index}]"
        if not isinstance(hook, Mapping):
            raise SettingsError(f"setting {name!r} must be a mapping with keys {', '.join(WEBHOOK_KEYS)}, got {hook!r}")
        unknown = [key for key in hook if key not in WEBHOOK_KEYS]
        missing = [key for key, need in WEBHOOK_KEYS.items() if need == "required" and key not in hook]
        if unknown or missing:
            raise SettingsError(f"setting {name!r}: " + (f"unknown key(s) {', '.join(map(str, unknown))}"
                                if unknown else f"missing key(s) {', '.join(missing)}")
                                + f"; the keys are {', '.join(WEBHOOK_KEYS)}")
        for key in ("url_env", "token_env"):
            if key in hook and not (isinstance(hook[key], str) and hook[key]):
                raise SettingsError(f"setting '{name}.{key}' must name an environment variable (the secret is "
                                    f"read from it, never written in env.yaml), got {hook[key]!r}")
        if hook["format"] not in FORMATS:
            raise SettingsError(f"setting '{name}.format' must be one of {FORMATS}, got {hook['format']!r}")
        events = hook.get("events") or []
        bad = [e for e in events if e not in EVENTS] if isinstance(events, list) else [events]
        if bad:
            raise SettingsError(f"setting '{name}.events' must be a list of {', '.join(EVENTS)} (empty: all), "
                                f"got {bad[0]!r}")


# -- events and their bodies (pure) -----------------------------------------------------------------

@dataclass(frozen=True)
class Event:
    """Something the team should hear about: its kind, one line, details and links to the evidence."""

    kind: str
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)
    links: Mapping[str, str] = field(default_factory=dict)
    time: str = ""

    def __post_init__(self) -> None:
        if self.kind not in EVENTS:
            raise ValueError(f"alert event kind must be one of {EVENTS}, got {self.kind!r}")


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def payload(event: Event, fmt: str) -> dict[str, Any]:
    """The body of ``event`` for a webhook of format ``fmt`` (``json``: the event; ``slack``: ``{"text": ...}``)."""
    if fmt == "slack":
        lines = [f"*{TITLES[event.kind]}*: {event.summary}"]
        lines += [f"• {key}: {value}" for key, value in event.details.items() if value not in (None, "", [], {})]
        lines += [f"• {key}: <{value}>" if "://" in str(value) else f"• {key}: {value}"
                  for key, value in event.links.items() if value]
        return {"text": "\n".join(lines)}
    return {"event": event.kind, "title": TITLES[event.kind], "summary": event.summary, "time": event.time or now(),
            "details": dict(event.details), "links": {k: v for k, v in event.links.items() if v}}


def gate_event(record: Mapping[str, Any], json_path: Any, html_path: Any, tracking_uri: str | None = None) -> Event:
    """The gate's verdict (``promotion.json``'s ``record``) as a ``promoted``/``rejected`` event."""
    candidate = record.get("candidate") or {}
    failed = [f"{r['check']}: {r['detail']}" for r in record.get("reasons") or [] if not r.get("passed")]
    details = {"model": f"{record.get('model_name')} v{candidate.get('version')}",
               "candidate": candidate.get("name"), "metric": (record.get("metric") or {}).get("name"),
               "candidate_value": (record.get("metric") or {}).get("candidate"),
               "reference_value": (record.get("metric") or {}).get("reference"),
               "champion_before": record.get("previous_champion"), "champion_after": record.get("champion_after"),
               "reasons": failed or [f"{r['check']}: {r['detail']}" for r in record.get("reasons") or []]}
    links = {"evidence": str(html_path), "evidence_json": str(json_path),
             "mlflow_run": run_link(tracking_uri, record.get("mlflow_run_id"))}
    return Event(str(record.get("decision")), str(record.get("summary") or record.get("decision")), details, links,
                 str(record.get("decided_at") or ""))


def run_link(tracking_uri: str | None, run_id: str | None) -> str | None:
    """A browsable link to an MLflow run when the store is a server, else ``runs:/<id>``."""
    if not run_id:
        return None
    if tracking_uri and tracking_uri.startswith(("http://", "https://")):
        return f"{tracking_uri.rstrip('/')}/#/runs/{run_id}"
    return f"runs:/{run_id}"


def decision_events(decision: Any, retrain_enabled: bool, source: str, run_id: str | None,
                    tracking_uri: str | None = None) -> list[Event]:
    """The monitor's decision (a :class:`~nbprod.monitoring.trigger.Decision`) as events: ``drift`` or
    ``quality_drop`` when retraining is due, then ``retrain_started`` when it starts."""
    if not decision.retrain:
        return []
    kind = "quality_drop" if decision.trigger == "performance" else "drift"
    links = {"mlflow_run": run_link(tracking_uri, run_id)}
    details = {"window": decision.window, "source": source, "drifted_windows": list(decision.drifted)}
    events = [Event(kind, decision.reason, details, links)]
    if retrain_enabled:
        events.append(Event("retrain_started", f"retraining because {decision.reason}", details, links))
    return events


def retrain_events(outcome: Any, tracking_uri: str | None = None) -> list[Event]:
    """A failed retraining build (a :class:`~nbprod.monitoring.retrain.Outcome`) as a ``retrain_failed`` event;
    the gate's own verdict is sent by the gate."""
    if outcome is None or outcome.ok:
        return []
    return [Event("retrain_failed", outcome.reason, {"overrides": list(outcome.overrides)},
                  {"build_run": run_link(tracking_uri, outcome.parent_run_id)})]


def load_failed_event(model_name: str, version: str, error: str) -> Event:
    """The service could not load a version the alias points at (it keeps serving the one it has)."""
    return Event("model_load_failed", f"the service could not load {model_name} version {version}; it keeps "
                                      "serving the model it had", {"model": f"{model_name} v{version}",
                                                                   "error": error[:2000]})


# -- delivery -----------------------------------------------------------------------------------------

class DeliveryError(RuntimeError):
    """A webhook call that failed (status, refused connection, timeout); ``retry``: whether trying again may help
    (not for a 4xx answer other than 408 and 429: the request itself is wrong)."""

    def __init__(self, message: str, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


def post(url: str, body: bytes, timeout_s: float, token: str | None = None) -> None:
    """POST ``body`` (JSON) to ``url``; raise :class:`DeliveryError` unless the answer is 2xx."""
    import urllib.error
    import urllib.request

    headers = {"Content-Type": "application/json", "User-Agent": "nbprod-alerts"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:  # noqa: S310 - the user's webhook
            answer.read()
    except urllib.error.HTTPError as error:
        raise DeliveryError(f"HTTP {error.code}", retry=not 400 <= error.code < 500 or error.code in (408, 429)) \
            from None
    except (urllib.error.URLError, OSError) as error:
        raise DeliveryError(str(getattr(error, "reason", error))) from None


def deliver(url: str, body: bytes, config: AlertConfig, deadline: float, token: str | None = None,
            sleep: Callable[[float], None] = time.sleep) -> tuple[int, str | None]:
    """Send ``body`` with up to ``config.retries`` retries (back-off doubling from ``config.backoff_s``), each
    call within ``config.timeout_s`` and all before ``deadline`` (``time.monotonic()``); return the attempts
    made and the last error (None: delivered)."""
    delay, error, attempts = config.backoff_s, "the deadline passed before the first attempt", 0
    for attempt in range(config.retries + 1):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        attempts += 1
        try:
            post(url, body, min(config.timeout_s, remaining), token)
            return attempts, None
        except DeliveryError as failure:
            error, retry = str(failure), failure.retry
        wait = min(delay, deadline - time.monotonic())
        if attempt == config.retries or wait <= 0 or not retry:
            break
        sleep(wait)
        delay *= 2
    return attempts, error


class Notifier:
    """Sends events to the configured webhooks, synchronously, within ``config.deadline_s`` per event.

    Webhooks whose URL variable is not set are skipped (logged once). ``sent`` / ``failed`` count deliveries.
    """

    def __init__(self, config: AlertConfig, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        self.config = config
        self.targets = []
        for hook in config.webhooks:
            url = environ.get(hook.url_env)
            if not url:
                log.warning("alerts: webhook skipped, the environment variable %s (its URL) is not set", hook.url_env)
                continue
            self.targets.append((hook, url, environ.get(hook.token_env) if hook.token_env else None))
        self.sent = 0
        self.failed = 0
        self._lock = threading.Lock()
        self._once: set[str] = set()

    def send(self, event: Event, once: str | None = None, deadline: float | None = None) -> int:
        """Deliver ``event`` to every webhook that wants it; return the failed deliveries (never raises).
        ``once``: a key; an event with a key already sent is skipped. ``deadline`` (``time.monotonic()``):
        default ``alerts.deadline_seconds`` from now."""
        if self._seen(once):
            return 0
        deadline = time.monotonic() + self.config.deadline_s if deadline is None else deadline
        failures = 0
        for hook, url, token in self.targets:
            if not hook.wants(event.kind):
                continue
            body = json.dumps(payload(event, hook.format), default=str).encode()
            attempts, error = deliver(url, body, self.config, deadline, token)
            failures += self._count(event.kind, hook, attempts, error)
        return failures

    def _seen(self, once: str | None) -> bool:
        with self._lock:
            if once is None:
                return False
            if once in self._once:
                return True
            self._once.add(once)
            return False

    def _count(self, kind: str, hook: Webhook, attempts: int, error: str | None) -> int:
        with self._lock:
            if error is None:
                self.sent += 1
                return 0
            self.failed += 1
        log.warning("alerts: %s alert not delivered to the webhook in %s after %d attempt(s): %s",
                    kind, hook.url_env, attempts, error)
        return 1

    def counts(self) -> dict[str, float]:
        """The delivery counters, as the service's ``/metrics`` collectors report them."""
        with self._lock:
            return {"nbprod_alerts_sent_total": self.sent, "nbprod_alerts_failed_total": self.failed}


class BackgroundNotifier(Notifier):
    """A :class:`Notifier` whose :meth:`send` only queues (bounded; a full queue drops and counts the event):
    a daemon thread delivers, so the caller never waits on a webhook."""

    def __init__(self, config: AlertConfig, environ: Mapping[str, str] | None = None) -> None:
        super().__init__(config, environ)
        self.queue: queue.Queue = queue.Queue(maxsize=config.queue_size)
        self.thread = threading.Thread(target=self._run, name="nbprod-alerts", daemon=True)
        self.thread.start()

    def send(self, event: Event, once: str | None = None, deadline: float | None = None) -> int:
        if not self.targets or self._seen(once):
            return 0
        try:
            self.queue.put_nowait(event)
        except queue.Full:
            with self._lock:
                self.failed += 1
            log.warning("alerts: %s alert dropped, %d alerts already wait to be sent", event.kind, self.queue.qsize())
            return 1
        return 0

    def _run(self) -> None:
        while True:
            event = self.queue.get()
            if event is None:
                return
            Notifier.send(self, event)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the sender once the queued events are sent (waits at most ``timeout_s``)."""
        try:
            self.queue.put(None, timeout=timeout_s)
        except queue.Full:
            return
        self.thread.join(timeout_s)


# -- the hooks the monitor, the gate and the service call ---------------------------------------------

def notifier(settings: Mapping[str, Any], background: bool = False) -> Notifier | None:
    """A notifier of the project's ``alerts`` settings (None when no webhook is configured)."""
    config = AlertConfig.from_settings(settings["alerts"])
    if not config.webhooks:
        return None
    return BackgroundNotifier(config) if background else Notifier(config)


def send_all(settings: Mapping[str, Any], events: Sequence[Event]) -> None:
    """Send ``events`` synchronously (the monitor), all within ``alerts.deadline_seconds``; never raises."""
    if not events:
        return
    try:
        sender = notifier(settings)
    except Exception as error:  # noqa: BLE001 - an alert is never fatal
        log.warning("alerts: not sent: %s", error)
        return
    deadline = time.monotonic() + float(settings["alerts"]["deadline_seconds"])
    for event in events if sender is not None else ():
        sender.send(event, deadline=deadline)


def notify_gate(record: Mapping[str, Any], json_path: Any, html_path: Any) -> None:
    """Tell the webhooks the gate's verdict, with the ``alerts`` settings the build exported in ``NBPROD_ALERTS``
    (nothing without them: a gate run outside a build)."""
    exported = os.environ.get(ENV)
    if not exported:
        return
    try:
        from pathlib import Path

        event = gate_event(record, Path(json_path).resolve(), Path(html_path).resolve(),
                           os.environ.get("MLFLOW_TRACKING_URI"))
    except Exception as error:  # noqa: BLE001 - an alert is never fatal
        log.warning("alerts: the gate's verdict could not be turned into an alert: %s", error)
        return
    send_all({"alerts": json.loads(exported)}, [event])


def export(settings: Mapping[str, Any]) -> dict[str, str]:
    """The environment a build gives its tasks so that they can alert (:data:`ENV`)."""
    return {ENV: json.dumps(settings["alerts"])}
