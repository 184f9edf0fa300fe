"""nbprod.notebook.eda: summaries for the exploratory notebook."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbprod.notebook import eda


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame({
        "t": pd.to_datetime(["2013-01-01", "2013-01-02", "2013-01-08", "2013-01-09", "2013-01-15"]),
        "carrier": ["AA", "AA", "UA", "UA", "DL"],
        "x": [1.0, 2.0, 3.0, np.nan, 5.0],
        "w": [10, 8, 6, 4, 2],
        "late": [1.0, 0.0, 1.0, 1.0, np.nan],
    })


def test_overview(table):
    row = eda.overview(table, "late").iloc[0]
    assert row.to_dict() == {"rows": 5, "columns": 5, "target_mean": 0.75, "target_missing": 1}


def test_column_summary_sorted_by_missing_rate(table):
    summary = eda.column_summary(table.assign(x=[np.nan, np.nan, 3.0, np.nan, 5.0]))
    assert summary.index[0] == "x" and summary.loc["x", "missing_rate"] == 0.6
    assert summary.loc["carrier", "distinct"] == 3
    assert summary.loc["w", "dtype"] == "int64"
    assert summary["missing_rate"].is_monotonic_decreasing


def test_target_rate_over_time_weekly(table):
    rate = eda.target_rate_over_time(table, "late", "t")
    assert rate.name == "late"
    assert rate.tolist()[:2] == [0.5, 1.0]
    assert len(rate) == 3 and np.isnan(rate.iloc[2])  # the last week only has a missing target
    assert all(stamp.dayofweek == 0 for stamp in rate.index)  # weeks start on Monday


def test_numeric_correlations_are_spearman_over_numeric_columns(table):
    corr = eda.numeric_correlations(table)
    assert list(corr.columns) == ["x", "w", "late"]
    assert corr.loc["x", "w"] == pytest.approx(-1.0)


def test_target_rate_by_top_values(table):
    rate = eda.target_rate_by(table, "late", "carrier", top=2)
    assert set(rate.index) == {"AA", "UA"}
    assert rate.tolist() == [1.0, 0.5]  # sorted best first


def test_a_text_target_is_averaged_as_the_share_of_its_rarest_class(table):
    text = table.assign(late=table["late"].map({1.0: "No", 0.0: "Yes"}))
    assert eda.overview(text, "late").iloc[0]["target_mean"] == 0.25
    assert eda.target_rate_by(text, "late", "carrier", top=2).to_dict() == {"AA": 0.5, "UA": 0.0}
    rate = eda.target_rate_over_time(text, "late", "t")
    assert rate.name == "late = Yes" and rate.tolist()[:2] == [0.5, 0.0]


def test_a_target_without_values_has_no_mean(table):
    assert np.isnan(eda.overview(table.assign(late=[None] * 5), "late").iloc[0]["target_mean"])


def test_correlations_of_a_long_table_come_from_a_seeded_sample():
    rng = np.random.default_rng(0)
    x = rng.normal(size=5_000)
    long = pd.DataFrame({"x": x, "w": x + rng.normal(size=5_000), "name": ["a"] * 5_000})
    sampled = eda.numeric_correlations(long, max_rows=1_000)
    assert list(sampled.columns) == ["x", "w"]
    assert sampled.equals(eda.numeric_correlations(long, max_rows=1_000))  # the same rows every time
    full = long[["x", "w"]].corr(method="spearman")
    assert not sampled.equals(full)
    assert sampled.loc["x", "w"] == pytest.approx(full.loc["x", "w"], abs=0.05)
