"""The cold-start fallback: the most popular items of the user's segment, else of everyone.

A user the collaborative model never saw gets the items most users of their segment (a user
attribute such as country or age band: ``fallback.segment``) interacted with. A segment with
fewer than ``fallback.min_segment_users`` users, an unknown segment, or no segment at all falls
back to the global top. An item enters the lists once it has ``fallback.min_item_interactions``
users: a new item can be recommended through the fallback after N interactions (at the next
fit), never through the collaborative part, which only knows the items it was fitted on.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pandas as pd

#: The paths a recommendation can come from.
COLLABORATIVE, SEGMENT, GLOBAL = "collaborative", "fallback:segment", "fallback:global"
PATHS = (COLLABORATIVE, SEGMENT, GLOBAL)
#: Items kept per list: the largest k a request may ask for, plus room for the items it excludes.
KEEP = 500


def ranked_items(frame: pd.DataFrame, eligible: pd.Index, users: int, keep: int) -> pd.Series:
    """The ``keep`` items of ``eligible`` with the most distinct users in ``frame``: item -> share of ``users``.

    Ties are broken by item id, so the order never depends on the row order.
    """
    counts = frame[frame["item"].isin(eligible)].groupby("item")["user"].nunique()
    order = counts.reset_index().sort_values(["user", "item"], ascending=[False, True]).head(keep)
    return pd.Series(order["user"].to_numpy() / max(users, 1), index=order["item"].to_numpy())


class SegmentPopularity:
    """The fallback (see the module docstring); ``fit`` on the history, ``recommend`` for one user."""

    def __init__(self, segment: str | None = None, min_segment_users: int = 20,
                 min_item_interactions: int = 1, keep: int = KEEP) -> None:
        self.segment = segment
        self.min_segment_users = min_segment_users
        self.min_item_interactions = min_item_interactions
        self.keep = keep

    def fit(self, frame: pd.DataFrame) -> "SegmentPopularity":
        """Learn the global and per-segment lists from ``frame`` (``user``, ``item`` and the segment column)."""
        users_per_item = frame.groupby("item")["user"].nunique()
        eligible = users_per_item.index[users_per_item >= self.min_item_interactions]
        self.global_ = ranked_items(frame, eligible, frame["user"].nunique(), self.keep)
        self.segments_: dict[str, pd.Series] = {}
        self.__dict__.pop("_cache", None)
        if self.segment and self.segment in frame.columns:
            rows = frame.dropna(subset=[self.segment])
            for value, part in rows.groupby(rows[self.segment].astype(str)):
                users = part["user"].nunique()
                if users >= self.min_segment_users:
                    self.segments_[str(value)] = ranked_items(part, eligible, users, self.keep)
        return self

    def recommend(self, segment: Any, k: int, exclude: Iterable[str] = ()) -> tuple[list[str], list[float], str]:
        """``(items, scores, path)``: the top ``k`` of ``segment``'s list (filled up from the global one),
        or of the global list when the segment is unknown or too small."""
        excluded = set(exclude)
        key = None if segment is None or (isinstance(segment, float) and np.isnan(segment)) else str(segment)
        lists = [self.segments_[key], self.global_] if key in self.segments_ else [self.global_]
        items: list[str] = []
        scores: list[float] = []
        for ranked in lists:
            for item, text, score in self._entries(ranked):
                if len(items) == k:
                    break
                if item not in excluded and text not in items:
                    items.append(text)
                    scores.append(score)
        return items, scores, SEGMENT if key in self.segments_ else GLOBAL

    def _entries(self, ranked: pd.Series) -> list[tuple[Any, str, float]]:
        """``(item, item as text, score)`` of a fitted list, made once (a request walks a Python list, not
        a Series)."""
        cache = self.__dict__.setdefault("_cache", {})
        entries = cache.get(id(ranked))
        if entries is None:
            entries = cache[id(ranked)] = [(item, str(item), float(score)) for item, score in ranked.items()]
        return entries

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_cache", None)  # rebuilt from the fitted lists
        return state
