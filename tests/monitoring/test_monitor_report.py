"""What the monitoring notebook shows: the column table, periods of the splits, window labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbprod.drift import DriftDetector
from nbprod.monitoring import report
from nbprod.monitoring.check import MonitorError


def test_column_table_puts_drifted_columns_first_and_carries_the_alarms():
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"steady": rng.normal(size=3000), "moved": rng.normal(size=3000),
                              "holes": rng.normal(size=3000), "city": rng.choice(["a", "b"], 3000)})
    window = pd.DataFrame({"steady": rng.normal(size=3000), "moved": rng.normal(2, 1, 3000),
                           "holes": np.where(rng.random(3000) < 0.3, np.nan, rng.normal(size=3000)),
                           "city": rng.choice(["a", "b", "c"], 3000)})
    table = report.column_table(DriftDetector().fit(reference).compare(window))
    assert table.index[0] == "moved" and bool(table.loc["moved", "drifted"])
    assert bool(table.loc["holes", "missing_drifted"]) and not bool(table.loc["steady", "missing_drifted"])
    assert bool(table.loc["city", "unseen_drifted"])


def test_rows_between_selects_a_period_and_says_when_it_cannot():
    frame = pd.DataFrame({"t": pd.date_range("2013-01-01", periods=10, freq="D"), "x": range(10)})
    assert report.rows_between(frame, "t", "2013-01-03", "2013-01-06")["x"].tolist() == [2, 3, 4]
    assert report.rows_between(frame, "t", None, None) is frame
    assert report.rows_between(frame, "t", "2013-01-09")["x"].tolist() == [8, 9]
    with pytest.raises(MonitorError, match="no 'when' column"):
        report.rows_between(frame, "when", "2013-01-03")
    assert report.window_label("new", None, None) == "new"
    assert report.window_label("new", "2013-11-01", None) == "new from 2013-11-01"


def test_rows_between_on_integer_periods_and_a_column_that_is_not_a_time():
    years = pd.DataFrame({"year": [2010, 2011, 2012, 2013], "x": range(4)})
    assert report.rows_between(years, "year", 2011, "2013")["x"].tolist() == [1, 2]
    assert report.rows_between(years, "year", "2012-06-01")["x"].tolist() == [3]
    months = pd.DataFrame({"month": ["201311", "201312", "201401"], "x": range(3)})
    assert report.rows_between(months, "month", "201312")["x"].tolist() == [1, 2]
    with pytest.raises(MonitorError, match="column 'x' is not a time"):
        report.rows_between(pd.DataFrame({"x": [0.5, 1.5]}), "x", "2013-01-01")


def test_the_notebook_check_windows_integer_years():
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"year": 2010, "v": rng.normal(size=600), "late": rng.integers(0, 2, 600)})
    current = pd.DataFrame({"year": np.repeat([2012, 2013], 300), "v": rng.normal(size=600),
                            "late": rng.integers(0, 2, 600)})
    result = report.run_check(reference, current, target="late", task="classification", time_column="year",
                              window="7D", origin=2012, drift_share=0.5, ignore_columns=[], min_rows=50,
                              trigger_k=2, trigger_n=3, performance_floor=None, performance_drop=None,
                              performance_metric="auto", metric="auto")
    assert [(w["start"][:10], w["rows"]) for w in result.windows] == [("2012-01-01", 300), ("2013-01-01", 300)]
