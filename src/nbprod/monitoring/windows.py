"""Slicing rows into windows (``monitor.window``, placed by ``monitor.window_column``).

Time windows are aligned on a fixed origin (``split.new_start``), so the same rows always
fall in the same window whatever else a log holds: ``[origin + i * length,
origin + (i + 1) * length)``. Fixed lengths (``7D``, ``1D``, ``12h``) use that
arithmetic; calendar offsets (``MS``, ``W-MON``) use their own boundaries. Times are
naive UTC (an offset-aware column is converted to UTC first); rows without a time
are left out and counted. The column is read by :func:`nbprod.data.times.read_times`:
dates, dates as text, or integer periods (a year, a yyyymm month). Integer periods
make windows of whole periods: one each, or ``N`` of them with a calendar window of
``N`` periods (``2YS`` on years; ``3MS`` or ``QS`` on yyyymm months); a time length
(``7D``) on a period column means one period.

Rows with no time to place them (``window_column: auto`` and neither the data's time
column nor the request time among them, or ``window_column: none``) are windows in
file order: the whole input is one window, or ``monitor.window: 10000rows`` cuts it
into windows of that many rows. Such windows are keyed at the monitoring pass's time,
one second apart in file order (the history orders and keys windows by time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import re

import numpy as np
import pandas as pd

from nbprod.data.times import TimeColumnError, cut_stamp, index_start, naive_utc, period_index, read_times

#: The prediction log's request time column.
REQUEST_TIME = "time"
#: ``monitor.window_column`` value placing rows by file order, whatever columns they have.
FILE_ORDER = "none"
#: ``monitor.window`` of rows in file order: ``10000rows``.
ROWS_PATTERN = re.compile(r"\s*(\d+)\s*rows?\s*", re.IGNORECASE)


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


def resolve_column(setting: str, time_column: str | None, columns: Sequence[str]) -> str | None:
    """The column that places a row (None: file order).

    ``auto``: the data's time column when the rows have it, else the request time,
    else file order; ``none``: file order; any other value must be a column of the rows.
    """
    columns = list(columns)
    if setting == FILE_ORDER:
        return None
    if setting == "auto":
        if time_column and time_column in columns:
            return time_column
        if REQUEST_TIME in columns:
            return REQUEST_TIME
        return None
    if setting not in columns:
        raise WindowError(f"monitor.window_column {setting!r} is not a column of the rows "
                          f"(auto: the data's time column or the request time; {FILE_ORDER}: file order)")
    return setting


def row_count(window: str) -> int | None:
    """The rows per window of ``monitor.window: <N>rows`` (None for a time window)."""
    match = ROWS_PATTERN.fullmatch(str(window))
    if match is None:
        return None
    count = int(match.group(1))
    if count < 1:
        raise WindowError(f"monitor.window {window!r} must be at least 1row")
    return count


def rows_per_window(window: str, column: str | None) -> int | None:
    """:func:`row_count` of ``monitor.window``; a :class:`WindowError` when it cuts rows in file order but
    ``column`` places them in time."""
    count = row_count(window)
    if count is not None and column is not None:
        raise WindowError(f"monitor.window {window!r} cuts rows in file order, but {column!r} places these rows in "
                          f"time: use a time window (7D, MS...) or monitor.window_column: {FILE_ORDER}")
    return count


def parse_length(window: str, period: str | None = None) -> Any:
    """A pandas offset from ``monitor.window`` (``7D``, ``1D``, ``12h``, ``MS``...).

    With ``period`` (the column holds integer periods) a calendar window of several
    periods is allowed: period windows are whole periods and never overlap.
    """
    from pandas.tseries.frequencies import to_offset

    try:
        offset = to_offset(window)
    except (TypeError, ValueError) as error:
        raise WindowError(f"monitor.window {window!r} is not a pandas offset (e.g. 7D, 1D, 12h) "
                          "nor a number of rows (e.g. 10000rows)") from error
    length = fixed_length(offset)
    if length is not None and length <= pd.Timedelta(0):
        raise WindowError(f"monitor.window {window!r} must be a positive length")
    if length is None and offset.n != 1 and period is None:  # calendar windows are one period each: 2MS would overlap
        raise WindowError(f"monitor.window {window!r}: a calendar window is one period (MS, W-MON, ...); "
                          "for longer ones use a fixed length such as 14D")
    return offset


def fixed_length(offset: Any) -> pd.Timedelta | None:
    """The length of a fixed offset (``7D``, ``12h``), None for calendar ones (``MS``, ``W-MON``)."""
    try:
        return pd.Timedelta(offset)
    except (TypeError, ValueError):
        return None


def origin_stamp(origin: Any, period: str | None) -> pd.Timestamp:
    """The windows' origin (``split.new_start``) as a timestamp; a :class:`WindowError` when it is not a time."""
    try:
        return cut_stamp(origin, period, "the windows' origin (split.new_start)")
    except TimeColumnError as error:
        raise WindowError(f"the windows' origin (split.new_start) is not a date: {origin!r}") from error


