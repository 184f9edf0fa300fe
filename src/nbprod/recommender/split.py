"""The split by time: history before the cut, the test after it, and who is new after the cut.

One global cut in time (``split.test_start``, or the ``split.test_quantile`` of the interaction
times) separates the past from the future, and a second one (``split.valid_start``) the
validation period used to choose each candidate's parameters::

    [.., valid_start) train   [valid_start, test_start) valid   [test_start, ..) test

Each user's interactions after a cut are that period's test; a user (item) with no interaction
before the cut is a *cold-start* user (item) of that period. Everything a model learns (the
interaction matrix, popularity, segments) is computed from the frame before the cut only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

#: A user of the test period with interactions before the cut / without any.
KNOWN, COLD = "known", "cold"


class SplitError(ValueError):
    """The split settings leave a period empty or out of order."""


def cut_time(times: pd.Series, value: Any, quantile: float, setting: str) -> pd.Timestamp:
    """The cut: ``value`` (a date) when set, else the ``quantile`` of ``times``."""
    if value is None:
        return pd.Timestamp(times.quantile(quantile))
    try:
        return pd.Timestamp(value)
    except (ValueError, TypeError):
        raise SplitError(f"setting split.{setting} must be a date (e.g. 2014-01-01) or null, got {value!r}") from None


@dataclass(frozen=True)
class Cuts:
    """Where validation and test start."""

    valid_start: pd.Timestamp
    test_start: pd.Timestamp


def cuts(frame: pd.DataFrame, valid_start: Any, test_start: Any, valid_quantile: float,
         test_quantile: float) -> Cuts:
    """The two cuts from the settings; each period must hold interactions."""
    found = Cuts(cut_time(frame["time"], valid_start, valid_quantile, "valid_start"),
                 cut_time(frame["time"], test_start, test_quantile, "test_start"))
    if not found.valid_start < found.test_start:
        raise SplitError(f"split.valid_start ({found.valid_start}) must be before split.test_start "
                         f"({found.test_start})")
    for name, part in split_frame(frame, found).items():
        if part.empty:
            raise SplitError(f"the {name} period of the split is empty (cuts {found.valid_start} and "
                             f"{found.test_start}, data from {frame['time'].min()} to {frame['time'].max()})")
    return found


def split_frame(frame: pd.DataFrame, at: Cuts) -> dict[str, pd.DataFrame]:
    """``train``, ``valid`` and ``test``: the interactions of each period."""
    time = frame["time"]
    return {"train": frame[time < at.valid_start].reset_index(drop=True),
            "valid": frame[(time >= at.valid_start) & (time < at.test_start)].reset_index(drop=True),
            "test": frame[time >= at.test_start].reset_index(drop=True)}


def user_status(history: pd.DataFrame, later: pd.DataFrame) -> pd.Series:
    """Each user of ``later``: :data:`KNOWN` when ``history`` has them, else :data:`COLD` (indexed by user)."""
    users = pd.Index(later["user"].unique())
    known = users.isin(pd.Index(history["user"].unique()))
    return pd.Series([KNOWN if flag else COLD for flag in known], index=users, name="status")


def cold_items(history: pd.DataFrame, later: pd.DataFrame) -> set[str]:
    """Items of ``later`` that ``history`` never saw."""
    return set(later["item"].unique()) - set(history["item"].unique())


def relevant_items(history: pd.DataFrame, later: pd.DataFrame) -> dict[str, set[str]]:
    """What each user of ``later`` interacted with there and not before (what a recommendation should find)."""
    seen = set(zip(history["user"], history["item"]))
    relevant: dict[str, set[str]] = {}
    for user, item in zip(later["user"], later["item"]):
        if (user, item) not in seen:
            relevant.setdefault(user, set()).add(item)
    return relevant


def summary(history: pd.DataFrame, later: pd.DataFrame) -> dict[str, Any]:
    """Rows, users, items and the cold-start shares of a period against its history."""
    status = user_status(history, later)
    new_items = cold_items(history, later)
    return {
        "rows": int(len(later)), "users": int(len(status)), "items": int(later["item"].nunique()),
        "known_users": int((status == KNOWN).sum()), "cold_users": int((status == COLD).sum()),
        "cold_items": len(new_items),
        "cold_item_share": float(later["item"].isin(new_items).mean()) if len(later) else 0.0,
    }
