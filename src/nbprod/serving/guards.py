"""The service's guards against abuse and overload (hooked into :mod:`nbprod.serving.app`).

Abuse (a web page the operator visits must not be able to use the service):

- a ``POST`` must be ``application/json`` or ``text/csv`` (415 otherwise): browsers send
  ``text/plain``, forms and bodies without a type cross-origin without asking first;
- the ``Host`` header must be one the service is reached by (``serve.allowed_hosts``, and by default
  the bound address, ``localhost``, ``127.0.0.1`` and ``[::1]`` with the port): 400 otherwise, so a
  DNS-rebinding page cannot reach a service on loopback (``/health`` and ``/ready`` answer any Host:
  probes address the pod's IP). Bound to every interface (``0.0.0.0``,
  ``::``) with no ``allowed_hosts`` the Host is not checked (a token is required there, see
  :mod:`nbprod.serving.exposure`);
- no CORS headers unless ``serve.cors_origins`` names origins; then preflights are answered.

Overload (the service answers, quickly, whatever the clients do):

- at most ``serve.max_in_flight`` POST requests are handled at once and at most
  ``serve.max_queue_rows`` rows wait for the model: beyond, 503 with ``Retry-After``;
- a prediction not made within ``serve.request_timeout_seconds`` is answered 504; while a model
  call has run longer than that, ``/ready`` says ``stalled`` (503) and new predictions get 503
  at once, until the model thread is back;
- a client must send a request's headers within ``serve.header_timeout_seconds`` (from connecting or
  from the previous response; at most :data:`MAX_HEADER_BYTES`) and its body within
  ``serve.body_timeout_seconds`` (408); at most ``serve.max_connections`` connections are served
  (beyond, uvicorn's 503, here with ``Retry-After``: every 503 of the service carries one);
- bodies over ``serve.parse_in_thread_kb`` are parsed and validated in a thread, not on the event loop.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable, Mapping

from nbprod.serving.validation import RequestError

#: Media types a POST may carry (parameters such as ``charset=utf-8`` allowed).
ACCEPTED_TYPES = ("application/json", "text/csv")
#: Request line and headers of one request at most; beyond, 431 and the connection is closed.
MAX_HEADER_BYTES = 64 * 1024
#: What a CORS preflight may ask for.
CORS_METHODS = b"GET, POST, OPTIONS"
CORS_HEADERS = b"authorization, content-type, x-request-id"
CORS_MAX_AGE = b"600"
WILDCARD_BINDS = ("0.0.0.0", "::", "")
#: ``Retry-After`` (seconds) of a 503 that has no better estimate, such as uvicorn's own at ``serve.max_connections``.
RETRY_AFTER_SECONDS = 1
#: The answer beyond ``serve.max_connections`` (in place of uvicorn's text/plain one, which has no Retry-After).
CONNECTIONS_FULL = (b'{"error":{"kind":"overloaded","message":"too many open connections (serve.max_connections); '
                    b'retry later"}}')
#: Endpoints answered whatever the Host (liveness and readiness probes address the pod's IP; they reveal nothing
#: a rebinding page could use).
PROBES = ("/health", "/ready")


@dataclass(frozen=True)
class GuardConfig:
    """The ``serve`` settings of the guards (defaults in ``env.yaml`` only)."""

    allowed_hosts: tuple[str, ...]
    cors_origins: tuple[str, ...]
    max_in_flight: int
    max_in_flight_bytes: int
    max_queue_rows: int
    max_connections: int
    request_timeout_seconds: float
    header_timeout_seconds: float
    body_timeout_seconds: float
    parse_in_thread_bytes: int
    load_backoff_max_seconds: float

    @classmethod
    def from_settings(cls, serve: Mapping[str, Any]) -> "GuardConfig":
        """The guards of the ``serve`` settings."""
        return cls(allowed_hosts=tuple(str(host) for host in serve["allowed_hosts"]),
                   cors_origins=tuple(str(origin).rstrip("/") for origin in serve["cors_origins"]),
                   max_in_flight=int(serve["max_in_flight"]),
                   max_in_flight_bytes=int(float(serve["max_in_flight_mb"]) * 2**20),
                   max_queue_rows=int(serve["max_queue_rows"]),
                   max_connections=int(serve["max_connections"]),
                   request_timeout_seconds=float(serve["request_timeout_seconds"]),
                   header_timeout_seconds=float(serve["header_timeout_seconds"]),
                   body_timeout_seconds=float(serve["body_timeout_seconds"]),
                   parse_in_thread_bytes=int(float(serve["parse_in_thread_kb"]) * 1024),
                   load_backoff_max_seconds=float(serve["load_backoff_max_seconds"]))


class Unavailable(RequestError):
    """503 (or 504) that tells the client when to try again (``Retry-After``, whole seconds)."""

    def __init__(self, status: int, kind: str, message: str, retry_after: float) -> None:
        super().__init__(status, kind, message)
        self.retry_after = max(1, math.ceil(retry_after))


def error_headers(error: RequestError) -> list[tuple[bytes, bytes]]:
    """Response headers an error asks for (``Retry-After``)."""
    retry_after = getattr(error, "retry_after", None)
    return [(b"retry-after", str(retry_after).encode())] if retry_after else []


def unavailable_headers(status: int, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` with ``Retry-After`` (:data:`RETRY_AFTER_SECONDS`) when ``status`` is 503 and they have none:
    every 503 the service gives tells the client when to try again (loading, stalled, log full...)."""
    if status != 503 or any(name == b"retry-after" for name, _ in headers):
        return headers
    return [*headers, (b"retry-after", str(RETRY_AFTER_SECONDS).encode())]


