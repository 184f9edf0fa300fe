"""Summaries for the exploratory notebook: pure functions of a frame."""

from __future__ import annotations

import pandas as pd

#: Most columns one figure of the EDA notebook shows: a wide table lists every column in its summary,
#: but 200 histograms or a 200 x 200 heatmap are neither readable nor quick to draw.
MAX_PLOTTED = 24

#: Most rows the correlations are computed on: a larger table gives a seeded sample of this many. Ranking every
#: column of 3.4 million rows took 35 s and 1.2 GB; a sample this size estimates a correlation within about
#: 0.005 (its standard error, 1 / sqrt(rows)), far finer than the heatmap's colours.
CORRELATION_ROWS = 200_000


def numeric_target(values: pd.Series) -> pd.Series:
    """The target as numbers to average: numbers and booleans as they are; class labels (text) as 1 for
    the rarest class, 0 for the others, so a mean is that class's share (missing values stay missing)."""
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        return values.astype(float)
    from nbprod.model.classes import class_counts, infer_positive_class

    if class_counts(values).empty:
        return pd.Series(float("nan"), index=values.index, name=values.name)
    rarest = infer_positive_class(values)
    return (values == rarest).astype(float).where(values.notna()).rename(f"{values.name} = {rarest}")


def overview(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """Rows, columns, target mean (class labels: the rarest class's share) and missing-target count."""
    return pd.DataFrame(
        {
            "rows": [len(frame)],
            "columns": [frame.shape[1]],
            "target_mean": [round(float(numeric_target(frame[target]).mean()), 4)],
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
    """Mean of the target (see :func:`numeric_target`) per period of ``time_column``."""
    stamps = pd.to_datetime(frame[time_column])
    values = numeric_target(frame[target])
    return values.groupby(stamps.dt.to_period(freq).dt.start_time).mean().rename(values.name)


def numeric_correlations(frame: pd.DataFrame, max_rows: int = CORRELATION_ROWS, seed: int = 0) -> pd.DataFrame:
    """Spearman correlations between the numeric columns (on a seeded sample of ``max_rows`` rows when the
    frame has more)."""
    numeric = frame.select_dtypes("number")
    if len(numeric) > max_rows:
        numeric = numeric.sample(n=max_rows, random_state=seed)
    return numeric.corr(method="spearman")


def target_rate_by(frame: pd.DataFrame, target: str, column: str, top: int = 15) -> pd.Series:
    """Mean target (see :func:`numeric_target`) per value of ``column``, for its ``top`` most frequent values."""
    common = frame[column].value_counts().index[:top]
    pair = frame[[column, target]]
    subset = pair[pair[column].isin(common)]
    values = numeric_target(subset[target])
    return values.groupby(subset[column], observed=True).mean().sort_values(ascending=False)
