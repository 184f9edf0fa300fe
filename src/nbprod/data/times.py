"""Reading a time column: datetimes, dates as text, or integer periods (a year, a yyyymm month).

Every time column -- the data's ``data.time_column`` that splits the rows, the
column that places monitored rows in windows -- is read here, into naive UTC
timestamps. Integer periods are placed at the start of their period (``2013`` ->
2013-01-01, ``201309`` -> 2013-09-01) and remembered as such, so that windows and
split cuts count in periods. A column that is none of these (free text, fractional
numbers, booleans) is a :class:`TimeColumnError` naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: Integer periods a time column may hold: name -> (digits, pandas calendar offset of one period).
PERIODS = {"year": (4, "YS"), "month": (6, "MS")}
#: Years a period can name (pandas' nanosecond timestamps cover 1678-2261).
YEARS = (1678, 2261)


class TimeColumnError(ValueError):
    """A column that should hold times does not."""


@dataclass(frozen=True)
class Times:
    """A time column read: naive UTC timestamps (NaT when missing) and its period (None: datetimes)."""

    stamps: pd.Series
    period: str | None = None


def naive_utc(values: Any) -> pd.Series:
    """Timestamps as naive UTC (aware ones converted; unparsable ones NaT)."""
    series = pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(series):
        stamps = series
    else:
        try:
            stamps = pd.to_datetime(series, errors="coerce", format="mixed")
        except (TypeError, ValueError):  # offsets that differ between rows: everything to UTC
            stamps = pd.to_datetime(series, errors="coerce", format="mixed", utc=True)
        if not pd.api.types.is_datetime64_any_dtype(stamps):
            stamps = pd.to_datetime(series, errors="coerce", format="mixed", utc=True)
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return stamps


def _period_numbers(series: pd.Series) -> pd.Series | None:
    """The values as integers when every present one is a whole number or a text of digits, else None."""
    present = series.dropna()
    if pd.api.types.is_bool_dtype(series.dtype):
        return None
    if pd.api.types.is_numeric_dtype(series.dtype):
        numbers = pd.to_numeric(present)
        if not np.all(np.isfinite(numbers)) or not np.all(numbers == np.floor(numbers)):
            return None
        return numbers.astype("int64")
    text = present.astype(str).str.strip()
    if not len(text) or not text.str.fullmatch(r"\d{4}|\d{6}").all():
        return None
    return text.astype("int64")


def period_of(series: pd.Series) -> str | None:
    """``"year"`` (1678..2261), ``"month"`` (yyyymm) when every present value is one, else None."""
    numbers = _period_numbers(series)
    if numbers is None or not len(numbers):
        return None
    if numbers.between(*YEARS).all():
        return "year"
    years, months = numbers // 100, numbers % 100
    if years.between(*YEARS).all() and months.between(1, 12).all():
        return "month"
    return None


def period_starts(numbers: pd.Series, period: str) -> pd.Series:
    """The first instant of each period (``2013`` -> 2013-01-01, ``201309`` -> 2013-09-01); NaT when missing."""
    values = pd.to_numeric(numbers, errors="coerce")
    years = values if period == "year" else values // 100
    months = pd.Series(1, index=values.index) if period == "year" else values % 100
    parts = pd.DataFrame({"year": years, "month": months, "day": 1}, index=values.index)
    known = values.notna()
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    if known.any():
        result[known] = pd.to_datetime(parts[known].astype("int64"))
    return result


def read_times(series: pd.Series, column: str) -> Times:
    """The column as :class:`Times`; a :class:`TimeColumnError` naming ``column`` when it holds no times.

    Missing values (and, in text, values that do not parse) become NaT: the caller
    leaves those rows out. Whole numbers are periods or an error (they are never
    read as nanoseconds since 1970).
    """
    series = pd.Series(series)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return Times(naive_utc(series))
    if not series.notna().any():
        return Times(pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns]"))
    period = period_of(series)
    if period is not None:
        return Times(period_starts(_as_numbers(series), period), period)
    if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        raise TimeColumnError(f"column {column!r} is not a time: it holds numbers ({_example(series)}) that are "
                              "neither years (2013) nor yyyymm months (201309); use dates or integer periods")
    stamps = naive_utc(series)
    if not stamps.notna().any():
        raise TimeColumnError(f"column {column!r} is not a time: none of its values parses as a date "
                              f"(e.g. {_example(series)})")
    return Times(stamps)


def _as_numbers(series: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(series.dtype):
        return pd.to_numeric(series)
    return pd.to_numeric(series.astype("string").str.strip(), errors="coerce")


def _example(series: pd.Series) -> str:
    value = series.dropna().iloc[0]
    return repr(value.item() if isinstance(value, np.generic) else value)


def cut_stamp(value: Any, period: str | None, setting: str) -> pd.Timestamp:
    """A split or window bound (``"2013-10-01"``, ``2012``, ``"201309"``) as a naive UTC timestamp.

    Against a period column, a value of the period's digits is that period's start;
    any value may be a date. A value that is neither is a :class:`TimeColumnError`
    naming ``setting``.
    """
    text = str(value).strip()
    if period is not None and text.isdigit() and len(text) == PERIODS[period][0]:
        return period_starts(pd.Series([int(text)]), period).iloc[0]
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        kind = period_of(pd.Series([value]))
        if kind is not None:
            return period_starts(pd.Series([value]), kind).iloc[0]
        raise TimeColumnError(f"{setting} {value!r} is not a time: use a date (2013-10-01), a year or a yyyymm month")
    stamp = naive_utc([value]).iloc[0] if value is not None else pd.NaT
    if pd.isna(stamp):
        raise TimeColumnError(f"{setting} {value!r} is not a time: use a date (2013-10-01), a year or a yyyymm month")
    return pd.Timestamp(stamp)


def period_index(stamps: pd.Series, period: str) -> pd.Series:
    """Consecutive integers per period (years, or months counted from year 0) of period-start timestamps."""
    if period == "year":
        return stamps.dt.year.astype("int64")
    return (stamps.dt.year * 12 + stamps.dt.month - 1).astype("int64")


def index_start(index: pd.Series, period: str) -> pd.Series:
    """The start timestamp of each :func:`period_index` value."""
    numbers = index if period == "year" else (index // 12) * 100 + index % 12 + 1
    return period_starts(numbers, period)
