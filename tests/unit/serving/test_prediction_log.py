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
