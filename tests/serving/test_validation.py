"""Input validation (records and frames, same rules), the prediction log, metrics text: no server."""

from __future__ import annotations

import math
import os
import time
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from nbprod.model.contract import ColumnSpec, FeatureContract
from nbprod.serving.metrics import Metrics
from nbprod.serving.prediction_log import META_COLUMNS, PredictionLogWriter, read_prediction_log
from nbprod.serving.validation import (DATETIME_MAX, DATETIME_MIN, RecordValidator, RequestError, frame_from_columns,
                                      loads, parse_datetime, validate_frame)

CONTRACT = FeatureContract((
    ColumnSpec("carrier", "categorical", False, ("UA", "AA")),
    ColumnSpec("dest", "categorical", True, ("IAH", "MIA")),
    ColumnSpec("distance", "numeric", False, minimum=80.0, maximum=4983.0),
    ColumnSpec("delay", "numeric", True),
    ColumnSpec("time_hour", "datetime", False),
))
GOOD = {"carrier": "UA", "dest": "IAH", "distance": 1400, "delay": 2.5, "time_hour": "2013-01-01T10:00:00Z"}


def check(*records):
    return RecordValidator(CONTRACT).check(list(records))


def problem(records, status=422):
    with pytest.raises(RequestError) as caught:
        RecordValidator(CONTRACT).check(records)
    assert caught.value.status == status
    return caught.value


def test_good_record_is_converted():
    validated = check(GOOD, {**GOOD, "distance": 200.5, "delay": None, "dest": None,
                             "time_hour": "2013-01-01 05:00:00-05:00"})
    assert validated.rows == 2 and validated.warnings == []
    assert validated.columns["distance"] == [1400.0, 200.5]
    assert math.isnan(validated.columns["delay"][1])
    assert validated.columns["dest"] == ["IAH", None]
    assert validated.columns["time_hour"] == [datetime(2013, 1, 1, 10), datetime(2013, 1, 1, 10)]  # offset -> UTC
    frame = frame_from_columns(CONTRACT, validated.columns)
    assert list(frame.columns) == CONTRACT.names
    assert str(frame["time_hour"].dtype) == "datetime64[ns]" and frame["distance"].dtype == float


def test_missing_column_names_record_and_column():
    record = dict(GOOD)
    del record["distance"]
    error = problem([GOOD, record])
    assert error.kind == "missing_column"
    assert error.details == [{"record": 1, "column": "distance", "problem": "missing_column",
                              "message": "record 1: required column 'distance' is missing"}]


@pytest.mark.parametrize("column, value, kind, text", [
    ("distance", "far", "wrong_type", "expected a number, got str 'far'"),
    ("distance", True, "wrong_type", "expected a number, got bool"),
    ("distance", [1], "wrong_type", "expected a number"),
    ("distance", math.inf, "not_finite", "not a finite number"),
    ("distance", None, "null_not_allowed", "missing value (null) not allowed"),
    ("distance", math.nan, "null_not_allowed", "missing value (NaN) not allowed"),
    ("carrier", None, "null_not_allowed", "column 'carrier'"),
    ("carrier", {"a": 1}, "wrong_type", "expected text, got dict"),
    ("time_hour", "yesterday", "wrong_type", "'yesterday' is not an ISO 8601 date-time"),
    ("time_hour", 1357034400, "wrong_type", "expected an ISO 8601 date-time text, got int"),
])
def test_bad_values(column, value, kind, text):
    error = problem([GOOD, {**GOOD, column: value}])
    assert error.kind == kind
    assert error.details[0]["record"] == 1 and error.details[0]["column"] == column
    assert text in error.message


def test_several_problems_are_all_listed():
    error = problem([{**GOOD, "distance": "x"}, {**GOOD, "carrier": None}, "not a record"])
    assert error.kind == "not_an_object"  # shape first
    error = problem([{**GOOD, "distance": "x"}, {**GOOD, "carrier": None}])
    assert error.kind == "invalid_input" and len(error.details) == 2
    assert "and 1 more problem" in error.message


def test_problem_list_is_capped():
    error = problem([{**GOOD, "distance": "x"}] * 500)
    assert len(error.details) == 50 and "499 more" in error.message


