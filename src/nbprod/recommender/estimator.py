"""One recommender: a collaborative candidate for known users, the fallback for everyone else.

:class:`Recommender` follows the scikit-learn contract (``__init__`` stores its arguments,
``fit`` returns ``self``, learned attributes end in ``_``)::

    model = Recommender(kind="item_knn", params={"neighbours": 50}, segment="country").fit(history)
    model.recommend("u42", k=10)     # Recommendation(user, items, scores, path)

A user of the history is served by the collaborative model (path ``collaborative``); a user it
never saw, or any user of the ``popularity`` kind, by the fallback (``fallback:segment`` or
``fallback:global``, see :mod:`nbprod.recommender.fallback`). Only items of the history can
come out of the collaborative part.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from nbprod.recommender import data as data_module
from nbprod.recommender import fallback as fallback_module
from nbprod.recommender import models

#: Popularity breaks the ties of collaborative scores (an item-item model scores most items 0).
TIE_BREAK = 1e-6
#: Scores per block in :func:`top_k`.
BLOCK = 64


@dataclass(frozen=True)
class Recommendation:
    """The items for one user, best first, their scores and the path that produced them."""

    user: str
    items: list[str]
    scores: list[float]
    path: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` highest finite scores, best first (equal scores: the lower position first).

    For a short list of a long catalogue (the usual request), the scores are cut into blocks of
    :data:`BLOCK` and the ``k``-th largest block maximum is a floor under the ``k``-th largest score
    (``k`` blocks reach it): only the few scores above it are sorted. ``numpy.argpartition`` over the
    whole catalogue cost ten times more.
    """
    blocks = -(-len(scores) // BLOCK)
    if blocks < 4 * k:
        finite = np.flatnonzero(np.isfinite(scores))
        if len(finite) > k:  # every score up to the k-th largest, ties included
            finite = finite[scores[finite] >= -np.partition(-scores[finite], k - 1)[k - 1]]
        return finite[np.argsort(-scores[finite], kind="stable")[:k]]
    padded = np.full(blocks * BLOCK, -np.inf, dtype=scores.dtype)
    padded[:len(scores)] = scores
    maxima = padded.reshape(blocks, BLOCK).max(axis=1)
    candidates = np.flatnonzero(scores >= np.partition(maxima, blocks - k)[blocks - k])
    candidates = candidates[np.isfinite(scores[candidates])]
    return candidates[np.argsort(-scores[candidates], kind="stable")[:k]]


@dataclass(frozen=True)
class Lookup:
    """What answering one user looks up, built once from a fitted :class:`Recommender` (never pickled):
    the row of each user id, the item ids (as fitted, and as text), and the seen items of each row
    (the history's CSR arrays)."""

    rows: dict
    items: np.ndarray
    item_ids: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray

    @classmethod
    def of(cls, users: pd.Index, items: pd.Index, seen: Any) -> "Lookup":
        item_ids = np.empty(len(items), dtype=object)
        item_ids[:] = [str(item) for item in items]
        return cls({user: row for row, user in enumerate(users)}, items.to_numpy(dtype=object), item_ids,
                   seen.indptr, seen.indices)

    def seen(self, row: int) -> np.ndarray:
        """Column numbers of the items user ``row`` interacted with."""
        return self.indices[self.indptr[row]:self.indptr[row + 1]]


class Recommender:
    """A collaborative candidate with the cold-start fallback (see the module docstring)."""

    def __init__(self, kind: str = "popularity", params: Mapping[str, Any] | None = None,
                 segment: str | None = None, min_segment_users: int = 20, min_item_interactions: int = 1,
                 threads: int = 1, seed: int = 0) -> None:
        self.kind = kind
        self.params = params
        self.segment = segment
        self.min_segment_users = min_segment_users
        self.min_item_interactions = min_item_interactions
        self.threads = threads
        self.seed = seed

    def fit(self, interactions: pd.DataFrame) -> "Recommender":
        """Learn from ``interactions`` (``user``, ``item``, ``weight`` and the segment column) only."""
        matrix = models.interaction_matrix(interactions)
        self.users_, self.items_, self.seen_ = matrix.users, matrix.items, matrix.matrix
        self.fallback_ = fallback_module.SegmentPopularity(
            self.segment, self.min_segment_users, self.min_item_interactions).fit(interactions)
        self.segments_ = data_module.user_segments(interactions, self.segment)
        popularity = np.asarray(models.binary(self.seen_).sum(axis=0)).ravel()
        self.tie_break_ = (TIE_BREAK * popularity / max(popularity.max(initial=0), 1)).astype(np.float32)
        self.model_ = None if self.kind == "popularity" else models.make_model(
            self.kind, dict(self.params or {}), self.threads, self.seed).fit(self.seen_)
        self.__dict__.pop("_lookup", None)
        return self

    def recommend(self, user: Any, k: int = 10, exclude_seen: bool = True, segment: Any = None) -> Recommendation:
        """The top ``k`` items for ``user``; ``segment`` overrides the segment the history gave them."""
        user = str(user)
        lookup = self.lookup()
        row = lookup.rows.get(user, -1)
        if row >= 0 and self.model_ is not None:
            scores = models.user_scores(self.model_, self.seen_, row) + self.tie_break_
            if exclude_seen:
                scores[lookup.seen(row)] = -np.inf
            chosen = top_k(scores, k)
            return Recommendation(user, lookup.item_ids[chosen].tolist(), scores[chosen].astype(float).tolist(),
                                  fallback_module.COLLABORATIVE)
        exclude = lookup.items[lookup.seen(row)] if row >= 0 and exclude_seen else ()
        segment = segment if segment is not None else self.segments_.get(user)
        items, scores, path = self.fallback_.recommend(segment, k, exclude)
        return Recommendation(user, items, scores, path)

    def lookup(self) -> Lookup:
        """The :class:`Lookup` of this fitted model (built on the first call after ``fit`` or unpickling)."""
        lookup = self.__dict__.get("_lookup")
        if lookup is None:
            lookup = self._lookup = Lookup.of(self.users_, self.items_, self.seen_)
        return lookup

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_lookup", None)  # rebuilt from the fitted arrays: not shipped, not in the footprint
        return state

    def footprint_bytes(self) -> int:
        """Bytes of the learned arrays the model ships: the candidate's (factors, neighbour matrix) and the
        history used to exclude seen items."""
        history = self.seen_.data.nbytes + self.seen_.indices.nbytes + self.seen_.indptr.nbytes
        return history + (models.footprint_bytes(self.model_) if self.model_ is not None else 0)
