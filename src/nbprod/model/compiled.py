"""A fitted HistGradientBoosting model as flat arrays: a few numpy steps predict all trees at once.

scikit-learn predicts a boosted model one tree at a time (a Python call per tree) after re-encoding the
categorical columns with a ColumnTransformer (joblib, validation, a copy): for a single row of the default
champion (200 trees) that is about 2 ms of overhead around microseconds of work. :class:`CompiledBoosting`
keeps the same trees as arrays of nodes and walks every (row, tree) pair together, one vectorised step per
tree level, with the same decisions as scikit-learn's own tree walk
(``sklearn/ensemble/_hist_gradient_boosting/_predictor.pyx``): missing values follow
``missing_go_to_left``; a category goes left when it is in the node's left set, right when it is another
known category, and is treated as missing when unknown or negative.

Each input is first turned into a code, one per model feature (a number: how many of the feature's split
thresholds lie below it; a category: its training position; missing: :data:`MISSING_CODE`), so that every
node's decision, numeric or categorical, is a row of one table: a level of the walk is three ``take`` calls
(about 5 µs for one row of the default champion, a third of comparing values node by node).

The service checks it against the model's own ``predict_proba`` before using it (see
:func:`nbprod.serving.model_source.warm_up`); :func:`compile_boosting` returns None for anything it does not
cover, and the service keeps scikit-learn's path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Words of a category bitset (scikit-learn: 8 x 32 bits, categories 0..255).
BITSET_WORDS = 8
#: A categorical node's ways (:attr:`CompiledBoosting.ways`).
RIGHT, LEFT, MISSING = 0, 1, 2
#: The code of a missing (or unknown, or negative) input in the step table; codes 0..255 are bins or categories.
MISSING_CODE = 256
#: Largest step table (:attr:`CompiledBoosting.step`) compiled: beyond it the walk compares values node by node.
STEP_TABLE_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Nodes:
    """Every tree's nodes, concatenated (child indices are global)."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    leaf: np.ndarray
    missing_left: np.ndarray
    categorical: np.ndarray
    bitset: np.ndarray