def test_cold_start_values_are_warnings():
    validated = check({**GOOD, "carrier": "ZZ", "dest": 7, "delay": None, "extra": 1})
    problems = {(w["problem"], w.get("column")) for w in validated.warnings}
    assert problems == {("unseen_category", "carrier"), ("unseen_category", "dest"), ("unknown_columns", None)}
    assert validated.columns["dest"] == ["7"]  # numbers as category text, as in training
    assert check({**GOOD, "dest": 7.0}).columns["dest"] == ["7"]  # whole floats too (as_category_strings)


CASES = [
    ({}, None),
    ({"distance": "far"}, "expected a number"),
    ({"distance": None}, "missing value not allowed"),
    ({"distance": math.inf}, "not a finite number"),
    ({"distance": True}, "expected a number"),
    ({"delay": None}, None),
    ({"carrier": None}, "missing value not allowed"),
    ({"carrier": "ZZ"}, None),
    ({"dest": None}, None),
    ({"time_hour": "yesterday"}, "is not an ISO 8601 date-time"),
    ({"time_hour": None}, "missing value not allowed"),
    ({"time_hour": "2013-06-01 12:00"}, None),
]


def test_frame_validation_agrees_with_record_validation():
    records = [{**GOOD, **change} for change, _ in CASES]
    frame = pd.DataFrame(records, dtype=object)
    clean, reasons, unseen = validate_frame(frame, CONTRACT)
    for (change, expected), reason, record in zip(CASES, reasons, records):
        if expected is None:
            assert reason is None, (change, reason)
            check(record)
        else:
            assert expected in reason, (change, reason)
            with pytest.raises(RequestError):
                check(record)
    assert unseen == {"carrier": 1, "dest": 0}
    good = reasons.isna().to_numpy()
    expected = frame_from_columns(CONTRACT, check(*[r for r, g in zip(records, good) if g]).columns)
    pd.testing.assert_frame_equal(clean[good].reset_index(drop=True).astype({"carrier": object, "dest": object}),
                                  expected, check_dtype=False)


def test_frame_validation_of_csv_text_and_missing_column():
    frame = pd.DataFrame({"carrier": ["UA", "AA"], "dest": [None, "MIA"], "distance": ["1400", "1e3"],
                          "delay": [None, "3"], "time_hour": ["2013-01-01T10:00:00Z", "2013-01-01"]})
    clean, reasons, _ = validate_frame(frame, CONTRACT)
    assert reasons.isna().all()
    assert clean["distance"].tolist() == [1400.0, 1000.0]
    with pytest.raises(RequestError, match="missing required column"):
        validate_frame(frame.drop(columns="distance"), CONTRACT)



@pytest.mark.parametrize("column, value, kind, text", [
    ("distance", 10**400, "out_of_range", "int of 401 digits does not fit a float64"),
    ("distance", -(10**309), "out_of_range", "does not fit a float64"),
    ("time_hour", "9999-12-31T23:59:59-01:00", "out_of_range", "outside the years 1 to 9999 in UTC"),
    ("time_hour", "0001-01-01T00:00:00+00:01", "out_of_range", "outside the years 1 to 9999 in UTC"),
    ("time_hour", "3000-01-01", "out_of_range", "out of range (3000-01-01T00:00:00 in UTC)"),
    ("time_hour", "1677-09-21T00:12:43.145224", "out_of_range", "the date-times a model takes are 1677-09-21"),
    ("time_hour", "3000-01-01 00:00:00.000000001", "out_of_range", "out of range"),  # pandas' parser, non-ISO
    ("time_hour", "now", "wrong_type", "'now' is not an ISO 8601 date-time"),
    ("time_hour", " Today ", "wrong_type", "is not an ISO 8601 date-time"),
    ("carrier", "\ud800", "invalid_text", "not valid Unicode text"),
    ("carrier", "u" * 101, "too_long", "text of 101 characters is over the limit of 100 (serve.max_text_chars)"),
    ("time_hour", "2013" + " " * 100, "too_long", "over the limit of 100"),
])
def test_values_that_do_not_fit_are_422s_naming_record_and_column(column, value, kind, text):
    with pytest.raises(RequestError) as caught:
        RecordValidator(CONTRACT).check([GOOD, {**GOOD, column: value}], max_text_chars=100)
    error = caught.value
    assert (error.status, error.kind) == (422, kind) and text in error.message, error.message
    assert error.message.startswith(f"record 1, column {column!r}: ") and len(error.message) < 300
    assert error.details[0]["record"] == 1 and error.details[0]["column"] == column


