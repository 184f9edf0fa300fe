"""The service's guards over real HTTP (one in-process uvicorn server for the module): content types, Host,
CORS, client request ids, slow and half-open clients, bounded in-flight requests and model queue, a hung
model call, large bodies parsed off the event loop."""

from __future__ import annotations

import dataclasses
import http.client
import json
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import MODEL_NAME, free_port
from test_alerts import default_guard

from nbprod.serving.app import PredictionService, ServeConfig
from nbprod.serving.guards import Cors, uvicorn_options

pytestmark = pytest.mark.slow

ALLOWED_HOST = "api.example.com"
ORIGIN = "https://app.example.com"


@dataclasses.dataclass
class InProcess:
    """A started service in a uvicorn thread of this process."""

    service: PredictionService
    port: int
    log_folder: object
    server: object = None  # the uvicorn.Server

    def request(self, method: str, path: str, body=None, headers=None, timeout: float = 10.0):
        """``(status, headers, parsed JSON body or text)``; JSON content type unless ``headers`` say otherwise."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        try:
            connection.request(method, path, data, {"Content-Type": "application/json", **(headers or {})})
            response = connection.getresponse()
            raw = response.read()
            head = {key.lower(): value for key, value in response.getheaders()}
        finally:
            connection.close()
        try:
            return response.status, head, json.loads(raw)
        except ValueError:
            return response.status, head, raw.decode()


@pytest.fixture(scope="module")
def served(project, tmp_path_factory):
    """The version-1 model behind small guards: 1 s header/body timeouts, 1.5 s deadline, 4 requests in flight,
    50 queued rows, an extra allowed Host and one CORS origin; bodies over 1 KB parsed in a thread."""
    import uvicorn

    folder = tmp_path_factory.mktemp("guarded")
    port = free_port()
    guard = default_guard(allowed_hosts=(ALLOWED_HOST,), cors_origins=(ORIGIN,), max_in_flight=4, max_queue_rows=50,
                          request_timeout_seconds=1.5, header_timeout_seconds=1.0, body_timeout_seconds=1.0,
                          parse_in_thread_bytes=1024)
    config = ServeConfig(model_name=MODEL_NAME, alias="champion", tracking_uri=project.tracking_uri, host="127.0.0.1",
                         port=port, token=None, max_body_bytes=2**20, max_rows=50, max_text_chars=1000, reload_seconds=60,
                         log_folder=folder / "predictions", log_flush_rows=10_000, log_flush_seconds=0.2, alerts=None,
                         log_max_rows=None, log_policy="refuse", guard=guard)
    service = PredictionService(config)
    server = uvicorn.Server(uvicorn.Config(service, host="127.0.0.1", port=port, lifespan="on", log_level="warning",
                                           access_log=False, **uvicorn_options(guard)))
    thread = threading.Thread(target=server.run, name="guarded-server", daemon=True)
    thread.start()
    running = InProcess(service, port, folder / "predictions", server)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if running.request("GET", "/ready", timeout=2)[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.2)
    else:
        raise TimeoutError("the in-process service did not become ready")
    yield running
    server.should_exit = True
    thread.join(60)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          None, "application/jsonx"])
def test_a_post_that_is_neither_json_nor_csv_is_refused_415(served, good_records, content_type):
    headers = {"Content-Type": content_type} if content_type else {"Content-Type": ""}
    status, _, body = served.request("POST", "/predict", good_records[0], headers)
    assert status == 415 and body["error"]["kind"] == "unsupported_media_type"
    assert "application/json" in body["error"]["message"] and "text/csv" in body["error"]["message"]


def test_json_with_a_charset_is_accepted(served, good_records):
    status, _, body = served.request("POST", "/predict", good_records[0],
                                     {"Content-Type": "Application/JSON; charset=utf-8"})
    assert status == 200, body


@pytest.mark.parametrize("host, expected", [("evil.example:{port}", 400), ("evil.example", 400),
                                            ("localhost:{port}", 200), ("127.0.0.1:{port}", 200),
                                            ("[::1]:{port}", 200), (ALLOWED_HOST, 200),
                                            (f"{ALLOWED_HOST}:{{port}}", 200), ("localhost:1", 400)])
def test_only_the_hosts_the_service_is_reached_by_are_served(served, host, expected):
    status, _, body = served.request("GET", "/metrics", headers={"Host": host.format(port=served.port)})
    assert status == expected, body
    if expected == 400:
        assert body["error"]["kind"] == "host_not_allowed"
        status, _, body = served.request("POST", "/predict", {}, headers={"Host": host.format(port=served.port)})
        assert status == 400 and body["error"]["kind"] == "host_not_allowed"
    assert served.request("GET", "/health", headers={"Host": host.format(port=served.port)})[0] == 200  # probes


def test_a_cors_preflight_is_answered_for_the_configured_origin_only(served, good_records):
    ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    status, headers, _ = served.request("OPTIONS", "/predict", headers={"Origin": ORIGIN, **ask})
    assert status == 204 and headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in headers["access-control-allow-methods"]
    assert "content-type" in headers["access-control-allow-headers"]
    status, headers, _ = served.request("OPTIONS", "/predict", headers={"Origin": "https://evil.example", **ask})
    assert status == 403 and "access-control-allow-origin" not in headers
    status, headers, _ = served.request("POST", "/predict", good_records[0], {"Origin": ORIGIN})
    assert status == 200 and headers["access-control-allow-origin"] == ORIGIN
    status, headers, _ = served.request("POST", "/predict", good_records[0], {"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in headers


def test_no_cors_unless_configured():
    cors = Cors(())
    headers = {b"origin": b"https://app.example.com", b"access-control-request-method": b"POST"}
    assert cors.response_headers(headers) == [] and not cors.is_preflight("OPTIONS", headers)


def test_the_client_request_id_is_echoed_and_logged_but_the_join_key_is_the_services(served, good_records):
    from nbprod.serving.prediction_log import read_prediction_log

    ids = []
    for _ in range(2):  # the same client id twice: two requests, two keys
        status, headers, body = served.request("POST", "/predict", good_records[:2], {"X-Request-ID": "mine-1"})
        assert status == 200 and headers["x-request-id"] == "mine-1" and body["client_request_id"] == "mine-1"
        ids.append(body["request_id"])
    assert len(set(ids)) == 2 and "mine-1" not in ids
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        log = read_prediction_log(served.log_folder)
        mine = log[log["client_request_id"] == "mine-1"]
        if len(mine) == 4:
            break
        time.sleep(0.1)
    assert sorted(mine["request_id"]) == sorted(ids * 2) and sorted(mine["row"]) == [0, 0, 1, 1]


def test_half_open_connections_are_closed_and_health_answers_meanwhile(served):
    sockets = []
    try:
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", served.port))
            sock.sendall(b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # headers never finished
            sockets.append(sock)
        latencies = []
        for _ in range(10):
            started = time.perf_counter()
            assert served.request("GET", "/health", timeout=2)[0] == 200
            latencies.append(time.perf_counter() - started)
        assert statistics.median(latencies) < 0.1, latencies
        time.sleep(1.5)  # past serve.header_timeout_seconds
        for sock in sockets:
            sock.settimeout(2)
            assert sock.recv(100) == b""  # closed by the service
    finally:
        for sock in sockets:
            sock.close()


def test_beyond_max_connections_the_503_says_when_to_retry(served):
    config = served.server.config
    config.limit_concurrency = 3  # serve.max_connections, read by each new connection
    sockets = []
    try:
        for _ in range(2):
            sockets.append(socket.create_connection(("127.0.0.1", served.port)))
            sockets[-1].sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # kept alive
            assert sockets[-1].recv(4096).startswith(b"HTTP/1.1 200")
        status, headers, body = served.request("GET", "/health")  # the third connection: at the limit
    finally:
        config.limit_concurrency = served.service.config.guard.max_connections
        for sock in sockets:
            sock.close()
    assert status == 503 and int(headers["retry-after"]) >= 1, (status, headers, body)
    assert body["error"]["kind"] == "overloaded" and "serve.max_connections" in body["error"]["message"]
    time.sleep(0.2)
    assert served.request("GET", "/health")[0] == 200


def test_a_body_that_trickles_gets_408(served):
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as sock:
        sock.sendall(f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\nContent-Type: application/json\r\n"
                     "Content-Length: 1000\r\n\r\n[{".encode())
        started = time.monotonic()
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408") and b"body_timeout" in answer
    assert time.monotonic() - started < 3


def test_headers_over_the_limit_get_431(served):
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Pad: " + b"a" * 70_000 + b"\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 431")


def test_overload_and_a_hung_model_are_answered_not_waited_for(served, good_records):
    model = served.service.model
    release = threading.Event()

    def hang(columns):
        release.wait(30)
        return type(model).predict_columns(model, columns)

    # a model that runs in the model thread (the compiled trees run on the event loop: bounded, they cannot hang)
    encoded, model.encoded = model.encoded, None
    assert model.inline_rows == 0 and encoded is not None and encoded.compiled
    model.predict_columns = hang
    pool = ThreadPoolExecutor(4)
    try:
        first = pool.submit(served.request, "POST", "/predict", good_records[0])  # in the model: hangs
        time.sleep(0.3)
        queued = pool.submit(served.request, "POST", "/predict", good_records[:2] * 20)  # 40 rows wait
        time.sleep(0.3)
        status, headers, body = served.request("POST", "/predict", good_records[:2] * 10)  # 20 more: over 50
        assert status == 503 and body["error"]["kind"] == "overloaded" and "max_queue_rows" in body["error"]["message"]
        assert int(headers["retry-after"]) >= 1
        more = [pool.submit(served.request, "POST", "/predict", good_records[0]) for _ in range(2)]
        time.sleep(0.3)
        status, headers, body = served.request("POST", "/predict", good_records[0])  # a fifth in flight
        assert status == 503 and "max_in_flight" in body["error"]["message"] and "retry-after" in headers
        assert served.request("GET", "/health", timeout=1)[0] == 200  # the loop is free
        for waiting in [first, queued, *more]:
            status, _, body = waiting.result(10)
            assert status == 504 and body["error"]["kind"] == "deadline_exceeded"
        status, headers, body = served.request("GET", "/ready")
        assert status == 503 and body["status"] == "stalled" and int(headers["retry-after"]) >= 1
        status, headers, body = served.request("POST", "/predict", good_records[0])
        assert status == 503 and body["error"]["kind"] == "model_stalled" and "retry-after" in headers
        metrics = served.request("GET", "/metrics")[2]
        assert 'nbprod_errors_total{kind="overloaded"} 2' in metrics and "nbprod_queued_rows" in metrics
    finally:
        release.set()
        del model.predict_columns
        model.encoded = encoded
        pool.shutdown(wait=True)
    deadline = time.monotonic() + 10
    while served.request("GET", "/ready")[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    status, _, body = served.request("POST", "/predict", good_records[0])
    assert status == 200, body


def test_a_large_body_is_parsed_and_validated_off_the_event_loop(served, good_records):
    model = served.service.model
    threads = []
    check = model.validator.check

    def recording(records):
        threads.append(threading.current_thread().name)
        return check(records)

    model.validator.check = recording
    try:
        assert served.request("POST", "/predict", good_records[0])[0] == 200             # ~200 bytes
        assert served.request("POST", "/predict", good_records[:10] * 2)[0] == 200       # over 1 KB
    finally:
        del model.validator.check
    assert threads[0] == "guarded-server" and threads[1].startswith("nbprod-parse")
