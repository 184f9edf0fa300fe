"""The collaborative candidates, on a sparse user x item matrix.

Each model follows one small contract: ``fit(matrix)`` learns from a CSR matrix of users x items
(a weight per interaction) and returns itself; ``scores(rows, users)`` scores every item for the
given rows of that matrix (the users' histories) and their row numbers; ``arrays()`` are the
learned arrays the model ships (their bytes are its footprint in the deployment budget).

- :class:`Popularity`: each item's number of distinct users (the baseline);
- :class:`ItemKNN`: cosine similarity between items, only the ``neighbours`` most similar kept per
  item (sparse); ``neighbours=None`` keeps them all, as one dense matrix of the full catalogue;
- :class:`Factorization`: ``implicit``'s ALS or BPR, run with ``threads`` native threads; only the
  factors are kept after fitting (serving needs numpy, not ``implicit``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
from scipy import sparse

#: Candidate kinds in ``train.candidates`` and the class that fits each.
KINDS = ("popularity", "item_knn", "als", "bpr")


class CandidateError(ValueError):
    """A candidate in ``train.candidates`` is malformed (the message names it)."""


@dataclass(frozen=True)
class Interactions:
    """A user x item CSR matrix and the user and item ids of its rows and columns."""

    matrix: sparse.csr_matrix
    users: pd.Index
    items: pd.Index


def interaction_matrix(frame: pd.DataFrame) -> Interactions:
    """The interactions of ``frame`` (``user``, ``item``, ``weight``) as a matrix; repeats add up."""
    users = pd.Index(pd.unique(frame["user"]))
    items = pd.Index(pd.unique(frame["item"]))
    matrix = sparse.csr_matrix((frame["weight"].to_numpy(dtype=np.float32),
                                (users.get_indexer(frame["user"]), items.get_indexer(frame["item"]))),
                               shape=(len(users), len(items)), dtype=np.float32)
    matrix.sum_duplicates()
    return Interactions(matrix, users, items)


def binary(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    """The matrix with every stored interaction as 1."""
    out = matrix.copy()
    out.data = np.ones_like(out.data)
    return out


class Popularity:
    """Every user gets the items most users interacted with."""

    def fit(self, matrix: sparse.csr_matrix) -> "Popularity":
        self.popularity_ = np.asarray(binary(matrix).sum(axis=0)).ravel().astype(np.float32)
        return self

    def scores(self, rows: sparse.csr_matrix, users: np.ndarray) -> np.ndarray:
        return np.tile(self.popularity_, (rows.shape[0], 1))

    def arrays(self) -> list[np.ndarray]:
        return [self.popularity_]


def top_per_row(similarity: sparse.csr_matrix, keep: int) -> sparse.csr_matrix:
    """Each row's ``keep`` largest entries (the rest dropped), as CSR."""
    similarity = similarity.tocsr()
    rows, cols, values = [], [], []
    for row in range(similarity.shape[0]):
        start, end = similarity.indptr[row], similarity.indptr[row + 1]
        data, index = similarity.data[start:end], similarity.indices[start:end]
        if len(data) > keep:
            chosen = np.argpartition(-data, keep - 1)[:keep]
            data, index = data[chosen], index[chosen]
        rows.append(np.full(len(data), row))
        cols.append(index)
        values.append(data)
    return sparse.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
                             shape=similarity.shape, dtype=np.float32)


class ItemKNN:
    """Items similar to the user's: cosine similarity of item columns, ``neighbours`` kept per item.

    ``shrink`` damps similarities resting on few common users. ``neighbours=None`` keeps every
    pair, as a dense ``items x items`` matrix: what evaluation likes and production cannot afford.
    """

    def __init__(self, neighbours: int | None = 50, shrink: float = 0.0) -> None:
        self.neighbours = neighbours
        self.shrink = shrink

    def fit(self, matrix: sparse.csr_matrix) -> "ItemKNN":
        items = binary(matrix).T.tocsr()
        norms = np.sqrt(np.asarray(items.multiply(items).sum(axis=1)).ravel())
        common = (items @ items.T).tocsr().astype(np.float32)
        common.setdiag(0)
        common.eliminate_zeros()
        coo = common.tocoo()
        coo.data = coo.data / (norms[coo.row] * norms[coo.col] + self.shrink + 1e-9)
        similarity = coo.tocsr()
        if self.neighbours is None:
            self.similarity_ = similarity.toarray().astype(np.float32)
        else:
            self.similarity_ = top_per_row(similarity, int(self.neighbours))
        return self

    def scores(self, rows: sparse.csr_matrix, users: np.ndarray) -> np.ndarray:
        result = rows @ self.similarity_
        return np.asarray(result.toarray() if sparse.issparse(result) else result, dtype=np.float32)

    def arrays(self) -> list[np.ndarray]:
        if isinstance(self.similarity_, np.ndarray):
            return [self.similarity_]
        return [self.similarity_.data, self.similarity_.indices, self.similarity_.indptr]