def test_the_edges_of_the_date_time_range_are_taken_and_kept_exactly():
    validated = check({**GOOD, "time_hour": DATETIME_MIN.isoformat()}, {**GOOD, "time_hour": DATETIME_MAX.isoformat()},
                      {**GOOD, "time_hour": "2262-04-11T23:47:16.854775+00:00"})
    assert validated.columns["time_hour"] == [DATETIME_MIN, DATETIME_MAX, DATETIME_MAX]
    frame = frame_from_columns(CONTRACT, validated.columns)  # no wrap on the pandas path
    assert frame["time_hour"].tolist() == [pd.Timestamp(DATETIME_MIN), pd.Timestamp(DATETIME_MAX), pd.Timestamp(DATETIME_MAX)]
    assert parse_datetime("2013-01-01T00:00:00-05:00") == datetime(2013, 1, 1, 5)


def test_a_category_within_the_bound_is_taken_and_its_warning_quotes_a_short_prefix():
    validated = RecordValidator(CONTRACT).check([{**GOOD, "dest": "z" * 100, "n" * 5000: 1}], max_text_chars=100)
    unknown, unseen = sorted(validated.warnings, key=lambda warning: warning["problem"])
    assert unseen["problem"] == "unseen_category" and "(100 characters)" in unseen["message"]
    assert len(unseen["message"]) < 200 and len(unknown["message"]) < 200 and unknown["columns"] == ["n" * 40 + "..."]
    many = check({**GOOD, **{f"x{i}": i for i in range(500)}}).warnings[0]
    assert len(many["columns"]) == 10 and "and 490 more" in many["message"]


def test_a_json_object_with_a_key_twice_is_a_422_naming_record_and_key():
    records = loads('[{"a": 1}, {"carrier": "UA", "carrier": "AA", "distance": 1, "distance": 2}]')
    assert records[0] == {"a": 1} and type(records[0]) is dict
    with pytest.raises(RequestError) as caught:
        RecordValidator(CONTRACT).check([GOOD, records[1]])
    assert caught.value.kind == "duplicate_key" and caught.value.details[0] == {
        "record": 1, "column": "carrier", "problem": "duplicate_key",
        "message": "record 1, column 'carrier': the key is given more than once (a JSON object takes each key once)"}


def test_frame_validation_rejects_what_the_records_reject_and_never_wraps_a_date_time():
    frame = pd.DataFrame({"carrier": ["UA", "UA", "x" * 101, "UA", "UA"], "dest": [None] * 5,
                          "distance": ["1" * 400, "1e400", "1400", "1400", "1400"], "delay": [None] * 5,
                          "time_hour": ["2013-01-01", "2013-01-01", "2013-01-01", "3000-01-01", "now"]})
    clean, reasons, _ = validate_frame(frame, CONTRACT, max_text_chars=100)
    assert [reason.split(":")[0] for reason in reasons] == ["column 'distance'", "column 'distance'",
                                                            "column 'carrier'", "column 'time_hour'", "column 'time_hour'"]
    assert "does not fit a float64" in reasons[0] and "(400 characters)" in reasons[0] and len(reasons[0]) < 200
    assert "over the limit of 100" in reasons[2] and "out of range" in reasons[3]
    stamps = pd.Series(pd.to_datetime(["2013-01-01", "3000-01-01", "1600-01-01"]).as_unit("us"))
    typed = pd.DataFrame({"carrier": ["UA"] * 3, "dest": [None] * 3, "distance": [1.0] * 3, "delay": [None] * 3,
                          "time_hour": stamps})  # as a Parquet file gives them
    clean, reasons, _ = validate_frame(typed, CONTRACT)
    assert reasons[0] is None and "out of range" in reasons[1] and "out of range" in reasons[2]
    assert clean["time_hour"].iloc[0] == pd.Timestamp("2013-01-01") and clean["time_hour"].iloc[1:].isna().all()


