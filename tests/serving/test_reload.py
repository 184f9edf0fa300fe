"""Champion change under load (no failed request), then SIGTERM: every answered row is in the log."""

from __future__ import annotations

import http.client
import json
import threading
import time

import pytest

from conftest import http as request

pytestmark = pytest.mark.slow


def client_loop(port: int, body: bytes, rows: int, stop: threading.Event, results: list, lock: threading.Lock):
    """Post ``body`` on one keep-alive connection until ``stop``; record (status, version, request id)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    sent = 0
    while not stop.is_set():
        request_id = f"{threading.get_ident()}-{sent}"
        try:
            connection.request("POST", "/predict", body, {"Content-Type": "application/json",
                                                          "X-Request-ID": request_id})
            response = connection.getresponse()
            payload = json.loads(response.read())
            outcome = (response.status, payload.get("model", {}).get("version"), request_id,
                       len(payload.get("predictions", [])))
        except Exception as error:  # a failed request is a test failure, recorded as such
            outcome = (repr(error), None, request_id, 0)
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        with lock:
            results.append(outcome)
        sent += 1
    connection.close()


def test_alias_move_under_load_then_sigterm_flushes_the_log(project, start_server, good_records, tmp_path):
    from nbprod.serving.prediction_log import read_prediction_log

    folder = tmp_path / "log"
    # nothing is flushed before shutdown: the log on disk after SIGTERM is all the shutdown flush
    server = start_server(log_folder=folder, args=("--set", "serve.reload_seconds=0.3",
                                                   "--set", "serve.log_flush_rows=1000000",
                                                   "--set", "serve.log_flush_seconds=3600"))
    single = json.dumps(good_records[0]).encode()
    several = json.dumps(good_records[:5]).encode()
    stop, lock, results = threading.Event(), threading.Lock(), []
    clients = [threading.Thread(target=client_loop, args=(server.port, body, rows, stop, results, lock))
               for body, rows in [(single, 1), (single, 1), (several, 5), (several, 5)]]
    try:
        for client in clients:
            client.start()
        time.sleep(1.5)
        project.move_alias(project.versions[1])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with lock:
                if sum(1 for status, version, *_ in results if version == "2") >= 20:
                    break
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        stop.set()
        for client in clients:
            client.join(15)
        project.move_alias(project.versions[0])  # other tests expect version 1

    failures = [outcome for outcome in results if outcome[0] != 200]
    assert not failures, failures[:5]
    versions = [version for _, version, *_ in results]
    assert versions[0] == "1" and versions[-1] == "2"
    switch = versions.index("2")
    assert set(versions[:switch]) == {"1"}  # one switch, no flapping (per-thread order is interleaved,
    assert versions[switch:].count("1") <= len(clients)  # at most the requests already queued)
    assert request("GET", server.url + "/ready")[2]["model"]["version"] == "2"
    metrics = request("GET", server.url + "/metrics")[2]
    assert 'nbprod_model_version{name="nbprod-test-model"} 2' in metrics
    assert 'nbprod_model_reloads_total{result="success"} 2' in metrics
    assert not list(folder.glob("*.parquet"))  # still all in memory

    assert server.stop() in (0, -15)  # uvicorn re-raises SIGTERM after its graceful shutdown
    log = read_prediction_log(folder)
    answered_rows = sum(rows for *_, rows in results)
    assert len(log) == answered_rows > 0
    assert set(log["client_request_id"]) == {request_id for _, _, request_id, _ in results}
    assert log["request_id"].nunique() == sum(1 for *_, rows in results if rows)  # the service's own, one a request
    assert set(log["model_version"]) == {"1", "2"}
    assert log["probability"].between(0, 1).all() and set(log["prediction"]) <= {0, 1}
    assert log.loc[log["row"] == 0, "dest"].iloc[0] == good_records[0]["dest"]
    assert f"prediction log flushed: {answered_rows} rows" in server.output.read_text()