def bounds(stamps: pd.Series, window: str, origin: Any) -> tuple[pd.Series, pd.Series]:
    """The start and end of the window of each (non-missing) timestamp."""
    offset = parse_length(window)
    origin = origin_stamp(origin, None)
    length = fixed_length(offset)
    if length is not None:
        index = (stamps - origin) // length
        starts = origin + index * length
        return starts, starts + length
    starts = stamps.map(lambda stamp: stamp if offset.is_on_offset(stamp) and stamp == stamp.normalize()
                        else offset.rollback(stamp.normalize()))
    return starts, starts.map(lambda start: start + offset)


def periods_per_window(window: str, period: str) -> int:
    """How many periods one window holds: ``N`` for a calendar window of ``N`` years/quarters/months, else 1."""
    from pandas.tseries import offsets

    offset = parse_length(window, period)
    months = next((size for kinds, size in (((offsets.YearBegin, offsets.YearEnd), 12),
                                            ((offsets.QuarterBegin, offsets.QuarterEnd), 3),
                                            ((offsets.MonthBegin, offsets.MonthEnd), 1))
                   if isinstance(offset, kinds)), None)
    if months is None:  # a time length (7D) or another calendar unit: one period
        return 1
    count = offset.n * months // (12 if period == "year" else 1)
    if count < 1:
        raise WindowError(f"monitor.window {window!r} is shorter than one {period} of the window column")
    return count


def period_bounds(stamps: pd.Series, period: str, window: str, origin: Any) -> tuple[pd.Series, pd.Series]:
    """Window bounds of period-start timestamps: whole periods counted from the origin's period."""
    size = periods_per_window(window, period)
    first = int(period_index(pd.Series([origin_stamp(origin, period)]), period).iloc[0])
    index = period_index(stamps, period)
    start = first + ((index - first) // size) * size
    return index_start(start, period), index_start(start + size, period)


def slice_windows(frame: pd.DataFrame, column: str | None, window: str, origin: Any, *,
                  now: Any = None) -> tuple[list[Window], int]:
    """``frame``'s rows grouped into windows by ``column``, in time order; and the rows without a time.

    ``column`` None: windows in file order (all rows, or ``<N>rows`` each), keyed at
    ``now`` (default: this moment, to the second). A ``<N>rows`` window with a column
    that places the rows, and a column that holds no times, are :class:`WindowError`\ s.
    """
    count = rows_per_window(window, column)
    if frame.empty:
        return [], 0
    if column is None:
        return row_windows(frame, count or len(frame), now), 0
    known, starts, ends = place(frame[column], column, window, origin)
    missing = int((~known).sum())
    rows = frame[known].reset_index(drop=True)
    windows = [Window(start, end, rows.iloc[positions]) for (start, end), positions in groups(starts, ends).items()]
    return windows, missing


def place(values: pd.Series, column: str, window: str, origin: Any) -> tuple[np.ndarray, pd.Series, pd.Series]:
    """Which of ``values`` (the column ``column``) hold a time (a boolean array), and the start and end of the
    window of each of those (:func:`slice_windows`'s placing of rows, for a frame or one file's part of it)."""
    try:
        times = read_times(values, column)
    except TimeColumnError as error:
        raise WindowError(f"monitor.window_column: {error}") from None
    stamps = times.stamps.set_axis(values.index)
    known = stamps.notna().to_numpy()
    stamps = stamps[known].reset_index(drop=True)
    if not known.any():
        return known, stamps, stamps
    if times.period is not None:
        return (known, *period_bounds(stamps, times.period, window, origin))
    return (known, *bounds(stamps, window, origin))


def groups(starts: pd.Series, ends: pd.Series) -> dict[tuple[pd.Timestamp, pd.Timestamp], np.ndarray]:
    """The positions of each window's rows (in row order), by ``(start, end)`` in time order."""
    keys = pd.DataFrame({"start": starts.to_numpy(), "end": ends.to_numpy()})
    if keys.empty:
        return {}
    return {(pd.Timestamp(start), pd.Timestamp(end)): positions
            for (start, end), positions in sorted(keys.groupby(["start", "end"], sort=True).indices.items())}


def row_windows(frame: pd.DataFrame, size: int, now: Any = None) -> list[Window]:
    """``frame`` cut into windows of ``size`` rows in file order, keyed one second apart from ``now``."""
    base = file_order_base(now)
    return [Window(*row_window_bounds(base, number), frame.iloc[first:first + size])
            for number, first in enumerate(range(0, len(frame), size))]


def file_order_base(now: Any = None) -> pd.Timestamp:
    """Where windows in file order are keyed: ``now`` (default: this moment) as naive UTC, to the second."""
    base = pd.Timestamp.now(tz="UTC").tz_localize(None) if now is None else naive_utc([now]).iloc[0]
    return base.floor("s")


def row_window_bounds(base: pd.Timestamp, number: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The start and end of the ``number``-th window in file order: one second each from ``base``."""
    second = pd.Timedelta(seconds=1)
    return base + number * second, base + (number + 1) * second