# -- abuse ---------------------------------------------------------------------------------------

def check_content_type(headers: Mapping[bytes, bytes]) -> None:
    """Raise 415 unless the body is declared ``application/json`` or ``text/csv``."""
    declared = headers.get(b"content-type", b"")
    media = declared.split(b";", 1)[0].strip().lower().decode("latin-1")
    if media not in ACCEPTED_TYPES:
        shown = repr(declared.decode("latin-1")[:100]) if declared else "none"
        raise RequestError(415, "unsupported_media_type",
                           f"Content-Type {shown} is not accepted: send {' or '.join(ACCEPTED_TYPES)}")


def allowed_hosts(host: str, port: int, extra: Iterable[str]) -> frozenset[bytes] | None:
    """The ``Host`` header values accepted, lowercase; None: any (``"*"`` listed, or a wildcard bind
    with nothing listed).

    Parameters
    ----------
    host, port : str, int
        The bound address and port.
    extra : iterable of str
        ``serve.allowed_hosts``: names with or without a port (without: any port).
    """
    extra = [name.strip().lower() for name in extra]
    if "*" in extra or (host.strip("[]") in WILDCARD_BINDS and not extra):
        return None
    names = {"localhost", "127.0.0.1", "[::1]", host.lower() if ":" not in host else f"[{host.strip('[]').lower()}]"}
    values = {f"{name}:{port}" for name in names}
    if port == 80:
        values |= names
    for name in extra:
        values.add(name)
        if not name.endswith("]") and ":" in name:
            continue
        values.add(f"{name}:{port}")
    return frozenset(value.encode() for value in values)


def check_host(headers: Mapping[bytes, bytes], allowed: frozenset[bytes] | None) -> None:
    """Raise 400 when the request's ``Host`` is not one the service is reached by (DNS rebinding)."""
    if allowed is None:
        return
    given = headers.get(b"host", b"").strip().lower()
    if given not in allowed and given.rstrip(b".") not in allowed:
        raise RequestError(400, "host_not_allowed",
                           f"Host {given.decode('latin-1')[:100]!r} is not served here (serve.allowed_hosts)")