class Factorization:
    """Matrix factorisation with ``implicit``: ``algorithm`` ``als`` or ``bpr``, its own parameters in ``params``.

    ``alpha`` scales the interaction weights into ALS confidences. ``threads`` sizes ``implicit``'s
    thread pool (1 on a shared machine: the candidates already run side by side).
    """

    def __init__(self, algorithm: str = "als", factors: int = 32, iterations: int = 15,
                 regularization: float = 0.01, alpha: float = 1.0, learning_rate: float = 0.01,
                 threads: int = 1, seed: int = 0) -> None:
        self.algorithm = algorithm
        self.factors = factors
        self.iterations = iterations
        self.regularization = regularization
        self.alpha = alpha
        self.learning_rate = learning_rate
        self.threads = threads
        self.seed = seed

    def _model(self) -> Any:
        if self.algorithm == "als":
            from implicit.cpu.als import AlternatingLeastSquares

            return AlternatingLeastSquares(factors=self.factors, regularization=self.regularization,
                                           alpha=self.alpha, iterations=self.iterations, num_threads=self.threads,
                                           random_state=self.seed, calculate_training_loss=False)
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        return BayesianPersonalizedRanking(factors=self.factors, learning_rate=self.learning_rate,
                                           regularization=self.regularization, iterations=self.iterations,
                                           num_threads=self.threads, random_state=self.seed)

    def fit(self, matrix: sparse.csr_matrix) -> "Factorization":
        import importlib

        from threadpoolctl import threadpool_limits

        importlib.import_module("implicit.cpu.als")  # loaded before the limit, so that the limit covers its BLAS
        with threadpool_limits(1, "blas"):  # implicit warns (and slows down) when BLAS runs threads of its own
            model = self._model()
            model.fit(matrix.tocsr().astype(np.float32), show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)
        return self

    def scores(self, rows: sparse.csr_matrix, users: np.ndarray) -> np.ndarray:
        return self.user_factors_[users] @ self.item_factors_.T

    def arrays(self) -> list[np.ndarray]:
        return [self.user_factors_, self.item_factors_]


def user_scores(model: Any, seen: sparse.csr_matrix, row: int) -> np.ndarray:
    """The scores of every item for user ``row`` of the history ``seen`` (one row of ``model.scores``).

    A factorisation multiplies the item factors by the user's (a matrix-vector product on the
    contiguous factors, the same numbers as ``scores`` gives); the others score the history's row.
    """
    if isinstance(model, Factorization):
        return model.item_factors_ @ model.user_factors_[row]
    return model.scores(seen[row], np.array([row]))[0]


def make_model(kind: str, params: Mapping[str, Any], threads: int = 1, seed: int = 0) -> Any:
    """A model of ``kind`` (one of :data:`KINDS`) with ``params``; a bad kind or parameter is a
    :class:`CandidateError` naming it."""
    try:
        if kind == "popularity":
            return Popularity(**params)
        if kind == "item_knn":
            return ItemKNN(**params)
        if kind in ("als", "bpr"):
            return Factorization(kind, threads=threads, seed=seed, **params)
    except TypeError as error:
        raise CandidateError(f"train.candidates: kind {kind!r} does not take these params: {error}") from None
    raise CandidateError(f"train.candidates: unknown kind {kind!r}; allowed: {', '.join(KINDS)}")


def footprint_bytes(model: Any) -> int:
    """Bytes of the arrays a fitted model ships (factors, neighbour matrix, popularity)."""
    return int(sum(array.nbytes for array in model.arrays()))


@dataclass(frozen=True)
class Candidate:
    """One point of a grid: a name, a kind and its parameters."""

    name: str
    kind: str
    params: Mapping[str, Any]


def expand_grid(grid: Iterable[Mapping[str, Any]]) -> list[Candidate]:
    """``train.candidates`` (each ``name``, ``kind`` and ``params`` of lists) as one candidate per combination."""
    candidates = []
    for entry in grid:
        if not isinstance(entry, Mapping) or not {"name", "kind"} <= set(entry):
            raise CandidateError(f"train.candidates: each entry needs a name and a kind, got {entry!r}")
        if entry["kind"] not in KINDS:
            raise CandidateError(f"train.candidates: {entry['name']!r} has unknown kind {entry['kind']!r}; "
                                 f"allowed: {', '.join(KINDS)}")
        params = dict(entry.get("params") or {})
        keys = sorted(params)
        values = [value if isinstance(value, list) else [value] for value in (params[key] for key in keys)]
        for combination in itertools.product(*values):
            chosen = dict(zip(keys, combination))
            suffix = "-".join(f"{key}={value}" for key, value in chosen.items())
            candidates.append(Candidate(f"{entry['name']}[{suffix}]" if suffix else str(entry["name"]),
                                        str(entry["kind"]), chosen))
    return candidates
