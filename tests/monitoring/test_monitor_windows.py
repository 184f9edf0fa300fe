"""Slicing rows into time windows."""

from __future__ import annotations

import pandas as pd
import pytest

from nbprod.monitoring.windows import WindowError, iso, naive_utc, resolve_column, row_count, slice_windows

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
    assert resolve_column("auto", "scheduled_departure", ["x"]) is None  # no time at all: file order
    assert resolve_column("auto", None, ["x"]) is None
    assert resolve_column("none", "scheduled_departure", ["scheduled_departure"]) is None
    with pytest.raises(WindowError, match="not a column"):
        resolve_column("nope", None, ["x"])


def test_an_aware_origin_is_taken_as_utc():
    rows = frame(["2013-10-02", "2013-10-09"])
    aware, _ = slice_windows(rows, "when", "7D", "2013-10-01T00:00:00+00:00")
    naive, _ = slice_windows(rows, "when", "7D", ORIGIN)
    assert [w.key for w in aware] == [w.key for w in naive]
    with pytest.raises(WindowError, match="not a date"):
        slice_windows(rows, "when", "7D", "someday")


NOW = "2026-11-29 10:00:00"


def test_rows_without_a_time_are_one_window_or_windows_of_n_rows_in_file_order():
    rows = pd.DataFrame({"x": range(25)})
    (whole,), missing = slice_windows(rows, None, "7D", ORIGIN, now=NOW)
    assert missing == 0 and whole.rows == 25 and whole.key == ("2026-11-29T10:00:00", "2026-11-29T10:00:01")
    windows, _ = slice_windows(rows, None, "10rows", ORIGIN, now=NOW)
    assert [list(w.frame["x"]) for w in windows] == [list(range(10)), list(range(10, 20)), list(range(20, 25))]
    assert [w.start for w in windows] == sorted(w.start for w in windows) and len({w.key for w in windows}) == 3
    # rows a time places are not cut by rows unless told (window_column: none resolves to no column)
    timed = frame(["2013-10-09", "2013-10-01", "2013-10-20"], x=[1, 2, 3])
    with pytest.raises(WindowError, match="'when' places these rows in time.*window_column: none"):
        slice_windows(timed, "when", "2 rows", ORIGIN)
    column = resolve_column("none", "when", timed.columns)
    assert [list(w.frame["x"]) for w in slice_windows(timed, column, "2 rows", ORIGIN, now=NOW)[0]] == [[1, 2], [3]]
    assert row_count("10000rows") == 10000 and row_count("7D") is None
    with pytest.raises(WindowError, match="at least 1row"):
        row_count("0rows")


@pytest.mark.parametrize("values", [[2012, 2013, 2013, 2014], ["2012", "2013", "2013", "2014"],
                                    [2012.0, 2013.0, 2013.0, 2014.0]])
def test_integer_years_are_windows_of_one_year(values):
    rows = pd.DataFrame({"year": values, "x": [1, 2, 3, 4]})
    for window in ("7D", "YS"):  # a time length on periods means one period
        windows, missing = slice_windows(rows, "year", window, "2013-10-01")
        assert missing == 0
        assert [w.key for w in windows] == [("2012-01-01T00:00:00", "2013-01-01T00:00:00"),
                                            ("2013-01-01T00:00:00", "2014-01-01T00:00:00"),
                                            ("2014-01-01T00:00:00", "2015-01-01T00:00:00")]
        assert [w.rows for w in windows] == [1, 2, 1]
    two, _ = slice_windows(rows, "year", "2YS", 2013)  # two years each, counted from the origin's year
    assert [w.key for w in two] == [("2011-01-01T00:00:00", "2013-01-01T00:00:00"),
                                    ("2013-01-01T00:00:00", "2015-01-01T00:00:00")]


def test_yyyymm_months_are_windows_of_one_month_or_a_quarter():
    rows = pd.DataFrame({"month": [201309, 201310, 201312, 201401, None], "x": range(5)})
    windows, missing = slice_windows(rows, "month", "7D", "201310")
    assert missing == 1
    assert [w.key[0][:7] for w in windows] == ["2013-09", "2013-10", "2013-12", "2014-01"]
    quarters, _ = slice_windows(rows, "month", "QS", "201310")
    assert [w.key for w in quarters] == [("2013-07-01T00:00:00", "2013-10-01T00:00:00"),
                                         ("2013-10-01T00:00:00", "2014-01-01T00:00:00"),
                                         ("2014-01-01T00:00:00", "2014-04-01T00:00:00")]
    with pytest.raises(WindowError, match="shorter than one year"):
        slice_windows(pd.DataFrame({"year": [2013]}), "year", "MS", ORIGIN)


def test_dates_as_text_are_times():
    rows = pd.DataFrame({"day": ["2013-10-02", "2013-10-09", "2013/10/10"], "x": [1, 2, 3]})
    windows, _ = slice_windows(rows, "day", "7D", ORIGIN)
    assert [w.rows for w in windows] == [1, 2]


@pytest.mark.parametrize("values, what", [(["red", "green", "blue"], "none of its values parses as a date"),
                                          ([0.5, 1.25, 2.0], "neither years"),
                                          ([True, False, True], "neither years"),
                                          ([1, 2, 3], "neither years")])
def test_a_column_that_is_not_a_time_is_an_error_naming_it(values, what):
    with pytest.raises(WindowError, match=f"column 'colour' is not a time: .*{what}"):
        slice_windows(pd.DataFrame({"colour": values}), "colour", "7D", ORIGIN)
