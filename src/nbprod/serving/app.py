"""The prediction service: a lean ASGI application (run by uvicorn, see :mod:`nbprod.serving.command`).

HTTP API
--------
``POST /predict``
    Body: one record (a JSON object ``{"column": value, ...}``), a list of records
    ``[{...}, {...}]``, ``{"records": [{...}, ...]}``, one of MLflow's wrappers
    (``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs``), or CSV with
    ``Content-Type: text/csv`` (see :mod:`nbprod.serving.protocols`). Records are checked against
    the model's feature contract (see :mod:`nbprod.serving.validation`). Response 200::

        {"request_id": "...", "model": {"name": "nbprod-model", "version": "3"},
         "predictions": ["Yes", "No"],                   # one label per record, always a list
         "probabilities": [[0.31, 0.69], [0.8, 0.2]],    # classification: one per class, in "classes" order
         "classes": ["No", "Yes"],                       # classification only: the model's labels
         "positive_class": "Yes", "threshold": 0.5,      # binary only: "Yes" when P("Yes") >= threshold
                                                         # (multiclass: the most probable class)
         "warnings": [{"record": 1, "column": "dest", "problem": "unseen_category",
                       "message": "..."}]}               # unseen categories, ignored columns

    Errors (4xx, and 5xx should one happen) are JSON too::

        {"request_id": "...", "error": {"kind": "wrong_type", "message": "record 0, column
         'distance': expected a number, got str 'far'", "details": [{"record": 0,
         "column": "distance", "problem": "wrong_type", "message": "..."}]}}

    400 ``malformed_json``/``malformed_csv``/``bad_shape`` (an unknown wrapper key: the message
    names the accepted ones); 401 ``unauthorized`` (token set, header missing or
    wrong); 408 ``body_timeout`` (``serve.body_timeout_seconds``); 415 ``unsupported_media_type``
    (a POST must be ``application/json`` or ``text/csv``); 413 ``body_too_large``
    (``serve.max_body_mb``)/``too_many_rows`` (``serve.max_rows``);
    422 ``empty_input``, ``missing_column``, ``wrong_type``, ``null_not_allowed``,
    ``not_finite``, ``out_of_range``, ``too_long`` (``serve.max_text_chars``), ``invalid_text``,
    ``duplicate_key``, ``not_an_object`` (``invalid_input`` when several kinds); 503
    ``not_ready`` (no model loaded yet), ``log_full`` (the prediction log holds
    ``serve.log_max_rows`` unwritten rows, e.g. a full disk, and ``serve.log_policy`` is
    ``refuse``), ``overloaded`` (``serve.max_in_flight``/``max_queue_rows``),
    ``model_stalled`` (a model call over ``serve.request_timeout_seconds``); every 503 (these, ``/ready``'s,
    and beyond ``serve.max_connections``) carries ``Retry-After``;
    504 ``deadline_exceeded`` (no prediction within ``serve.request_timeout_seconds``). Any endpoint:
    400 ``host_not_allowed`` (``Host`` not in ``serve.allowed_hosts``; not checked on ``/health`` and ``/ready``;
    see :mod:`nbprod.serving.guards`).
    Columns the contract does not name are ignored and reported in ``warnings``.
``GET /health``
    200 ``{"status": "alive"}`` while the process serves HTTP.
``GET /ready``
    200 ``{"status": "ready", "model": {...name, version, alias, task, threshold, classes,
    positive_class}}`` (the last two for classifiers, ``positive_class`` when binary) once a
    model is loaded (with ``"reload_error"``, a one-line reason, while the alias cannot be resolved or its
    version fails to load and is retried with back-off); 503 ``{"status": "loading", "error": ...}`` before, ``{"status": "stalled"}``
    while a model call has run over ``serve.request_timeout_seconds``.
``GET /metrics``
    Prometheus text exposition (see :mod:`nbprod.serving.metrics`).
``POST /invocations``, ``GET /ping``
    MLflow's scoring protocol (as ``mlflow models serve``): the same bodies, answered
    ``{"predictions": [...]}``; errors ``{"error_code": "BAD_REQUEST", "message": ...}``.
``/v2/health/live``, ``/v2/health/ready``, ``/v2/models/{name}``, ``POST /v2/models/{name}/infer``
    The Open Inference Protocol (KServe v2), one input tensor per contract column
    (see :mod:`nbprod.serving.protocols`).
``GET /openapi.json``, ``GET /docs``
    The OpenAPI document generated from the loaded model's contract, and a self-contained
    page of it (see :mod:`nbprod.serving.openapi`); both follow the alias.

Request ids: the service makes its own ``request_id`` for every request (in the body; the prediction log's
key that labels are joined on). A client's ``X-Request-ID`` is kept as ``client_request_id``: echoed in the
``X-Request-ID`` response header (the service's id when the client sent none), in the body and in the log,
never used as a join key. CORS headers only for ``serve.cors_origins``.
When the environment variable named by ``serve.token_env`` is set, ``/predict``, ``/invocations``,
``/v2/models/{name}/infer``, ``/openapi.json`` and ``/docs`` (the contract: columns and the categories seen
in training) require ``Authorization: Bearer <its value>``; the probes (``/health``, ``/ready``, ``/ping``,
``/v2/health/*``), ``/metrics`` and the Open Inference Protocol's metadata stay open.

Performance: requests are validated on the event loop without pandas, then queued;
a single model thread takes everything queued (up to ``max_batch_rows``) and makes one
``predict_proba`` call for it. Under concurrent load the batcher waits up to
``batch_wait_ms`` (2 ms) for as many requests as recent batches held, so the clients of
one batch land in the next one together; a lone client never waits. The model reference is swapped atomically when the
alias moves; a queued request is always predicted by the version that validated it.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import hmac
import json
import logging
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbprod import alerts
from nbprod.serving import BATCH_WAIT_MS, MAX_BATCH_ROWS, guards, protocols
from nbprod.serving.guards import GuardConfig
from nbprod.serving.metrics import Metrics
from nbprod.serving.protocols import class_fields  # noqa: F401 - its home was here
from nbprod.serving.validation import RequestError, Validated

log = logging.getLogger("nbprod.serving")

ENDPOINTS = ("/predict", "/recommend", "/health", "/ready", "/metrics")
JSON = b"application/json"
TEXT = b"text/plain; version=0.0.4; charset=utf-8"


@dataclass
class ServeConfig:
    """What the service needs: the project's ``serve``, ``registry`` and ``tracking`` settings (whose defaults
    live in ``env.yaml`` only), and the command's flags."""

    model_name: str
    alias: str
    tracking_uri: str
    host: str
    port: int
    token: str | None
    max_body_bytes: int
    max_rows: int
    max_text_chars: int
    reload_seconds: float
    log_folder: Path | None
    log_flush_rows: int
    log_flush_seconds: float
    alerts: Any                           # nbprod.alerts.AlertConfig (the ``alerts`` settings), None: no alerts
    log_max_rows: int | None              # rows the log holds in memory at most (None: no bound)
    log_policy: str                       # at that bound: refuse (503) or serve unlogged
    guard: GuardConfig                    # abuse and overload: nbprod.serving.guards
    max_batch_rows: int = MAX_BATCH_ROWS
    batch_wait_ms: float = BATCH_WAIT_MS

    @classmethod
    def from_project(cls, project: Any, **overrides: Any) -> "ServeConfig":
        """The configuration of :class:`nbprod.project.Project` ``project``; ``overrides`` that are not None win."""
        serve = project.settings["serve"]
        config = cls(
            model_name=project.model_name,
            alias=project.alias,
            tracking_uri=project.tracking_uri(),
            host=serve["host"],
            port=int(serve["port"]),
            token=os.environ.get(serve["token_env"]) or None,
            max_body_bytes=int(float(serve["max_body_mb"]) * 2**20),
            max_rows=int(serve["max_rows"]),
            max_text_chars=int(serve["max_text_chars"]),
            reload_seconds=float(serve["reload_seconds"]),
            log_folder=project.prediction_log,
            log_flush_rows=int(serve["log_flush_rows"]),
            log_flush_seconds=float(serve["log_flush_seconds"]),
            alerts=alerts.AlertConfig.from_settings(project.settings["alerts"]),
            log_max_rows=int(serve["log_max_rows"]),
            log_policy=serve["log_policy"],
            guard=GuardConfig.from_settings(serve),
        )
        for key, value in overrides.items():
            if value is not None:
                setattr(config, key, value)
        return config