def entry(writer, rows, version="1", request_id="r"):
    writer.append(["distance", "carrier"], {"distance": [float(i) for i in range(rows)], "carrier": ["UA"] * rows},
                  np.zeros(rows, dtype=int), np.full((rows, 2), 0.5), "m", version, request_id, time.time())


def test_prediction_log_flushes_by_rows_time_and_close(tmp_path):
    writer = PredictionLogWriter(tmp_path, flush_rows=10, flush_seconds=0.3)
    entry(writer, 12)  # over flush_rows: written at once
    deadline = time.monotonic() + 5
    while writer.rows_written < 12 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert writer.rows_written == 12
    entry(writer, 3)  # under flush_rows: written after flush_seconds
    time.sleep(0.8)
    assert writer.rows_written == 15
    entry(writer, 2, version="2")
    writer.close()  # what is left is written on close
    assert writer.rows_written == 17 and writer.write_errors == 0
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".")]  # no temporary files left
    log = read_prediction_log(tmp_path)
    assert list(log.columns) == [*META_COLUMNS, "distance", "carrier"]
    assert len(log) == 17 and log["model_version"].tolist()[-2:] == ["2", "2"]
    assert log["row"].tolist()[:3] == [0, 1, 2] and str(log["time"].dt.tz) == "UTC"


def test_prediction_log_files_of_replicas_sharing_a_folder_carry_their_host(tmp_path, monkeypatch):
    import socket

    for host in ("pod-a", "pod-b"):  # two service pods, each its process's pid 1 in its container
        monkeypatch.setattr(socket, "gethostname", lambda host=host: host)
        writer = PredictionLogWriter(tmp_path, flush_rows=1, flush_seconds=10)
        entry(writer, 2, request_id=host)
        writer.close()
    names = os.listdir(tmp_path)
    assert len(names) == 2 and {host for host in ("pod-a", "pod-b") for name in names if f"-{host}-" in name} == \
        {"pod-a", "pod-b"}
    assert sorted(set(read_prediction_log(tmp_path)["request_id"])) == ["pod-a", "pod-b"]


def test_prediction_log_reader_filters_by_time_and_cold_start(tmp_path):
    empty = read_prediction_log(tmp_path / "nothing-yet")
    assert empty.empty and list(empty.columns) == list(META_COLUMNS)
    writer = PredictionLogWriter(tmp_path, flush_rows=1, flush_seconds=10)
    entry(writer, 2)
    time.sleep(0.3)
    middle = pd.Timestamp.now(tz="UTC")
    time.sleep(0.05)
    entry(writer, 3)
    writer.close()
    (tmp_path / ".predictions-half-written.parquet.tmp").write_bytes(b"PAR1 garbage")  # never read
    assert len(read_prediction_log(tmp_path)) == 5
    assert len(read_prediction_log(tmp_path, since=middle)) == 3
    assert len(read_prediction_log(tmp_path, until=middle)) == 2
    assert len(read_prediction_log(tmp_path, since=middle.tz_convert(None))) == 3  # naive = UTC


def test_metrics_text_format():
    metrics = Metrics("m")
    metrics.observe_request("/predict", 200, 0.003)
    metrics.observe_request("/predict", 422, 0.001)
    metrics.observe_error("wrong_type")
    metrics.observe_reload(True, "4")
    text = metrics.render()
    assert 'nbprod_requests_total{endpoint="/predict",status="200"} 1' in text
    assert 'nbprod_request_duration_seconds_bucket{endpoint="/predict",le="0.005"} 2' in text
    assert 'nbprod_request_duration_seconds_count{endpoint="/predict"} 2' in text
    assert 'nbprod_errors_total{kind="wrong_type"} 1' in text
    assert 'nbprod_model_version{name="m"} 4' in text
    assert 'nbprod_model_reloads_total{result="success"} 1' in text
