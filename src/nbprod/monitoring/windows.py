"""Slicing rows into time windows (``monitor.window``, placed by ``monitor.window_column``).

Windows are aligned on a fixed origin (``split.new_start``), so the same rows always
fall in the same window whatever else a log holds: ``[origin + i * length,
origin + (i + 1) * length)``. Fixed lengths (``7D``, ``1D``, ``12h``) use that
arithmetic; calendar offsets (``MS``, ``W-MON``) use their own boundaries. Times are
naive UTC (an offset-aware column is converted to UTC first); rows without a time
are left out and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import pandas as pd

#: The prediction log's request time column.
REQUEST_TIME = "time"


class WindowError(ValueError):
    """The window settings do not fit the rows (unknown column, bad length)."""


@dataclass(frozen=True)
class Window:
    """The rows of one window: ``start <= time < end``."""

    start: pd.Timestamp
    end: pd.Timestamp
    frame: pd.DataFrame

    @property
    def rows(self) -> int:
        return int(len(self.frame))

    @property
    def key(self) -> tuple[str, str]:
        return iso(self.start), iso(self.end)


def iso(stamp: Any) -> str:
    """``2013-10-01T00:00:00``: the form windows are keyed by in the history."""
    return pd.Timestamp(stamp).isoformat(timespec="seconds")


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


def resolve_column(setting: str, time_column: str | None, columns: Sequence[str]) -> str:
    """The column that places a row: ``auto`` = the data's time column when the rows have it, else request time."""
    columns = list(columns)
    if setting == "auto":
        if time_column and time_column in columns:
            return time_column
        if REQUEST_TIME in columns:
            return REQUEST_TIME
        raise WindowError(f"monitor.window_column is auto but the rows have neither the data's time column "
                          f"{time_column!r} nor the request time {REQUEST_TIME!r}")
    if setting not in columns:
        raise WindowError(f"monitor.window_column {setting!r} is not a column of the rows")
    return setting


def parse_length(window: str) -> Any:
    """A pandas offset from ``monitor.window`` (``7D``, ``1D``, ``12h``, ``MS``...)."""
    from pandas.tseries.frequencies import to_offset

    try:
        offset = to_offset(window)
    except (TypeError, ValueError) as error:
        raise WindowError(f"monitor.window {window!r} is not a pandas offset (e.g. 7D, 1D, 12h)") from error
    length = fixed_length(offset)
    if length is not None and length <= pd.Timedelta(0):
        raise WindowError(f"monitor.window {window!r} must be a positive length")
    if length is None and offset.n != 1:  # calendar windows are one period each: 2MS would overlap
        raise WindowError(f"monitor.window {window!r}: a calendar window is one period (MS, W-MON, ...); "
                          "for longer ones use a fixed length such as 14D")
    return offset


def fixed_length(offset: Any) -> pd.Timedelta | None:
    """The length of a fixed offset (``7D``, ``12h``), None for calendar ones (``MS``, ``W-MON``)."""
    try:
        return pd.Timedelta(offset)
    except (TypeError, ValueError):
        return None


def bounds(stamps: pd.Series, window: str, origin: Any) -> tuple[pd.Series, pd.Series]:
    """The start and end of the window of each (non-missing) timestamp."""
    offset = parse_length(window)
    start = naive_utc([origin]).iloc[0]
    if pd.isna(start):
        raise WindowError(f"the windows' origin (split.new_start) is not a date: {origin!r}")
    origin = start
    length = fixed_length(offset)
    if length is not None:
        index = (stamps - origin) // length
        starts = origin + index * length
        return starts, starts + length
    starts = stamps.map(lambda stamp: stamp if offset.is_on_offset(stamp) and stamp == stamp.normalize()
                        else offset.rollback(stamp.normalize()))
    return starts, starts.map(lambda start: start + offset)


def slice_windows(frame: pd.DataFrame, column: str, window: str, origin: Any) -> tuple[list[Window], int]:
    """``frame``'s rows grouped into windows by ``column``, in time order; and the rows without a time."""
    if frame.empty:
        return [], 0
    stamps = naive_utc(frame[column]).set_axis(frame.index)
    known = stamps.notna()
    missing = int((~known).sum())
    if not known.any():
        return [], missing
    rows = frame[known.to_numpy()].reset_index(drop=True)
    stamps = stamps[known].reset_index(drop=True)
    starts, ends = bounds(stamps, window, origin)
    keys = pd.DataFrame({"start": starts.to_numpy(), "end": ends.to_numpy()})
    windows = []
    for (start, end), positions in sorted(keys.groupby(["start", "end"], sort=True).indices.items()):
        windows.append(Window(pd.Timestamp(start), pd.Timestamp(end), rows.iloc[positions]))
    return windows, missing