class MicroBatcher:
    """Gather concurrent requests into one model call, run off the event loop (in the model thread) unless
    the model says a call of that many rows is short and bounded (``inline_rows``: the compiled trees)."""

    def __init__(self, metrics: Metrics, max_rows: int, wait_seconds: float = BATCH_WAIT_MS / 1000) -> None:
        self.metrics = metrics
        self.max_rows = max_rows
        self.wait_seconds = wait_seconds
        self.pending: collections.deque = collections.deque()
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="nbprod-model", initializer=_model_thread_config)
        self.wakeup = asyncio.Event()
        self.filled = asyncio.Event()
        self.wanted = 0
        self.recent: collections.deque = collections.deque([1], maxlen=8)  # requests per recent batch
        self.stopping = False
        self.task: asyncio.Task | None = None
        self.queued_rows = 0                      # rows waiting (serve.max_queue_rows)
        self.busy_since: float | None = None      # monotonic start of the model call in progress

    def busy_seconds(self) -> float | None:
        """How long the model call in progress has run (None: the model thread is idle)."""
        since = self.busy_since
        return None if since is None else time.monotonic() - since

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def predict(self, model: Any, validated: Validated) -> tuple[Any, Any]:
        if self.task is None:  # nothing would ever answer: a service used without its lifespan
            raise RuntimeError("the micro-batcher is not started (the service's startup starts it)")
        future = asyncio.get_running_loop().create_future()
        self.pending.append((model, validated, future))
        self.queued_rows += validated.rows
        self.wakeup.set()
        if self.wanted and len(self.pending) >= self.wanted:
            self.filled.set()
        return await future

    async def gather(self) -> None:
        """Under concurrent load, wait (at most ``wait_seconds``) until as many requests are queued
        as recent batches held: clients answered by the last batch are sending their next request.
        Under light load (recent batches of one request) nothing waits."""
        target = max(self.recent)
        if target <= 1 or len(self.pending) >= target or self.stopping or not self.wait_seconds:
            return
        self.wanted = target
        self.filled.clear()
        try:
            await asyncio.wait_for(self.filled.wait(), self.wait_seconds)
        except asyncio.TimeoutError:
            pass
        finally:
            self.wanted = 0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            while self.pending:
                await self.gather()
                model, first, future = self.pending.popleft()
                batch, rows = [(first, future)], first.rows
                while (self.pending and self.pending[0][0] is model
                       and rows + self.pending[0][1].rows <= self.max_rows):
                    _, validated, future = self.pending.popleft()
                    batch.append((validated, future))
                    rows += validated.rows
                self.queued_rows -= rows
                if any(future.done() for _, future in batch):  # abandoned past their deadline: not predicted
                    batch = [(validated, future) for validated, future in batch if not future.done()]
                    rows = sum(validated.rows for validated, _ in batch)
                    if not batch:
                        continue
                self.busy_since = time.monotonic()
                try:
                    requests = [validated for validated, _ in batch]
                    if rows <= getattr(model, "inline_rows", 0):  # no hand-over to the model thread and back
                        results = predict_batch(model, requests)
                    else:
                        results = await loop.run_in_executor(self.executor, predict_batch, model, requests)
                except BaseException as error:  # noqa: BLE001 - handed to the waiting requests
                    results = [error] * len(batch)
                finally:
                    self.busy_since = None
                self.metrics.batch_rows.observe(rows)
                self.recent.append(len(batch))
                for (_, future), result in zip(batch, results):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
            if self.stopping:
                return

    async def stop(self) -> None:
        self.stopping = True
        self.wakeup.set()
        if self.task is not None:
            await self.task
        self.executor.shutdown(wait=True)