class Cors:
    """Cross-origin access for the origins of ``serve.cors_origins`` (``"*"``: any); none by default."""

    def __init__(self, origins: Iterable[str]) -> None:
        self.origins = frozenset(origin.encode().lower() for origin in origins)
        self.any = b"*" in self.origins

    def allow(self, headers: Mapping[bytes, bytes]) -> bytes | None:
        """The ``Access-Control-Allow-Origin`` value for this request's ``Origin``, or None."""
        origin = headers.get(b"origin")
        if not self.origins or origin is None:
            return None
        if self.any:
            return b"*"
        return origin if origin.lower().rstrip(b"/") in self.origins else None

    def response_headers(self, headers: Mapping[bytes, bytes]) -> list[tuple[bytes, bytes]]:
        """Headers of a response to an allowed cross-origin request (none otherwise)."""
        allowed = self.allow(headers)
        if allowed is None:
            return []
        return [(b"access-control-allow-origin", allowed), (b"access-control-expose-headers", b"x-request-id"),
                (b"vary", b"Origin")]

    def is_preflight(self, method: str, headers: Mapping[bytes, bytes]) -> bool:
        return bool(self.origins) and method == "OPTIONS" and b"access-control-request-method" in headers

    def preflight(self, headers: Mapping[bytes, bytes]) -> tuple[int, list[tuple[bytes, bytes]]]:
        """Status (204, or 403 for an origin not listed) and headers of a preflight's answer."""
        if self.allow(headers) is None:
            return 403, []
        return 204, [*self.response_headers(headers), (b"access-control-allow-methods", CORS_METHODS),
                     (b"access-control-allow-headers", CORS_HEADERS), (b"access-control-max-age", CORS_MAX_AGE)]


# -- overload ------------------------------------------------------------------------------------

class Admission:
    """The POST requests in the service and the body bytes they may hold, both bounded."""

    def __init__(self, limit: int, limit_bytes: int | None = None) -> None:
        self.limit = limit
        self.limit_bytes = limit_bytes
        self.in_flight = 0
        self.bytes = 0
        self.refused = 0

    def enter(self, body_bytes: int = 0) -> None:
        """Count one more request in, holding at most ``body_bytes`` of body, or raise 503 when ``limit``
        are in already or their bytes would pass ``limit_bytes`` (a request alone always gets in)."""
        if self.in_flight >= self.limit:
            self.refused += 1
            raise Unavailable(503, "overloaded", f"{self.in_flight} requests in progress (serve.max_in_flight); "
                                                 "try again shortly", 1)
        if self.limit_bytes is not None and self.in_flight and self.bytes + body_bytes > self.limit_bytes:
            self.refused += 1
            raise Unavailable(503, "overloaded", f"{self.bytes} bytes of request bodies in progress and "
                                                 f"{body_bytes} more (serve.max_in_flight_mb); try again shortly", 1)
        self.in_flight += 1
        self.bytes += body_bytes

    def leave(self, body_bytes: int = 0) -> None:
        self.in_flight -= 1
        self.bytes -= body_bytes


def body_bytes(headers: Mapping[bytes, bytes], limit: int) -> int:
    """The most body bytes a request may hold: its ``Content-Length`` (at most ``limit``), else ``limit``."""
    declared = headers.get(b"content-length", b"")
    return min(int(declared), limit) if declared.isdigit() else limit


def check_queue(queued_rows: int, rows: int, limit: int) -> None:
    """Raise 503 when ``rows`` more would put over ``limit`` rows in the model's queue (one request always fits
    an empty queue)."""
    if queued_rows and queued_rows + rows > limit:
        raise Unavailable(503, "overloaded", f"{queued_rows} rows are waiting for the model "
                                             "(serve.max_queue_rows); try again shortly", 1)


def check_stalled(busy_seconds: float | None, timeout: float) -> None:
    """Raise 503 while the model call in progress has run longer than ``timeout``."""
    if busy_seconds is not None and busy_seconds > timeout:
        raise Unavailable(503, "model_stalled", f"the model has not answered for {busy_seconds:.0f} s "
                                                "(serve.request_timeout_seconds); see GET /ready", timeout)


