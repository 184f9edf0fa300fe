"""Service metrics in the Prometheus text exposition format (version 0.0.4).

Kept in plain dicts and updated from the event loop (and, for reloads, from the
watcher thread under a lock): no dependency, a few hundred nanoseconds per request.

Exposed series:

- ``nbprod_requests_total{endpoint,status}`` counter
- ``nbprod_request_duration_seconds{endpoint}`` histogram
- ``nbprod_errors_total{kind}`` counter (client errors by kind, ``internal`` for 5xx)
- ``nbprod_predictions_total`` counter (rows predicted)
- ``nbprod_batch_rows`` histogram (rows per model call: micro-batching at work)
- ``nbprod_unseen_categories_total{column}`` counter
- ``nbprod_model_version{name}`` gauge (0 while no model is loaded)
- ``nbprod_model_reloads_total{result}`` counter (``success``/``failure``)
- ``nbprod_model_ready`` gauge
- ``nbprod_prediction_log_rows_total`` counter (rows written), ``nbprod_prediction_log_buffered_rows`` gauge (rows
  not yet written: the log's lag), ``nbprod_prediction_log_write_errors_total`` counter,
  ``nbprod_prediction_log_unlogged_rows_total`` (answered, not logged: ``serve.log_policy=serve`` at the bound),
  ``nbprod_prediction_log_refused_rows_total`` (answered 503: ``serve.log_policy=refuse`` at the bound)
- ``nbprod_in_flight_requests``, ``nbprod_queued_rows`` gauges (the load the guards bound:
  :mod:`nbprod.serving.guards`), ``nbprod_model_load_failures_total`` counter (failed loads of a version, backed off)
- ``nbprod_alerts_sent_total``, ``nbprod_alerts_failed_total`` counters (webhook deliveries: :mod:`nbprod.alerts`)
"""

from __future__ import annotations

import bisect
import threading
from typing import Callable, Iterable

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384)
#: Type and help of the series that collectors report (``Metrics.collectors``).
COLLECTED = {
    "nbprod_prediction_log_rows_total": ("counter", "Prediction log rows written to Parquet."),
    "nbprod_prediction_log_buffered_rows": ("gauge", "Prediction log rows buffered, not yet written."),
    "nbprod_prediction_log_write_errors_total": ("counter", "Failed writes of the prediction log."),
    "nbprod_prediction_log_unlogged_rows_total": ("counter", "Rows answered but not logged (log full, policy serve)."),
    "nbprod_prediction_log_refused_rows_total": ("counter", "Rows refused with 503 (log full, policy refuse)."),
    "nbprod_in_flight_requests": ("gauge", "POST requests being handled (serve.max_in_flight)."),
    "nbprod_queued_rows": ("gauge", "Rows waiting for the model (serve.max_queue_rows)."),
    "nbprod_model_load_failures_total": ("counter", "Attempts to load a model version that failed (backed off)."),
    "nbprod_alerts_sent_total": ("counter", "Alerts delivered to a webhook."),
    "nbprod_alerts_failed_total": ("counter", "Alerts not delivered (after retries) or dropped (queue full)."),
}