def _model_thread_config() -> None:
    """Settings of the model thread (all thread-local).

    scikit-learn: inputs are validated already, so skip the finiteness and parameter
    re-checks on every call. OpenMP: one thread. A micro-batch is a few rows, where
    starting and joining a team of threads costs more than it saves, and a second
    thread competes with the event loop for the cores (p99 of a 1-row request doubled).
    """
    import sklearn
    import sklearn.ensemble  # noqa: F401 - loads the OpenMP runtime, so that it can be limited
    from threadpoolctl import threadpool_limits

    sklearn.set_config(assume_finite=True, skip_parameter_validation=True)
    threadpool_limits(limits=1, user_api="openmp")


def predict_batch(model: Any, batch: list[Validated]) -> list:
    """One model call for several requests; a failing batch is retried request by request."""
    if len(batch) == 1:
        columns = batch[0].columns
    else:
        columns = {name: [value for validated in batch for value in validated.columns[name]]
                   for name in model.contract.names}
    try:
        predictions, probabilities = model.predict_columns(columns)
    except Exception as error:
        if len(batch) == 1:
            return [error]
        return [result for validated in batch for result in predict_batch(model, [validated])]
    results, start = [], 0
    for validated in batch:
        stop = start + validated.rows
        results.append((predictions[start:stop], None if probabilities is None else probabilities[start:stop]))
        start = stop
    return results


