"""nbprod.serving.prediction_log: how buffered values become Arrow columns."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from nbprod.serving.prediction_log import _feature_array


def test_date_times_are_stored_in_utc_aware_converted_naive_taken_as_utc_none_missing():
    new_york = timezone(timedelta(hours=-5))
    column = _feature_array([datetime(2024, 1, 1, 7, 30, tzinfo=new_york), datetime(2024, 3, 1, 12), None,
                             datetime(2999, 12, 31, 23, 59, 59, 999999)])
    assert str(column.type) == "timestamp[us]"
    assert column.to_pylist() == [datetime(2024, 1, 1, 12, 30), datetime(2024, 3, 1, 12), None,
                                  datetime(2999, 12, 31, 23, 59, 59, 999999)]


def pending(count: int, missing_until: int = 0):
    """``count`` one-row requests buffered as the service buffers them; ``x`` missing in the first
    ``missing_until``."""
    import numpy as np

    from nbprod.model.labels import ClassLabels
    from nbprod.serving.prediction_log import Pending

    names, labels = ("carrier", "x", "when"), ClassLabels.of([0, 1])
    buffered = Pending(names)
    for n in range(count):
        buffered.add({"carrier": [f"c{n % 3}"], "x": [None if n < missing_until else float(n)],
                      "when": [datetime(2024, 1, 1) + timedelta(minutes=n)]}, np.array([n % 2]),
                     np.array([[0.4, 0.6]]), labels, {"time": 1.7e9 + n, "request_id": f"r{n}",
                                                      "client_request_id": None, "model_name": "m",
                                                      "model_version": "1"})
    return buffered


def test_a_column_converted_in_parts_is_the_column_converted_at_once(monkeypatch):
    import nbprod.serving.prediction_log as prediction_log

    buffered = pending(3 * prediction_log.CONVERT_VALUES + 7, missing_until=prediction_log.CONVERT_VALUES + 1)
    whole = prediction_log._table(buffered)
    monkeypatch.setattr(prediction_log, "CONVERT_VALUES", 1000)  # the first part of x: no value at all
    parts = prediction_log._table(buffered)
    assert parts.equals(whole) and whole.num_rows == buffered.rows == 3 * 2000 + 7
    assert {name: str(whole.schema.field(name).type) for name in buffered.names} == {
        "carrier": "string", "x": "double", "when": "timestamp[us]"}
    assert whole.column("x").null_count == 2001 and whole.column("row").to_pylist()[:2] == [0, 0]