class Histogram:
    """Cumulative-bucket histogram."""

    def __init__(self, buckets: Iterable[float]) -> None:
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1

    def lines(self, name: str, labels: str = "") -> list[str]:
        out = []
        running = 0
        sep = "," if labels else ""
        for bound, count in zip(self.buckets, self.counts):
            running += count
            out.append(f'{name}_bucket{{{labels}{sep}le="{bound:g}"}} {running}')
        out.append(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.count}')
        brace = f"{{{labels}}}" if labels else ""
        out.append(f"{name}_sum{brace} {self.sum:.6f}")
        out.append(f"{name}_count{brace} {self.count}")
        return out


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    """All service metrics; :meth:`render` gives the exposition text."""

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name
        self.requests: dict[tuple[str, int], int] = {}
        self.latency: dict[str, Histogram] = {}
        self.errors: dict[str, int] = {}
        self.unseen: dict[str, int] = {}
        self.predictions = 0
        self.batch_rows = Histogram(ROW_BUCKETS)
        self.reloads = {"success": 0, "failure": 0}
        self.model_version: str | None = None
        self._lock = threading.Lock()
        #: Called at render time for gauges owned elsewhere: returns {name: value}.
        self.collectors: list[Callable[[], dict[str, float]]] = []

    def observe_request(self, endpoint: str, status: int, seconds: float) -> None:
        key = (endpoint, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        histogram = self.latency.get(endpoint)
        if histogram is None:
            histogram = self.latency[endpoint] = Histogram(LATENCY_BUCKETS)
        histogram.observe(seconds)

    def observe_error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def observe_unseen(self, column: str) -> None:
        self.unseen[column] = self.unseen.get(column, 0) + 1

    def observe_reload(self, ok: bool, version: str | None = None) -> None:
        with self._lock:
            self.reloads["success" if ok else "failure"] += 1
            if ok:
                self.model_version = version

    def render(self) -> str:
        name = _escape(self.model_name)
        lines = [
            "# HELP nbprod_requests_total HTTP requests by endpoint and status.",
            "# TYPE nbprod_requests_total counter",
        ]
        for (endpoint, status), count in sorted(self.requests.items()):
            lines.append(f'nbprod_requests_total{{endpoint="{endpoint}",status="{status}"}} {count}')
        lines += ["# HELP nbprod_request_duration_seconds Request latency in the service, by endpoint.",
                  "# TYPE nbprod_request_duration_seconds histogram"]
        for endpoint, histogram in sorted(self.latency.items()):
            lines += histogram.lines("nbprod_request_duration_seconds", f'endpoint="{endpoint}"')
        lines += ["# HELP nbprod_errors_total Failed requests by error kind.",
                  "# TYPE nbprod_errors_total counter"]
        for kind, count in sorted(self.errors.items()):
            lines.append(f'nbprod_errors_total{{kind="{_escape(kind)}"}} {count}')
        lines += ["# HELP nbprod_predictions_total Rows predicted.",
                  "# TYPE nbprod_predictions_total counter",
                  f"nbprod_predictions_total {self.predictions}",
                  "# HELP nbprod_batch_rows Rows per model call (micro-batches).",
                  "# TYPE nbprod_batch_rows histogram"]
        lines += self.batch_rows.lines("nbprod_batch_rows")
        lines += ["# HELP nbprod_unseen_categories_total Values outside the training categories, by column.",
                  "# TYPE nbprod_unseen_categories_total counter"]
        for column, count in sorted(self.unseen.items()):
            lines.append(f'nbprod_unseen_categories_total{{column="{_escape(column)}"}} {count}')
        with self._lock:
            version, reloads = self.model_version, dict(self.reloads)
        try:
            version_value = float(version) if version is not None else 0.0
        except ValueError:
            version_value = -1.0
        lines += ["# HELP nbprod_model_version Registered version of the model being served (0: none yet).",
                  "# TYPE nbprod_model_version gauge",
                  f'nbprod_model_version{{name="{name}"}} {version_value:g}',
                  "# HELP nbprod_model_ready Whether a model is loaded.",
                  "# TYPE nbprod_model_ready gauge",
                  f"nbprod_model_ready {1 if version is not None else 0}",
                  "# HELP nbprod_model_reloads_total Model (re)loads by result.",
                  "# TYPE nbprod_model_reloads_total counter"]
        for result, count in sorted(reloads.items()):
            lines.append(f'nbprod_model_reloads_total{{result="{result}"}} {count}')
        for collect in self.collectors:
            for key, value in collect().items():
                family = key.split("{", 1)[0]
                if family in COLLECTED:
                    kind, text = COLLECTED[family]
                    lines += [f"# HELP {family} {text}", f"# TYPE {family} {kind}"]
                lines.append(f"{key} {value:g}")
        return "\n".join(lines) + "\n"