def _json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()


class PredictionService:
    """The ASGI application. ``loader`` (tests) replaces the registry watcher."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.model = None
        self.metrics = Metrics(config.model_name)
        self.log = None
        # the service's own: requests queue here from construction; startup() starts its model loop
        self.batcher = MicroBatcher(self.metrics, config.max_batch_rows, config.batch_wait_ms / 1000)
        self.watcher = None
        self.alerts = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.token = config.token.encode() if config.token else None
        self.metrics.collectors.append(self._log_metrics)
        self.router = protocols.Router(config.model_name, self.token is not None)  # MLflow, KServe v2, OpenAPI
        self.hosts = guards.allowed_hosts(config.host, config.port, config.guard.allowed_hosts)
        self.cors = guards.Cors(config.guard.cors_origins)
        self.admission = guards.Admission(config.guard.max_in_flight, config.guard.max_in_flight_bytes)
        self.parser: ThreadPoolExecutor | None = None
        self.reported_error: str | None = None
        self.metrics.collectors.append(self._guard_metrics)

    # -- lifecycle -------------------------------------------------------------------------

    async def startup(self) -> None:
        from nbprod.serving.model_source import AliasWatcher
        from nbprod.serving.prediction_log import PredictionLogWriter

        self.loop = asyncio.get_running_loop()
        if self.config.log_folder is not None:
            self.log = PredictionLogWriter(self.config.log_folder, self.config.log_flush_rows,
                                           self.config.log_flush_seconds, self.config.log_max_rows,
                                           self.config.log_policy)
        self.batcher.start()
        self.parser = ThreadPoolExecutor(2, thread_name_prefix="nbprod-parse")
        wanted = self.config.alerts is not None and self.config.alerts.webhooks
        self.alerts = alerts.BackgroundNotifier(self.config.alerts) if wanted else None
        self.metrics.collectors.append(lambda: self.alerts.counts() if self.alerts else {})
        self.watcher = AliasWatcher(self.config.tracking_uri, self.config.model_name, self.config.alias,
                                    self.config.reload_seconds, self._loaded, self._load_failed,
                                    self.config.guard.load_backoff_max_seconds)
        self.watcher.start()

    async def shutdown(self) -> None:
        """Called after uvicorn has answered in-flight requests: stop polling, drain, flush the log."""
        if self.watcher is not None:
            self.watcher.stop()
        if self.alerts is not None:
            self.alerts.close()
        await self.batcher.stop()
        if self.parser is not None:
            self.parser.shutdown(wait=False)
        if self.log is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.log.close)
            log.info("prediction log flushed: %d rows in %d files", self.log.rows_written, self.log.files_written)

    def _loaded(self, model: Any) -> None:  # watcher thread
        model.validator.max_text_chars = self.config.max_text_chars  # before any request sees the model

        def swap() -> None:
            previous, self.model = self.model, model
            self.metrics.observe_reload(True, model.version)
            # the long-lived objects (libraries, the model) leave the garbage collector's view:
            # full collections then scan only request garbage, no 50-100 ms pauses under load
            gc.freeze()
            log.warning("serving %s version %s%s", model.name, model.version,
                        f" (was {previous.version})" if previous is not None else "")
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(swap)

    def _load_failed(self, error: BaseException) -> None:  # watcher thread
        self.metrics.observe_reload(False)
        reason = self.watcher.last_error if self.watcher else str(error)
        if reason != self.reported_error:  # once per reason, not at every poll
            self.reported_error = reason
            log.warning("model not (re)loaded: %s", reason)
        if self.alerts is not None and self.watcher is not None and self.watcher.failed_version:
            version = self.watcher.failed_version
            self.alerts.send(alerts.load_failed_event(self.config.model_name, version, str(error)), once=version)

    def _guard_metrics(self) -> dict[str, float]:
        failures = self.watcher.load_failures if self.watcher is not None else 0
        return {"nbprod_in_flight_requests": self.admission.in_flight,
                "nbprod_queued_rows": self.batcher.queued_rows,
                "nbprod_model_load_failures_total": failures}

    def _log_metrics(self) -> dict[str, float]:
        if self.log is None:
            return {}
        return {"nbprod_prediction_log_rows_total": self.log.rows_written,
                "nbprod_prediction_log_buffered_rows": self.log.rows_buffered,
                "nbprod_prediction_log_write_errors_total": self.log.write_errors,
                "nbprod_prediction_log_unlogged_rows_total": self.log.rows_unlogged,
                "nbprod_prediction_log_refused_rows_total": self.log.rows_refused}

    # -- ASGI ------------------------------------------------------------------------------

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await self.http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)

    async def lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as error:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await self.shutdown()
                finally:
                    await send({"type": "lifespan.shutdown.complete"})
                return

    async def http(self, scope: dict, receive: Any, send: Any) -> None:
        started = time.perf_counter()
        arrived = time.time()
        path = scope["path"]
        headers = dict(scope["headers"])
        request_id = uuid.uuid4().hex  # the service's own: the prediction log's join key
        client_id = client_request_id(headers)
        content_type = JSON
        extra: list = self.cors.response_headers(headers)
        admitted: int | None = None  # once admitted: the body bytes counted in (serve.max_in_flight_mb)
        try:
            if path not in guards.PROBES:  # kubelet probes send the pod's IP as Host
                guards.check_host(headers, self.hosts)
            if self.cors.is_preflight(scope["method"], headers):
                status, extra = self.cors.preflight(headers)
                await send({"type": "http.response.start", "status": status,
                            "headers": [(b"content-length", b"0"), *extra]})
                await send({"type": "http.response.body", "body": b""})
                return
            if scope["method"] == "POST":
                guards.check_content_type(headers)
                held = guards.body_bytes(headers, self.config.max_body_bytes)
                self.admission.enter(held)
                admitted = held
            if path == "/predict":
                if scope["method"] != "POST":
                    raise RequestError(405, "method_not_allowed", "use POST /predict")
                status, body = 200, await self.predict(headers, receive, request_id, arrived, client_id)
            elif path == "/recommend":  # a recommender project (nbprod.serving.recommend)
                if scope["method"] != "POST":
                    raise RequestError(405, "method_not_allowed", "use POST /recommend")
                from nbprod.serving import recommend

                status, body = 200, await recommend.handle(self, headers, receive, request_id, arrived)
            elif path == "/health":
                status, body = 200, b'{"status":"alive"}'
            elif path == "/ready":
                status, body = self.ready()
            elif path == "/metrics":
                status, body, content_type = 200, self.metrics.render().encode(), TEXT
            else:  # -- the protocols' endpoints (nbprod.serving.protocols) --
                answer = await self.router.handle(self, scope, receive, headers, request_id, arrived, client_id)
                if answer is None:
                    raise RequestError(404, "not_found", f"no endpoint {path}; try POST /predict, "
                                                         "GET /health, /ready, /metrics or /docs")
                status, body, content_type, extra = answer
        except RequestError as error:
            status = error.status
            self.metrics.observe_error(error.kind)
            body = protocols.error_body(path, request_id, error, client_id)
            extra += guards.error_headers(error)
            if status == 401:
                extra.append((b"www-authenticate", b'Bearer realm="nbprod"'))
        except Exception:
            log.exception("request %s (client id %s) failed", request_id, client_id)
            status = 500
            self.metrics.observe_error("internal")
            body = protocols.error_body(path, request_id, RequestError(500, "internal",
                                                                       "internal error; see the service log"),
                                        client_id)
        finally:
            if admitted is not None:
                self.admission.leave(admitted)
        echoed = (client_id or request_id).encode("latin-1", "replace")
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
                                (b"x-request-id", echoed), *guards.unavailable_headers(status, extra)]})
        await send({"type": "http.response.body", "body": body})
        self.metrics.observe_request(path if path in ENDPOINTS else self.router.label(path) or "other", status,
                                     time.perf_counter() - started)

    def ready(self) -> tuple[int, bytes]:
        model = self.model
        if model is None:
            error = self.watcher.last_error if self.watcher is not None else None
            return 503, _json({"status": "loading", "model": {"name": self.config.model_name,
                                                              "alias": self.config.alias}, "error": error})
        busy = self.batcher.busy_seconds()
        if busy is not None and busy > self.config.guard.request_timeout_seconds:
            return 503, _json({"status": "stalled", "model": {"name": model.name, "version": model.version},
                               "error": f"the model call in progress has run for {busy:.0f} s "
                                        "(over serve.request_timeout_seconds)"})
        described = {"name": model.name, "version": model.version, "alias": self.config.alias, "task": model.task,
                     "threshold": model.threshold, "run_id": model.run_id, "loaded_at": model.loaded_at}
        if model.labels is not None:
            described.update(class_fields(model))
        ready: dict[str, Any] = {"status": "ready", "model": described}
        failing = self.watcher.failure_note() if self.watcher is not None else None
        if failing:
            ready["reload_error"] = failing
        return 200, _json(ready)

    async def read_body(self, headers: dict, receive: Any) -> bytes:
        limit = self.config.max_body_bytes
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise RequestError(413, "body_too_large",
                               f"request body of {int(declared)} bytes is over the limit of {limit} bytes")
        chunks, size = [], 0
        receive = guards.timed_receive(receive, self.config.guard.body_timeout_seconds)
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise RequestError(400, "disconnected", "client disconnected")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise RequestError(413, "body_too_large", f"request body is over the limit of {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def authorize(self, headers: dict) -> None:
        """Raise 401 ``unauthorized`` when a token is configured and the request does not carry it."""
        if self.token is not None:
            given = headers.get(b"authorization", b"")
            if not (given[:7].lower() == b"bearer " and hmac.compare_digest(given[7:].strip(), self.token)):
                raise RequestError(401, "unauthorized", "missing or wrong bearer token "
                                                        "(send 'Authorization: Bearer <token>')")

    async def predict(self, headers: dict, receive: Any, request_id: str, arrived: float,
                      client_id: str | None = None, protocol: protocols.Protocol = protocols.NBPROD) -> bytes:
        """Read, validate, predict, log and answer one request in ``protocol``'s shapes."""
        self.authorize(headers)
        model = self.model
        if model is None:
            raise RequestError(503, "not_ready", "no model loaded yet; see GET /ready")
        guard = self.config.guard
        busy = self.batcher.busy_seconds()
        guards.check_stalled(busy, guard.request_timeout_seconds)
        body = await self.read_body(headers, receive)
        read = time.monotonic()  # the deadline counts the service's work, not the client's upload
        reading = (protocol, protocols.media_type(headers), body, model, self.config.max_rows)
        if len(body) > guard.parse_in_thread_bytes:  # a large body: parsed and validated off the event loop
            parsed, validated = await asyncio.get_running_loop().run_in_executor(self.parser, protocols.read,
                                                                                 *reading)
        else:
            parsed, validated = protocols.read(*reading)
        guards.check_queue(self.batcher.queued_rows, validated.rows, guard.max_queue_rows)
        remaining = guard.request_timeout_seconds - (time.monotonic() - read)
        predictions, probabilities = await guards.within_deadline(self.batcher.predict(model, validated), remaining)
        if self.log is not None and not self.log.append(model.contract.names, validated.columns, predictions,
                                                        probabilities, model.name, model.version, request_id,
                                                        arrived, model.labels, client_id):
            raise RequestError(503, "log_full", "the prediction log is full (its writes fail: disk full?); "
                                                "no prediction is served unlogged (serve.log_policy); retry later")
        self.metrics.predictions += validated.rows
        for warning in validated.warnings:
            if warning["problem"] == "unseen_category":
                self.metrics.observe_unseen(warning["column"])
        return protocol.respond(protocols.Answer(model, validated, predictions, probabilities, request_id,
                                                 client_id), parsed)


def client_request_id(headers: dict) -> str | None:
    """The client's ``X-Request-ID`` (printable ASCII, at most 200 characters), or None: echoed and logged,
    never the key predictions are joined on (two clients may send the same)."""
    given = headers.get(b"x-request-id")
    if not given:
        return None
    text = given.decode("latin-1")[:200]
    return "".join(char for char in text if " " <= char <= "~") or None


def build_app(config: ServeConfig) -> PredictionService:
    """The ASGI application for ``config``."""
    return PredictionService(config)