@dataclass(frozen=True)
class CompiledBoosting:
    """The trees, the input encoding and the link of one fitted HistGradientBoosting model.

    Attributes
    ----------
    nodes
        All trees' nodes.
    roots
        Each tree's root node (global index).
    outputs
        Each tree's output column (one per class beyond binary; else 0).
    depth
        The deepest leaf's depth: the number of steps of a walk.
    order
        Input column of each model feature (scikit-learn puts categorical features first).
    categories
        For each categorical model feature, the sorted input values seen in training (their position is
        the code the trees split on).
    baseline
        The raw prediction before any tree.
    estimator
        The scikit-learn estimator (its loss turns raw predictions into probabilities or values).
    children
        Each node's ``(right, left)`` child (a leaf: itself twice), so that a step is one lookup.
    ways, way_row
        Each categorical node's way for each category code 0..255 (:data:`RIGHT`, :data:`LEFT` or
        :data:`MISSING`: a category unknown to training), and each node's row in ``ways`` (0 when numeric).
    step
        The node a walk goes to from each node for each input code (``(nodes, 257)``: a leaf goes to itself),
        so that a step is one lookup whatever the kind of split; None when larger than :data:`STEP_TABLE_BYTES`.
    edges
        For each numeric model feature (those after the categorical ones), its split thresholds (ascending,
        padded with +inf): a value's code is how many thresholds lie below it, and ``value <= thresholds[k]``
        is ``code <= k``.
    seen
        ``categories`` as one array (padded with NaN), for the codes of all categorical features at once.
    """

    nodes: Nodes
    roots: np.ndarray
    outputs: np.ndarray
    depth: int
    order: np.ndarray
    categories: tuple[np.ndarray, ...]
    baseline: np.ndarray
    estimator: Any
    children: np.ndarray
    ways: np.ndarray
    way_row: np.ndarray
    step: np.ndarray | None = None
    edges: np.ndarray | None = None
    seen: np.ndarray | None = None

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, as ``estimator.predict_proba(X)``."""
        return self.estimator._loss.predict_proba(self.raw(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Values of a regressor, as ``estimator.predict(X)``."""
        return self.estimator._loss.link.inverse(self.raw(X).ravel())

    def raw(self, X: np.ndarray) -> np.ndarray:
        """Raw predictions ``(rows, outputs)``: the baseline plus every tree's leaf value."""
        walked = self._walk(self.encode(X)) if self.step is None else self._step(self.codes(X))
        leaves = self.nodes.value.take(walked)
        raw = np.empty((X.shape[0], self.baseline.size))
        for output in range(self.baseline.size):
            raw[:, output] = leaves[:, self.outputs == output].sum(axis=1) + self.baseline[output]
        return raw

    def encode(self, X: np.ndarray) -> np.ndarray:
        """Input columns to model features: reordered, categories as their training position (NaN if unseen)."""
        features = np.asarray(X, dtype=float)[:, self.order]
        for column, seen in enumerate(self.categories):
            if seen.size == 0:
                features[:, column] = np.nan
                continue
            values = features[:, column]
            position = np.searchsorted(seen, values).clip(max=seen.size - 1)
            features[:, column] = np.where(seen[position] == values, position, np.nan)
        return features

    def codes(self, X: np.ndarray) -> np.ndarray:
        """Input columns as the step table's codes, one per model feature: a number as how many of its
        feature's thresholds lie below it, a category as its training position; missing, unseen and negative
        values as :data:`MISSING_CODE`."""
        features = np.asarray(X, dtype=float)[:, self.order]
        codes = np.empty(features.shape, dtype=np.intp)
        known = len(self.categories)
        numbers = features[:, known:]
        codes[:, known:] = (numbers[:, :, None] > self.edges[None, :, :]).sum(axis=2)
        codes[:, known:][np.isnan(numbers)] = MISSING_CODE
        if known:
            equal = features[:, :known, None] == self.seen[None, :, :]  # NaN equals nothing
            codes[:, :known] = np.where(equal.any(axis=2), equal.argmax(axis=2), MISSING_CODE)
        return codes

    def _step(self, codes: np.ndarray) -> np.ndarray:
        """The leaf each (row, tree) pair ends in: one table lookup per level, down to the deepest leaf (a leaf
        steps to itself; three flat ``take`` calls a level cost less than checking whether all pairs are done)."""
        width = self.step.shape[1]
        table, flat = self.step.ravel(), codes.ravel()
        base = (np.arange(codes.shape[0]) * codes.shape[1])[:, None]
        at = np.broadcast_to(self.roots, (codes.shape[0], self.roots.size)).copy()
        feature = self.nodes.feature
        for _ in range(self.depth):
            at = table.take(at * width + flat.take(base + feature.take(at)))
        return at

    def _walk(self, features: np.ndarray) -> np.ndarray:
        """The leaf each (row, tree) pair ends in (the walk stops once every pair is at a leaf: a single row
        rarely goes as deep as the deepest leaf, and each step costs its numpy calls whatever the rows)."""
        nodes = self.nodes
        rows = np.arange(features.shape[0])[:, None]
        at = np.broadcast_to(self.roots, (features.shape[0], self.roots.size)).copy()
        for _ in range(self.depth):
            if nodes.leaf[at].all():
                break
            value = features[rows, nodes.feature[at]]
            at = self.children[at, self._goes_left(at, value).view(np.int8)]  # a leaf links to itself
        return at

    def _goes_left(self, at: np.ndarray, value: np.ndarray) -> np.ndarray:
        """Each pair's decision at its current node (meaningless at a leaf: not followed)."""
        nodes = self.nodes
        missing = np.isnan(value)
        categorical = nodes.categorical[at]
        with np.errstate(invalid="ignore"):
            left = value <= nodes.threshold[at]
        if categorical.any():
            usable = categorical & ~missing & (value >= 0)
            way = self.ways[self.way_row[at], np.where(usable, value, 0).astype(np.int64) & 0xFF]
            missing = missing | (categorical & (~usable | (way == MISSING)))
            left = np.where(categorical, way == LEFT, left)
        return np.where(missing, nodes.missing_left[at], left)


