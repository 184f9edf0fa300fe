"""Slicing rows into time windows."""

from __future__ import annotations

import pandas as pd
import pytest

from nbprod.monitoring.windows import WindowError, iso, naive_utc, resolve_column, slice_windows

ORIGIN = "2013-10-01"


def frame(times, **columns):
    return pd.DataFrame({"when": pd.to_datetime(pd.Series(times, dtype=object), format="mixed"), **columns})


def test_weekly_windows_are_aligned_on_the_origin_and_in_time_order():
    rows = frame(["2013-10-09 10:00", "2013-10-01 00:00", "2013-10-07 23:59", "2013-10-15 00:00"], x=[1, 2, 3, 4])
    windows, missing = slice_windows(rows, "when", "7D", ORIGIN)
    assert missing == 0
    assert [w.key for w in windows] == [("2013-10-01T00:00:00", "2013-10-08T00:00:00"),
                                        ("2013-10-08T00:00:00", "2013-10-15T00:00:00"),
                                        ("2013-10-15T00:00:00", "2013-10-22T00:00:00")]
    assert [sorted(w.frame["x"]) for w in windows] == [[2, 3], [1], [4]]


def test_rows_before_the_origin_get_earlier_windows_and_the_same_rows_always_the_same_window():
    rows = frame(["2013-09-30 12:00"])
    windows, _ = slice_windows(rows, "when", "7D", ORIGIN)
    assert windows[0].key == ("2013-09-24T00:00:00", "2013-10-01T00:00:00")
    more = frame(["2013-09-30 12:00", "2013-10-03"])
    assert slice_windows(more, "when", "7D", ORIGIN)[0][0].key == windows[0].key


def test_one_row_all_rows_in_one_window_empty_and_missing_times():
    assert slice_windows(frame(["2013-10-02"]), "when", "7D", ORIGIN)[0][0].rows == 1
    same = frame(["2013-10-02", "2013-10-03", "2013-10-04"])
    windows, _ = slice_windows(same, "when", "7D", ORIGIN)
    assert len(windows) == 1 and windows[0].rows == 3
    assert slice_windows(frame([]), "when", "7D", ORIGIN) == ([], 0)
    windows, missing = slice_windows(pd.DataFrame({"when": ["2013-10-02", None, "garbage"]}), "when", "7D", ORIGIN)
    assert missing == 2 and windows[0].rows == 1


def test_calendar_windows_and_hours():
    rows = frame(["2013-10-31 23:00", "2013-11-01 00:00", "2013-11-20"])
    windows, _ = slice_windows(rows, "when", "MS", ORIGIN)
    assert [w.key for w in windows] == [("2013-10-01T00:00:00", "2013-11-01T00:00:00"),
                                        ("2013-11-01T00:00:00", "2013-12-01T00:00:00")]
    windows, _ = slice_windows(rows, "when", "12h", ORIGIN)
    assert windows[0].key == ("2013-10-31T12:00:00", "2013-11-01T00:00:00")
    with pytest.raises(WindowError):
        slice_windows(rows, "when", "fortnightly", ORIGIN)
    with pytest.raises(WindowError, match="a calendar window is one period"):
        slice_windows(rows, "when", "2MS", ORIGIN)  # its windows would overlap


def test_aware_times_become_naive_utc():
    stamps = naive_utc(pd.Series(pd.to_datetime(["2013-10-01 02:00"]).tz_localize("Europe/Paris")))
    assert stamps.iloc[0] == pd.Timestamp("2013-10-01 00:00")
    assert iso(stamps.iloc[0]) == "2013-10-01T00:00:00"


def test_window_column_auto_prefers_the_data_time_then_the_request_time():
    assert resolve_column("auto", "scheduled_departure", ["time", "scheduled_departure"]) == "scheduled_departure"
    assert resolve_column("auto", "scheduled_departure", ["time", "x"]) == "time"
    assert resolve_column("auto", None, ["time"]) == "time"
    assert resolve_column("time", "scheduled_departure", ["time", "scheduled_departure"]) == "time"
    with pytest.raises(WindowError, match="neither"):
        resolve_column("auto", "scheduled_departure", ["x"])
    with pytest.raises(WindowError, match="not a column"):
        resolve_column("nope", None, ["x"])


def test_an_aware_origin_is_taken_as_utc():
    rows = frame(["2013-10-02", "2013-10-09"])
    aware, _ = slice_windows(rows, "when", "7D", "2013-10-01T00:00:00+00:00")
    naive, _ = slice_windows(rows, "when", "7D", ORIGIN)
    assert [w.key for w in aware] == [w.key for w in naive]
    with pytest.raises(WindowError, match="not a date"):
        slice_windows(rows, "when", "7D", "someday")