async def within_deadline(prediction: Awaitable, seconds: float) -> Any:
    """The result of ``prediction``, or 504 when it takes longer than ``seconds`` (it is then cancelled)."""
    try:
        return await asyncio.wait_for(prediction, max(seconds, 0.001))
    except asyncio.TimeoutError:
        raise Unavailable(504, "deadline_exceeded", "no prediction within serve.request_timeout_seconds; the model "
                                                    "is slow or stalled (see GET /ready)", 1) from None


def timed_receive(receive: Callable[[], Awaitable[dict]], seconds: float) -> Callable[[], Awaitable[dict]]:
    """``receive`` that raises 408 when the whole body has not arrived ``seconds`` after the first call."""
    deadline: list[float] = []

    async def receive_in_time() -> dict:
        if not deadline:
            deadline.append(time.monotonic() + seconds)
        try:
            return await asyncio.wait_for(receive(), max(deadline[0] - time.monotonic(), 0.001))
        except asyncio.TimeoutError:
            raise RequestError(408, "body_timeout", f"the request body did not arrive within {seconds:g} s "
                                                    "(serve.body_timeout_seconds)") from None

    return receive_in_time


# -- slow clients: uvicorn ---------------------------------------------------------------------------

def header_timeout_protocol(seconds: float, max_header_bytes: int = MAX_HEADER_BYTES) -> type:
    """uvicorn's httptools protocol, closing a connection that has not sent a request's headers within
    ``seconds`` of connecting or of the previous response (uvicorn's keep-alive timer is reset by any
    byte, so one byte every few seconds would hold a connection for ever), or sends over
    ``max_header_bytes`` of them (431)."""
    from uvicorn.protocols.http.flow_control import service_unavailable
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class HeaderTimeoutProtocol(HttpToolsProtocol):
        header_timer: asyncio.TimerHandle | None = None
        header_bytes = 0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._await_headers()

        def _await_headers(self) -> None:
            self.header_bytes = 0
            self.header_timer = self.loop.call_later(seconds, self._headers_late)

        def _headers_late(self) -> None:
            self.header_timer = None
            if not self.transport.is_closing():
                self.transport.close()

        def _headers_in(self) -> None:
            if self.header_timer is not None:
                self.header_timer.cancel()
                self.header_timer = None

        def data_received(self, data: bytes) -> None:
            if self.header_timer is not None:
                self.header_bytes += len(data)
            super().data_received(data)
            if self.header_timer is not None and self.header_bytes > max_header_bytes \
                    and not self.transport.is_closing():
                self._headers_in()
                self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n"
                                     b"connection: close\r\n\r\n")
                self.transport.close()

        def on_headers_complete(self) -> None:
            self._headers_in()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            pipelined = bool(self.pipeline)
            super().on_response_complete()
            if not pipelined and not self.transport.is_closing():
                self._await_headers()

        def connection_lost(self, exc: Exception | None) -> None:
            self._headers_in()
            super().connection_lost(exc)

        def _start_asgi_task(self, cycle: Any, app: Any) -> None:
            # uvicorn answers beyond limit_concurrency (serve.max_connections) with its own app
            super()._start_asgi_task(cycle, connections_full if app is service_unavailable else app)

    return HeaderTimeoutProtocol


async def connections_full(scope: dict, receive: Any, send: Any) -> None:
    """The 503 beyond ``serve.max_connections``: uvicorn's, with ``Retry-After`` and a JSON error."""
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(CONNECTIONS_FULL)).encode()),
                            (b"retry-after", str(RETRY_AFTER_SECONDS).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": CONNECTIONS_FULL, "more_body": False})


def uvicorn_options(guard: GuardConfig) -> dict[str, Any]:
    """Keyword arguments of ``uvicorn.run``/``uvicorn.Config`` for the guards against slow clients."""
    return {"http": header_timeout_protocol(guard.header_timeout_seconds),
            "limit_concurrency": guard.max_connections}
