"""Performance drift: a metric on a labelled window against the reference value."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nbprod.drift.results import PerformanceDrift

#: Whether a larger value of each supported metric is better.
GREATER_IS_BETTER = {"roc_auc": True, "accuracy": True, "f1": True, "mae": False, "rmse": False, "r2": True}


def window_metric(metric: str, y_true: np.ndarray, y_score: np.ndarray, threshold: float = 0.5) -> float:
    """``metric`` on a window; NaN when it is undefined there (no rows, one class for ROC AUC).

    Parameters
    ----------
    metric : str
        One of :data:`GREATER_IS_BETTER`.
    y_true : numpy.ndarray
        Labels (classification) or targets (regression).
    y_score : numpy.ndarray
        Scores/probabilities (``roc_auc``), probabilities or labels (``accuracy``,
        ``f1``: probabilities are cut at ``threshold``), or predictions (regression).
    threshold : float, default 0.5
        Probability cut for ``accuracy`` and ``f1`` when ``y_score`` is not already 0/1.
    """
    from sklearn import metrics as skm

    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score)
    if y_true.size == 0:
        return float("nan")
    if metric == "roc_auc":
        return float(skm.roc_auc_score(y_true, y_score)) if np.unique(y_true).size == 2 else float("nan")
    if metric in ("accuracy", "f1"):
        if np.issubdtype(y_score.dtype, np.floating) and not np.isin(y_score, (0.0, 1.0)).all():
            y_score = (y_score >= threshold).astype(int)
        fn = skm.accuracy_score if metric == "accuracy" else skm.f1_score
        return float(fn(y_true, y_score)) if metric == "accuracy" else float(fn(y_true, y_score, zero_division=0))
    if metric == "mae":
        return float(skm.mean_absolute_error(y_true, y_score))
    if metric == "rmse":
        return float(np.sqrt(skm.mean_squared_error(y_true, y_score)))
    if metric == "r2":
        return float(skm.r2_score(y_true, y_score)) if y_true.size > 1 else float("nan")
    raise ValueError(f"unknown metric {metric!r}; known: {sorted(GREATER_IS_BETTER)}")


def performance_drift(
    y_true: Any,
    y_score: Any,
    reference: float,
    metric: str = "roc_auc",
    *,
    floor: float | None = None,
    max_drop: float | None = None,
    threshold: float = 0.5,
) -> PerformanceDrift:
    """Compare ``metric`` on a labelled window with its reference value.

    Parameters
    ----------
    y_true, y_score : array-like
        Window labels/targets and the model's scores/predictions.
    reference : float
        The metric on the reference (e.g. the validation score logged at training).
    metric : str, default "roc_auc"
        ``roc_auc``, ``accuracy``, ``f1`` (classification), ``mae``, ``rmse``, ``r2`` (regression).
    floor : float, optional
        Acceptable limit: the minimum for greater-is-better metrics, the
        maximum for error metrics (``mae``, ``rmse``).
    max_drop : float, optional
        Largest acceptable degradation ``drop``.
    threshold : float, default 0.5
        Probability cut for ``accuracy``/``f1``.

    Returns
    -------
    PerformanceDrift
        ``drop`` is positive when the window is worse; ``status`` is
        ``"empty"`` without rows and ``"undefined"`` when the metric is not
        defined on the window (then nothing is flagged).
    """
    if metric not in GREATER_IS_BETTER:
        raise ValueError(f"unknown metric {metric!r}; known: {sorted(GREATER_IS_BETTER)}")
    y_true = np.asarray(y_true)
    current = window_metric(metric, y_true, np.asarray(y_score), threshold)
    greater = GREATER_IS_BETTER[metric]
    reference = float(reference)
    drop = (reference - current) if greater else (current - reference)
    relative = drop / abs(reference) if reference else float("nan")
    defined = math.isfinite(current)
    below = defined and floor is not None and (current < floor if greater else current > floor)
    too_far = defined and max_drop is not None and drop > max_drop
    status = "ok" if defined else ("empty" if y_true.size == 0 else "undefined")
    return PerformanceDrift(
        metric=metric, reference=reference, current=current, drop=drop, relative_drop=relative,
        floor=floor, below_floor=bool(below), max_drop=max_drop, degraded=bool(below or too_far),
        n=int(y_true.size), status=status,
    )