def _in_set(sets: np.ndarray, row: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Whether ``code`` is in bitset ``row`` of ``sets`` (scikit-learn's ``in_bitset_2d``)."""
    return ((sets[row, code >> 5] >> (code & 31).astype(np.uint32)) & 1).astype(bool)


def compile_boosting(estimator: Any) -> CompiledBoosting | None:
    """``estimator`` (a fitted HistGradientBoostingClassifier or -Regressor) compiled; None when not one."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    if not isinstance(estimator, (HistGradientBoostingClassifier, HistGradientBoostingRegressor)):
        return None
    if not hasattr(estimator, "_predictors") or not hasattr(estimator, "_bin_mapper"):
        return None
    nodes, roots, outputs, left_sets, depth = _flatten(estimator._predictors)
    known_sets, known_row = estimator._bin_mapper.make_known_categories_bitsets()
    order, categories = _input_encoding(estimator)
    known_sets = np.asarray(known_sets, dtype=np.uint32).reshape(-1, BITSET_WORDS)
    known_row = np.asarray(known_row, dtype=np.int64)
    ways, way_row = _ways(nodes, left_sets, known_sets, known_row)
    numeric = np.arange(len(categories), order.size)
    edges = _edges(nodes, numeric)
    step = _step_table(nodes, ways, way_row, numeric, edges) if _codable(nodes, len(categories)) else None
    return CompiledBoosting(nodes=nodes, roots=roots, outputs=outputs, depth=depth, order=order, categories=categories,
                            baseline=np.asarray(estimator._baseline_prediction).ravel(), estimator=estimator,
                            children=np.stack([nodes.right, nodes.left], axis=1), ways=ways, way_row=way_row,
                            step=step, edges=edges, seen=_padded(categories))


def _codable(nodes: Nodes, known: int) -> bool:
    """Whether the trees split as categories on the encoded categorical features only (the first ``known``),
    and on them only as categories: what :meth:`CompiledBoosting.codes` assumes."""
    split = ~nodes.leaf
    return bool(np.all((nodes.feature[split] < known) == nodes.categorical[split]))


def _padded(rows: list[np.ndarray] | tuple[np.ndarray, ...], fill: float = np.nan) -> np.ndarray:
    """``rows`` (1-D arrays of any lengths) as the rows of one array, padded with ``fill``."""
    padded = np.full((len(rows), max([1, *(values.size for values in rows)])), fill)
    for row, values in enumerate(rows):
        padded[row, :values.size] = values
    return padded


def _edges(nodes: Nodes, numeric: np.ndarray) -> np.ndarray:
    """Each numeric feature's distinct split thresholds, ascending, padded with +inf: ``(features, width)``."""
    split = ~nodes.leaf & ~nodes.categorical
    return _padded([np.unique(nodes.threshold[split & (nodes.feature == feature)]) for feature in numeric], np.inf)


def _step_table(nodes: Nodes, ways: np.ndarray, way_row: np.ndarray, numeric: np.ndarray,
                edges: np.ndarray) -> np.ndarray | None:
    """Each node's next node for each input code 0..256 (:attr:`CompiledBoosting.step`); None when too large."""
    size = nodes.feature.size
    if size * (MISSING_CODE + 1) * 4 > STEP_TABLE_BYTES or size >= 2**31 or edges.shape[1] > 255:
        return None
    codes = np.arange(MISSING_CODE + 1)
    numeric_split = ~nodes.leaf & ~nodes.categorical
    rank = np.zeros(size, dtype=np.int64)  # a numeric node's threshold position among its feature's edges
    for row, feature in enumerate(numeric):
        on = numeric_split & (nodes.feature == feature)
        rank[on] = np.searchsorted(edges[row], nodes.threshold[on])
    goes_left = codes[None, :] <= rank[:, None]
    way = ways[way_row][:, np.minimum(codes, 255)]
    categorical_left = way == LEFT
    missing = (codes[None, :] == MISSING_CODE) | (nodes.categorical[:, None] & (way == MISSING))
    goes_left = np.where(nodes.categorical[:, None], categorical_left, goes_left)
    goes_left = np.where(missing, nodes.missing_left[:, None], goes_left)
    return np.where(goes_left, nodes.left[:, None], nodes.right[:, None]).astype(np.int32)


def _ways(nodes: Nodes, left_sets: np.ndarray, known_sets: np.ndarray, known_row: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """Each categorical node's way for every category code (scikit-learn's decision: left when the code is
    in the node's left set, else right when training saw it, else missing), and each node's row in it."""
    categorical = np.flatnonzero(nodes.categorical)
    codes = np.arange(256)
    in_left = _in_set(left_sets, nodes.bitset[categorical][:, None], codes[None, :])
    known = _in_set(known_sets, known_row[nodes.feature[categorical]][:, None], codes[None, :])
    ways = np.where(in_left, LEFT, np.where(known, RIGHT, MISSING)).astype(np.int8)
    way_row = np.zeros(nodes.feature.size, dtype=np.int64)
    way_row[categorical] = np.arange(categorical.size)
    return (ways if categorical.size else np.full((1, 256), MISSING, dtype=np.int8)), way_row


def _flatten(predictors: list) -> tuple[Nodes, np.ndarray, np.ndarray, np.ndarray, int]:
    """All trees' node records in one set of arrays, child and bitset indices shifted to be global."""
    parts, roots, outputs, sets = [], [], [], []
    offset = bitsets = 0
    for iteration in predictors:
        for output, predictor in enumerate(iteration):
            records = predictor.nodes
            roots.append(offset)
            outputs.append(output)
            parts.append((records, offset, bitsets))
            raw_sets = np.asarray(predictor.raw_left_cat_bitsets, dtype=np.uint32).reshape(-1, BITSET_WORDS)
            sets.append(raw_sets)
            offset += records.size
            bitsets += raw_sets.shape[0]
    field = lambda name: np.concatenate([records[name] for records, _, _ in parts])  # noqa: E731
    shift = np.concatenate([np.full(records.size, start, dtype=np.int64) for records, start, _ in parts])
    set_shift = np.concatenate([np.full(records.size, first, dtype=np.int64) for records, _, first in parts])
    leaf = field("is_leaf").astype(bool)
    itself = np.arange(leaf.size, dtype=np.int64)
    left = np.where(leaf, itself, field("left").astype(np.int64) + shift)
    right = np.where(leaf, itself, field("right").astype(np.int64) + shift)
    nodes = Nodes(feature=field("feature_idx").astype(np.int64), threshold=field("num_threshold").astype(float),
                  left=left, right=right,
                  value=field("value").astype(float), leaf=leaf,
                  missing_left=field("missing_go_to_left").astype(bool),
                  categorical=field("is_categorical").astype(bool),
                  bitset=field("bitset_idx").astype(np.int64) + set_shift)
    left_sets = np.concatenate(sets) if sets else np.zeros((0, BITSET_WORDS), dtype=np.uint32)
    if left_sets.shape[0] == 0:
        left_sets = np.zeros((1, BITSET_WORDS), dtype=np.uint32)
    depth = int(field("depth").max()) if parts else 0
    return nodes, np.asarray(roots, dtype=np.int64), np.asarray(outputs), left_sets, depth


def _input_encoding(estimator: Any) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Model feature -> input column, and the training values of each categorical feature.

    Without categorical features the model takes the input as it is. With them, scikit-learn encodes the
    categorical columns with an OrdinalEncoder (sorted training values -> 0, 1, ...) and puts them first.
    """
    preprocessor = getattr(estimator, "_preprocessor", None)
    if preprocessor is None:
        return np.arange(estimator.n_features_in_), ()
    mask = np.asarray(estimator.is_categorical_, dtype=bool)
    order = np.concatenate([np.flatnonzero(mask), np.flatnonzero(~mask)])
    encoder = preprocessor.named_transformers_["encoder"]
    categories = tuple(np.asarray(values, dtype=float)[~np.isnan(np.asarray(values, dtype=float))]
                       for values in encoder.categories_)
    return order, categories
