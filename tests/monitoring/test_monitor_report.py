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
