"""Candidate models: a grid of estimators, each behind the shared FeatureBuilder."""

from __future__ import annotations

import copy
import inspect
import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import joblib
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.utils.metaestimators import available_if

from nbprod.memory import release_memory
from nbprod.model.classes import classes_of, is_multiclass, positive_scores
from nbprod.model.encoding import LinearEncoder
from nbprod.model.features import FeatureBuilder


@dataclass(frozen=True)
class Candidate:
    """One model to train: a kind of estimator and its hyperparameters."""

    name: str
    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)


def linear(task: str, params: Mapping[str, Any], seed: int) -> Pipeline:
    """Scaled numerics and one-hot categories into a logistic (classification) or ridge (regression) model."""
    encode = LinearEncoder(min_frequency=20)
    if task == "classification":
        estimator = LogisticRegression(**{"max_iter": 1000, "random_state": seed, **params})
    else:
        # One grid serves both tasks: C is the inverse regularisation strength, Ridge's alpha = 1 / C.
        params = dict(params)
        if "C" in params:
            params["alpha"] = 1.0 / float(params.pop("C"))
        estimator = Ridge(**{"alpha": 1.0, **params})
    return Pipeline([("encode", encode), ("model", estimator)])


def category_codes(X: pd.DataFrame, rows: np.ndarray | None = None) -> np.ndarray:
    """A frame as a float matrix: categorical columns by their codes, NaN where missing (``rows``: only the
    rows at those positions, in that order, without a copy of the frame's rows first)."""
    matrix = np.empty((len(X) if rows is None else len(rows), X.shape[1]), dtype=float)
    for index, (_, values) in enumerate(X.items()):
        if isinstance(values.dtype, pd.CategoricalDtype):
            codes = values.cat.codes.to_numpy()
            column = np.where(codes < 0, np.nan, codes)
        else:
            column = values.to_numpy(dtype=float, na_value=np.nan)
        matrix[:, index] = column if rows is None else column[rows]
    return matrix


def early_stopping_rows(estimator: Any, y: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """The row positions a HistGradientBoosting ``estimator`` would split ``y``'s rows into (training, early-
    stopping validation) when fitted on them, drawn as it draws them; None when it would not split (no early
    stopping, ``validation_fraction`` None, or a ``random_state`` that is not a number)."""
    from numbers import Integral

    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state

    stops = estimator.early_stopping is True or (estimator.early_stopping == "auto" and len(y) > 10_000)
    takes_rows = "X_val" in inspect.signature(estimator.fit).parameters  # scikit-learn >= 1.6
    if (not stops or estimator.validation_fraction is None or not isinstance(estimator.random_state, Integral)
            or not takes_rows):
        return None
    seed = check_random_state(estimator.random_state).randint(np.iinfo(np.uint32).max, dtype="u8")
    stratify = pd.Series(y) if hasattr(estimator, "predict_proba") else None
    train, valid = train_test_split(np.arange(len(y)), test_size=estimator.validation_fraction,
                                    stratify=stratify, random_state=seed)
    if stratify is not None and stratify.iloc[train].nunique() < stratify.nunique():
        return None  # a class only in the validation part: the estimator's own classes come from all rows
    return train, valid


class CategoryCodesBoosting(BaseEstimator):
    """A HistGradientBoosting model fed the FeatureBuilder's category codes directly.

    ``categorical_features="from_dtype"`` re-encodes pandas categoricals with an
    OrdinalEncoder on every call, about 3 ms whatever the number of rows: most of a
    single-row prediction. The FeatureBuilder's categoricals already carry fixed codes,
    so they go in as floats with a categorical mask: native categorical splits, no
    per-call encoding.

    Parameters
    ----------
    estimator : an unfitted HistGradientBoostingClassifier or -Regressor; its
        ``categorical_features`` is set from the training frame's dtypes.

    Attributes
    ----------
    estimator_ : the fitted estimator.
    categorical_ : which input columns are categorical.
    feature_names_in_ : the input column names.
    """

    def __init__(self, estimator: HistGradientBoostingClassifier | HistGradientBoostingRegressor) -> None:
        self.estimator = estimator

    def fit(self, X: pd.DataFrame, y: Any) -> "CategoryCodesBoosting":
        """Fit the estimator on ``X``'s codes, with its categorical columns marked."""
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.categorical_ = np.asarray([isinstance(dtype, pd.CategoricalDtype) for dtype in X.dtypes])
        categorical = self.categorical_ if self.categorical_.any() else None
        self.estimator_ = clone(self.estimator).set_params(categorical_features=categorical)
        split = early_stopping_rows(self.estimator_, y)
        if split is None:
            self.estimator_.fit(category_codes(X), y)
        else:
            self._fit_split(X, pd.Series(y), *split)
        if hasattr(self.estimator_, "classes_"):
            self.classes_ = self.estimator_.classes_
        return self

    def _fit_split(self, X: pd.DataFrame, y: pd.Series, train: np.ndarray, valid: np.ndarray) -> None:
        """Fit on the rows its own early-stopping split would give, with the validation rows passed in: the same
        model, without the estimator's copy of the training rows beside the whole matrix (0.3 GB on the 10x
        build's 2 million rows)."""
        self.estimator_.set_params(early_stopping=True)  # "auto" would decide on the training part's size
        self.estimator_.fit(category_codes(X, train), y.iloc[train],
                            X_val=category_codes(X, valid), y_val=y.iloc[valid])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted class or value."""
        return self.estimator_.predict(category_codes(X))

    @available_if(lambda self: hasattr(self.estimator, "predict_proba"))
    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Class probabilities (classification only)."""
        return self.estimator_.predict_proba(category_codes(X))

    def __sklearn_tags__(self):
        """The wrapped estimator's kind (classifier or regressor); missing values allowed."""
        tags = super().__sklearn_tags__()
        inner = self.estimator.__sklearn_tags__()
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        tags.input_tags.allow_nan = True
        return tags


def hist_gradient_boosting(task: str, params: Mapping[str, Any], seed: int) -> Pipeline:
    """Gradient boosting with native categorical splits on the FeatureBuilder's category codes."""
    estimator_class = (
        HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor
    )
    estimator = estimator_class(**{"random_state": seed, **params})
    return Pipeline([("model", CategoryCodesBoosting(estimator))])


#: Estimator factories by the ``kind`` named in ``env.yaml``.
ESTIMATORS: dict[str, Callable[[str, Mapping[str, Any], int], Pipeline]] = {
    "linear": linear,
    "hist_gradient_boosting": hist_gradient_boosting,
}


def expand_grid(specs: Sequence[Mapping[str, Any]]) -> list[Candidate]:
    """Expand ``{name, kind, params: {p: [values]}}`` entries into single candidates."""
    candidates = []
    for spec in specs:
        if spec.get("kind") not in ESTIMATORS:
            raise ValueError(f"candidate {spec.get('name')!r}: unknown kind {spec.get('kind')!r}; "
                             f"known kinds: {sorted(ESTIMATORS)}")
        grid = {key: value if isinstance(value, list) else [value]
                for key, value in (spec.get("params") or {}).items()}
        for values in itertools.product(*grid.values()):
            params = dict(zip(grid, values))
            suffix = "-".join(f"{key}={value}" for key, value in params.items())
            candidates.append(Candidate(f"{spec['name']}-{suffix}" if suffix else spec["name"],
                                        spec["kind"], params))
    names = [candidate.name for candidate in candidates]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"duplicate candidate names (names must be unique): {duplicates}")
    return candidates


