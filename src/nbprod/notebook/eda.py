"""Summaries for the exploratory notebook: pure functions of a frame."""

from __future__ import annotations

import pandas as pd

#: Most columns one figure of the EDA notebook shows: a wide table lists every column in its summary,
#: but 200 histograms or a 200 x 200 heatmap are neither readable nor quick to draw.
MAX_PLOTTED = 24


def overview(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """Rows, columns, target mean and missing-target count, as a one-row table."""
    return pd.DataFrame(
        {
            "rows": [len(frame)],
            "columns": [frame.shape[1]],
            "target_mean": [round(float(frame[target].mean()), 4)],
            "target_missing": [int(frame[target].isna().sum())],
        }
    )


def column_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per column: dtype, missing rate, distinct values."""
    return pd.DataFrame(
        {
            "dtype": frame.dtypes.astype(str),
            "missing_rate": frame.isna().mean().round(4),
            "distinct": frame.nunique(),
        }
    ).sort_values("missing_rate", ascending=False)


def target_rate_over_time(frame: pd.DataFrame, target: str, time_column: str, freq: str = "W") -> pd.Series:
    """Mean of the target per period of ``time_column``."""
    stamps = pd.to_datetime(frame[time_column])
    return frame[target].groupby(stamps.dt.to_period(freq).dt.start_time).mean().rename(target)


def numeric_correlations(frame: pd.DataFrame) -> pd.DataFrame:
    """Spearman correlations between the numeric columns."""
    return frame.select_dtypes("number").corr(method="spearman")


def target_rate_by(frame: pd.DataFrame, target: str, column: str, top: int = 15) -> pd.Series:
    """Mean target per value of ``column``, for its ``top`` most frequent values."""
    common = frame[column].value_counts().index[:top]
    subset = frame[frame[column].isin(common)]
    return subset.groupby(column, observed=True)[target].mean().sort_values(ascending=False)
