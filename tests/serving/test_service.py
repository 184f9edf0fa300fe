"""The prediction service over real HTTP: good requests, every kind of bad input, cold start, token."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import http

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def champion(project):
    """Version 1, loaded in the test process the way the service loads it."""
    from nbprod.serving.model_source import load_version

    return load_version(project.tracking_uri, project.settings["registry"]["model_name"], project.versions[0])


def predict(server, body, headers=None):
    return http("POST", server.url + "/predict", body, headers)


def test_one_record_gets_prediction_probabilities_version_and_request_id(server, good_records):
    status, headers, body = predict(server, good_records[0], {"X-Request-ID": "client-42"})
    assert status == 200, body
    assert body["client_request_id"] == "client-42" and headers["x-request-id"] == "client-42"
    assert len(body["request_id"]) == 32 and body["request_id"] != "client-42"  # the service's own id
    assert body["model"] == {"name": "nbprod-test-model", "version": "1"}
    assert body["predictions"] in ([0], [1]) and body["classes"] == [0, 1] and body["threshold"] == 0.5
    (p0, p1), = body["probabilities"]
    assert abs(p0 + p1 - 1) < 1e-9 and body["predictions"][0] == int(p1 >= 0.5)
    assert body["warnings"] == []
    status, headers, body = predict(server, good_records[0])
    assert status == 200 and len(body["request_id"]) == 32 and headers["x-request-id"] == body["request_id"]


def test_many_records_match_the_model_in_process(server, good_records, champion):
    status, _, body = predict(server, good_records)
    assert status == 200, body
    assert len(body["predictions"]) == len(good_records) == 20
    from nbprod.serving.validation import frame_from_columns

    expected = champion.model.predict_proba(
        frame_from_columns(champion.contract, champion.validator.check(json.loads(json.dumps(good_records))).columns))
    np.testing.assert_allclose(np.asarray(body["probabilities"]), expected, rtol=1e-12)
    status, _, wrapped = predict(server, {"records": good_records})
    assert status == 200 and wrapped["probabilities"] == body["probabilities"]


def without(record, column):
    return {key: value for key, value in record.items() if key != column}


BAD = [
    # (name, body bytes or JSON, status, error kind, text in message, detail {record, column})
    ("missing column", lambda r: [r[0], without(r[1], "origin")], 422, "missing_column",
     "record 1: required column 'origin' is missing", (1, "origin")),
    ("string for number", lambda r: [{**r[0], "distance": "far"}], 422, "wrong_type",
     "column 'distance': expected a number, got str 'far'", (0, "distance")),
    ("null not nullable", lambda r: [r[0], r[1], {**r[2], "sched_dep_time": None}], 422, "null_not_allowed",
     "record 2, column 'sched_dep_time': missing value (null) not allowed", (2, "sched_dep_time")),
    ("NaN not nullable", lambda r: b'[' + json.dumps({**r[0], "distance": 0}).encode().replace(
        b'"distance": 0', b'"distance": NaN') + b']', 422, "null_not_allowed", "(NaN) not allowed", (0, "distance")),
    ("bad date-time", lambda r: [{**r[0], "time_hour": "tomorrow"}], 422, "wrong_type",
     "'tomorrow' is not an ISO 8601 date-time", (0, "time_hour")),
    ("not an object", lambda r: [r[0], [1, 2]], 422, "not_an_object", "record 1 is not a JSON object", (1, None)),
    ("malformed JSON", lambda r: b'{"carrier": "UA", ', 400, "malformed_json", "not valid JSON", None),
    ("not UTF-8", lambda r: b'\xff\xfe{}', 400, "malformed_json", "UTF-8", None),
    ("wrong shape", lambda r: 42, 400, "bad_shape", "must be a JSON object", None),
    ("records not a list", lambda r: {"records": r[0]}, 400, "bad_shape", "must hold a list of objects", None),
    ("records and more", lambda r: {"records": r[:1], "x": 1}, 400, "bad_shape", "keys ['records', 'x']", None),
    ("nested too deep", lambda r: b"[" * 20_000 + b"]" * 20_000, 400, "malformed_json", "nests deeper", None),
    ("empty list", lambda r: [], 422, "empty_input", "the list is empty", None),
    ("too many rows", lambda r: [r[0]] * 51, 413, "too_many_rows", "51 records is over the limit of 50", None),
    ("oversized body", lambda r: [{**r[0], "pad": "x" * 60_000}], 413, "body_too_large", "over the limit", None),
]


@pytest.mark.parametrize("name, make, status, kind, text, where", BAD, ids=[case[0] for case in BAD])
def test_bad_input_gets_a_4xx_json_error_saying_what_and_where(server, good_records, name, make, status, kind,
                                                               text, where):
    body = make(good_records)
    got_status, headers, got = predict(server, body, {"X-Request-ID": f"bad-{name}"})
    assert got_status == status, got
    assert got["client_request_id"] == f"bad-{name}" == headers["x-request-id"]
    assert got["error"]["kind"] == kind
    assert text in got["error"]["message"], got["error"]["message"]
    if where is not None:
        record, column = where
        detail = got["error"]["details"][0]
        assert detail["record"] == record and detail.get("column") == column
    assert http("GET", server.url + "/health")[0] == 200  # still up


def test_wrong_method_and_unknown_path(server):
    assert http("GET", server.url + "/predict")[2]["error"]["kind"] == "method_not_allowed"
    status, _, body = http("GET", server.url + "/nope")
    assert status == 404 and body["error"]["kind"] == "not_found"


def test_cold_start_inputs_are_predicted_with_warnings(server, good_records, champion):
    record = {**good_records[0], "dest": "XNA-NEW", "carrier": "ZZ", "note": "hello"}
    status, _, body = predict(server, [good_records[1], record])
    assert status == 200, body
    assert len(body["predictions"]) == 2
    warnings = {(w["record"], w["problem"], w.get("column")) for w in body["warnings"]}
    assert warnings == {(1, "unseen_category", "dest"), (1, "unseen_category", "carrier"),
                        (1, "unknown_columns", None)}
    assert any("'XNA-NEW' was not seen in training" in w["message"] for w in body["warnings"])
    # an unseen category is scored as a missing one
    missing = champion.validator.check([{**good_records[0]}]).columns
    missing["dest"], missing["carrier"] = [None], [None]
    from nbprod.serving.validation import frame_from_columns

    expected = champion.model.predict_proba(frame_from_columns(champion.contract, missing))[0].tolist()
    assert body["probabilities"][1] == pytest.approx(expected, rel=1e-12)


def test_health_ready_and_metrics(server, good_records):
    assert http("GET", server.url + "/health")[2] == {"status": "alive"}
    status, _, ready = http("GET", server.url + "/ready")
    assert status == 200 and ready["model"]["version"] == "1" and ready["model"]["alias"] == "champion"
    predict(server, good_records[:3])
    predict(server, [])
    status, headers, text = http("GET", server.url + "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    assert 'nbprod_requests_total{endpoint="/predict",status="200"}' in text
    assert 'nbprod_requests_total{endpoint="/predict",status="422"}' in text
    assert 'nbprod_errors_total{kind="empty_input"}' in text
    assert 'nbprod_request_duration_seconds_bucket{endpoint="/predict",le="+Inf"}' in text
    assert 'nbprod_model_version{name="nbprod-test-model"} 1' in text
    assert 'nbprod_model_reloads_total{result="success"} 1' in text
    assert "nbprod_unseen_categories_total" in text


def test_bearer_token_when_configured(start_server, good_records):
    server = start_server(env={"NBPROD_TOKEN": "s3cret"})
    assert predict(server, good_records[0])[0] == 401
    status, headers, body = predict(server, good_records[0], {"Authorization": "Bearer wrong"})
    assert status == 401 and body["error"]["kind"] == "unauthorized" and "bearer" in headers["www-authenticate"].lower()
    assert predict(server, good_records[0], {"Authorization": "Bearer s3cret"})[0] == 200
    assert predict(server, good_records[0], {"Authorization": "bearer s3cret"})[0] == 200  # scheme: any case
    assert http("GET", server.url + "/health")[0] == 200 and http("GET", server.url + "/ready")[0] == 200
    for path in ("/openapi.json", "/docs"):  # the contract (columns, categories seen in training) is guarded too
        status, headers, body = http("GET", server.url + path)
        assert status == 401 and body["error"]["kind"] == "unauthorized" and "www-authenticate" in {
            name.lower() for name in headers}, (path, body)
        status, _, body = http("GET", server.url + path, headers={"Authorization": "Bearer s3cret"})
        assert status == 200 and "distance" in (body if isinstance(body, str) else json.dumps(body)), path
    document = http("GET", server.url + "/openapi.json", headers={"Authorization": "Bearer s3cret"})[2]
    assert document["paths"]["/openapi.json"]["get"]["security"] == [{"bearer": []}]
    assert "security" not in document["paths"]["/health"]["get"]


def test_no_token_needed_by_default(server, good_records):
    assert predict(server, good_records[0])[0] == 200