def estimator(candidate: Candidate, task: str, seed: int) -> Pipeline:
    """The candidate's steps after the FeatureBuilder: they take its features, not raw rows."""
    return ESTIMATORS[candidate.kind](task, candidate.params, seed)


def make_model(candidate: Candidate, task: str, builder: FeatureBuilder, seed: int) -> Pipeline:
    """The full pipeline: raw rows -> FeatureBuilder -> estimator."""
    return Pipeline([("features", clone(builder)), *estimator(candidate, task, seed).steps])


#: Seconds an idle worker process of :func:`fit_candidates` stays: the fit is the only work sent to them, and
#: each would hold what its last fit left it (hundreds of MB on large data) for the rest of the build.
WORKER_IDLE_SECONDS = 1

#: Training data (the features, in memory) larger than this is fitted one candidate at a time in this process,
#: whatever ``n_jobs`` says: each worker process would hold its own working copies of it (the codes, the early-
#: stopping split, the bins), and gradient boosting uses every core by itself. Measured on the 10x build's
#: features (2 million rows, 280 MB): the grid of four took 120 s either way, at a peak of 5.2 GB in three
#: processes against 3.1 GB in one.
PARALLEL_MAX_BYTES = 128 * 2**20


def fit_candidates(
    candidates: Sequence[Candidate],
    task: str,
    builder: FeatureBuilder,
    X: pd.DataFrame,
    y: pd.Series,
    seed: int,
    n_jobs: int = 1,
) -> dict[str, Pipeline]:
    """Fit every candidate on the same data, ``n_jobs`` at a time (:func:`fit_on_features`, after ``builder``,
    a clone, is fitted on ``X`` and transforms it). The models are those of :func:`make_model` fitted on
    ``X``, ``y``."""
    fitted_builder = clone(builder).fit(X)
    return fit_on_features(candidates, task, fitted_builder, fitted_builder.transform(X), y, seed, n_jobs)


