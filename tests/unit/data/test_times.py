"""nbprod.data.times: reading a time column (datetimes, dates as text, integer periods) and split cuts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbprod.data.times import TimeColumnError, cut_stamp, index_start, period_index, period_of, read_times

JAN_2013, JAN_2014 = pd.Timestamp("2013-01-01"), pd.Timestamp("2014-01-01")


@pytest.mark.parametrize("values", [pd.Series([2013, None, 2014], dtype="Int64"), pd.Series([2013.0, np.nan, 2014.0]),
                                    pd.Series(["2013", None, "2014"], dtype=object),
                                    pd.Series(["2013", None, "2014"], dtype="string")])
def test_years_in_any_dtype_are_the_start_of_their_year(values):
    times = read_times(values, "year")
    assert times.period == "year"
    assert times.stamps.iloc[0] == JAN_2013 and pd.isna(times.stamps.iloc[1]) and times.stamps.iloc[2] == JAN_2014


def test_yyyymm_months_datetimes_and_dates_as_text():
    months = read_times(pd.Series([201309, 201401]), "month")
    assert months.period == "month" and months.stamps.tolist() == [pd.Timestamp("2013-09-01"), JAN_2014]
    aware = read_times(pd.Series(pd.to_datetime(["2013-01-01T02:00:00+02:00"])), "t")
    assert aware.period is None and aware.stamps.iloc[0] == JAN_2013  # naive UTC
    text = read_times(pd.Series(["2013-01-05", "not a date"]), "t")
    assert text.stamps.iloc[0] == pd.Timestamp("2013-01-05") and pd.isna(text.stamps.iloc[1])
    assert read_times(pd.Series([None, None]), "t").stamps.isna().all()


@pytest.mark.parametrize("values, example", [([201313, 201312], "201313"), ([1700000000], "1700000000"),
                                             ([0.5, 1.5], "0.5"), (["red", "blue"], "'red'")])
def test_a_column_that_is_not_a_time_is_named_with_an_example(values, example):
    with pytest.raises(TimeColumnError, match=f"column 'c' is not a time.*{example}"):
        read_times(pd.Series(values), "c")
    assert period_of(pd.Series(values)) is None


def test_cuts_are_dates_or_periods_of_the_column():
    assert cut_stamp("2013", "year", "split.valid_start") == JAN_2013
    assert cut_stamp(2013, None, "split.valid_start") == JAN_2013  # a bare integer is a period
    assert cut_stamp("201309", "month", "split.valid_start") == pd.Timestamp("2013-09-01")
    assert cut_stamp("2013-06-15", "year", "split.valid_start") == pd.Timestamp("2013-06-15")
    for bad in ("soon", 12, None):
        with pytest.raises(TimeColumnError, match="split.valid_start"):
            cut_stamp(bad, None, "split.valid_start")


def test_period_index_counts_consecutive_periods_and_back():
    stamps = pd.Series([pd.Timestamp("2013-11-01"), pd.Timestamp("2013-12-01"), JAN_2014])
    index = period_index(stamps, "month")
    assert index.diff().dropna().tolist() == [1, 1]
    assert index_start(index, "month").tolist() == stamps.tolist()
    assert index_start(period_index(pd.Series([JAN_2013]), "year") + 1, "year").tolist() == [JAN_2014]