def fit_on_features(
    candidates: Sequence[Candidate],
    task: str,
    fitted_builder: FeatureBuilder,
    features: pd.DataFrame,
    y: pd.Series,
    seed: int,
    n_jobs: int = 1,
) -> dict[str, Pipeline]:
    """Fit every candidate's estimator on ``features`` (what ``fitted_builder`` made of the raw rows), ``n_jobs``
    at a time (one at a time above :data:`PARALLEL_MAX_BYTES`); each returned pipeline starts with its own copy
    of ``fitted_builder``.

    Candidates whose steps before the model are the same (the two linear ones: the same encoder) have those
    fitted once (:func:`fit_estimators`).
    """
    jobs = n_jobs if frame_bytes(features) <= PARALLEL_MAX_BYTES else 1
    estimators = fit_estimators([estimator(candidate, task, seed) for candidate in candidates], features, y, jobs)
    return {candidate.name: Pipeline([("features", copy.deepcopy(fitted_builder)), *fitted.steps])
            for candidate, fitted in zip(candidates, estimators)}


def frame_bytes(frame: pd.DataFrame) -> int:
    """The bytes a frame's columns hold (categoricals: their codes)."""
    return int(frame.memory_usage(index=False).sum())


def fit_estimators(pipelines: Sequence[Pipeline], X: Any, y: pd.Series, n_jobs: int) -> list[Pipeline]:
    """Each pipeline fitted on ``X``, ``y``; pipelines with the same steps before their last (the same kinds
    and parameters) share one fit of those steps, and their last steps are fitted on its output.

    The last steps run ``n_jobs`` at a time in worker processes, which joblib hands the shared input
    memory-mapped instead of a copy each (``n_jobs=1``: in this process); in a task of a build on a Dask cluster,
    on the cluster's other workers instead, one future each (:func:`nbprod.pipeline.dask_engine.fit_on_cluster`).
    The same seeds give the same models either way.
    """
    fitted: dict[int, Pipeline] = {}
    for group in same_leading_steps(pipelines):
        leading = Pipeline(pipelines[group[0]].steps[:-1]) if len(pipelines[group[0]].steps) > 1 else None
        data = fit_leading(leading, X, y) if leading is not None else X
        lasts = [pipelines[index].steps[-1] for index in group]
        models = fit_on_cluster([model for _, model in lasts], data, y)
        if models is None and n_jobs == 1:
            models = fit_one_at_a_time([model for _, model in lasts], data, y)
        elif models is None:
            models = Parallel(n_jobs=n_jobs, idle_worker_timeout=WORKER_IDLE_SECONDS)(
                delayed(model.fit)(data, y) for _, model in lasts)
        del data  # the leading steps' output, before the next group's
        for index, (name, _), model in zip(group, lasts, models):
            fitted[index] = Pipeline([*(copy.deepcopy(leading.steps) if leading else []), (name, model)])
    return [fitted[index] for index in range(len(pipelines))]


def fit_leading(leading: Pipeline, X: Any, y: pd.Series) -> Any:
    """Fit the shared steps and return their output, the memory their fit freed given back in between."""
    leading.fit(X, y)
    release_memory(collect=False)  # what a fit frees goes by reference counts: no collection's 0.3 s
    return leading.transform(X)


def fit_one_at_a_time(models: Sequence[Any], X: Any, y: pd.Series) -> list[Any]:
    """Each model fitted here in turn, the memory each fit freed given back before the next (on large data,
    glibc would keep hundreds of MB of it resident under the next fit's peak)."""
    fitted = []
    for model in models:
        fitted.append(model.fit(X, y))
        release_memory(collect=False)
    return fitted


def same_leading_steps(pipelines: Sequence[Pipeline]) -> list[list[int]]:
    """The positions of ``pipelines`` grouped by their (unfitted) steps before the last, in first-seen order."""
    groups: dict[str, list[int]] = {}
    for index, pipeline in enumerate(pipelines):
        groups.setdefault(joblib.hash(pipeline.steps[:-1]), []).append(index)
    return list(groups.values())


def fit_on_cluster(models: Sequence[Pipeline], X: pd.DataFrame, y: pd.Series) -> list[Pipeline] | None:
    """The models fitted on the Dask cluster of the build this runs in, or None outside such a build.

    The engine is imported by name: the models a build fits do not depend on where they are fitted,
    so the engine's code is no part of the ``train`` task's fingerprint (:mod:`nbprod.pipeline.fingerprints`).
    """
    import importlib

    return importlib.import_module("nbprod.pipeline.dask_engine").fit_in_build(models, X, y)


def predict_scores(model: Pipeline, X: pd.DataFrame, task: str, positive_class: Any = None) -> np.ndarray:
    """What a model's metrics are computed from.

    Regression: the prediction. Binary classification: the probability of
    ``positive_class`` (None: the greater label, e.g. 1 of 0/1). Multiclass: the
    ``(n, k)`` probabilities in ``model.classes_`` order.
    """
    if task != "classification":
        return model.predict(X)
    if is_multiclass(classes_of(model)):
        return np.asarray(model.predict_proba(X), dtype=float)
    return positive_scores(model, X, positive_class)
