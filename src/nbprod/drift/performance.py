"""Performance drift: a metric on a labelled window against the reference value."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from nbprod.drift.results import PerformanceDrift
from nbprod.model import DEFAULT_THRESHOLD

#: Whether a larger value of each supported metric is better.
GREATER_IS_BETTER = {"roc_auc": True, "accuracy": True, "f1": True, "mae": False, "rmse": False, "r2": True}
#: Default probability cut turning scores into labels for ``accuracy`` and ``f1``.
DEFAULT_PROBABILITY_CUT = DEFAULT_THRESHOLD


def labelled_rows(y_true: Any, y_score: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """``(y_true, y_score, n_unlabelled)`` restricted to the rows whose label is known (not NaN/None)
    and that have a score (a row the model gave no score cannot be judged either)."""
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score)
    if y_true.shape[0] != y_score.shape[0]:
        raise ValueError(f"y_true has {y_true.shape[0]} rows but y_score has {y_score.shape[0]}")
    labelled = ~pd.isna(y_true) if y_true.ndim == 1 else np.ones(y_true.shape[0], dtype=bool)
    scored = ~pd.isna(y_score) if y_score.ndim == 1 else ~pd.isna(y_score).any(axis=1)
    known = labelled & scored
    if known.all():
        return y_true, y_score, 0
    kept = y_true[known]
    if kept.dtype == object:
        kept = pd.Series(kept).infer_objects().to_numpy()
    return kept, y_score[known], int(np.count_nonzero(~labelled))


def undefined_reason(metric: str, y_true: np.ndarray, y_score: np.ndarray) -> str:
    """Why ``metric`` cannot be computed on the (labelled) window; empty when it can."""
    if y_true.size == 0:
        return "no labelled rows"
    if metric == "roc_auc":
        classes = np.unique(y_true).size
        if classes < 2:
            return "ROC AUC needs both classes; the window has one"
        if classes > 2 and y_score.ndim != 2:
            return ("multiclass ROC AUC needs a probability matrix (one column per class, one-vs-rest); "
                    "got one score per row")
        if y_score.ndim == 2 and classes != y_score.shape[1]:
            return (f"ROC AUC on a probability matrix needs every class of its columns in the window: "
                    f"{classes} classes for {y_score.shape[1]} columns")
    if metric == "r2" and y_true.size < 2:
        return "R2 needs at least two rows"
    return ""


def binary_scores(y_true: np.ndarray, y_score: np.ndarray, classes: Any,
                  threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(y, score, predicted)`` of a binary window as 0/1 (1: the positive class) and its score.

    ``y_score``: the probability matrix (``classes`` order), the positive class's
    probability (cut at ``threshold``), or the predicted labels (score NaN).
    """
    from nbprod.model.labels import label_text, labels_text

    positive = label_text(classes.positive)
    y = (labels_text(y_true) == positive).astype(int)
    if y_score.ndim == 2:
        y_score = classes.positive_scores(y_score)
    if y_score.dtype.kind == "f":
        score = y_score.astype(float)
        return y, score, (score >= threshold).astype(int)
    predicted = (labels_text(y_score) == positive).astype(int)
    return y, np.full(y.size, np.nan), predicted


def class_metric(metric: str, y_true: np.ndarray, y_score: np.ndarray, classes: Any,
                 threshold: float = DEFAULT_PROBABILITY_CUT) -> float:
    """``roc_auc``, ``accuracy`` or ``f1`` of raw labels against a classifier's output (labelled rows only).

    Parameters
    ----------
    classes : nbprod.model.labels.ClassLabels
        The model's classes (the columns of a probability matrix) and positive class.
        Labels are matched by their text: ``1``, ``1.0`` and ``"1"`` are one label.
    y_score : numpy.ndarray
        The probability matrix, the predicted labels, or (binary) the positive class's
        probability. Binary metrics score the positive class (``y == positive_class``);
        multiclass ``f1`` is the macro F1 and ``roc_auc`` one-vs-rest (defined when every
        class is in the window; needs the matrix).
    """
    from sklearn import metrics as skm

    from nbprod.model.labels import labels_text

    if classes.binary:
        y, score, predicted = binary_scores(y_true, y_score, classes, threshold)
        if metric == "roc_auc":
            return float("nan") if np.isnan(score).any() else window_metric("roc_auc", y, score)
        return window_metric(metric, y, predicted)
    texts = np.asarray(classes.texts, dtype=object)
    y = labels_text(y_true)
    if metric == "roc_auc":
        if y_score.ndim != 2:
            return float("nan")
        present = set(y)
        if not present <= set(texts) or len(present) != len(texts):
            return float("nan")
        return float(skm.roc_auc_score(y, y_score, multi_class="ovr", labels=list(texts)))
    predicted = texts[np.argmax(y_score, axis=1)] if y_score.ndim == 2 else labels_text(y_score)
    if metric == "accuracy":
        return float(skm.accuracy_score(y, predicted))
    return float(skm.f1_score(y, predicted, average="macro", labels=list(texts), zero_division=0))


def class_undefined_reason(metric: str, y_true: np.ndarray, y_score: np.ndarray, classes: Any) -> str:
    """Why a class metric (see :func:`class_metric`) cannot be computed on the window; empty when it can."""
    from nbprod.model.labels import labels_text

    if y_true.size == 0:
        return "no labelled rows"
    unknown = sorted(set(labels_text(y_true)) - set(classes.texts))
    if unknown:
        return f"labels {unknown[:5]} are not classes of the model {list(classes.texts)}"
    if metric != "roc_auc":
        return ""
    present = len(set(labels_text(y_true)))
    if classes.binary:
        if present < 2:
            return "ROC AUC needs both classes; the window has one"
        if y_score.ndim == 1 and y_score.dtype.kind != "f":
            return "ROC AUC needs the positive class's probability; got predicted labels"
        return ""
    if y_score.ndim != 2:
        return "multiclass ROC AUC needs a probability matrix (one column per class, one-vs-rest)"
    if present != len(classes.classes):
        return f"multiclass ROC AUC needs every class in the window: {present} of {len(classes.classes)}"
    return ""


def window_metric(metric: str, y_true: np.ndarray, y_score: np.ndarray,
                  threshold: float = DEFAULT_PROBABILITY_CUT, classes: Any = None) -> float:
    """``metric`` on a window's labelled rows; NaN when it is undefined there (see :func:`undefined_reason`).

    Rows without a label (NaN/None) are dropped first.

    Parameters
    ----------
    metric : str
        One of :data:`GREATER_IS_BETTER`.
    y_true : numpy.ndarray
        Labels (classification) or targets (regression).
    y_score : numpy.ndarray
        Scores/probabilities (``roc_auc``: one score per row for two classes,
        or a matrix with one probability column per class, in sorted class
        order, for one-vs-rest multiclass ROC AUC), probabilities or labels
        (``accuracy``, ``f1``: probabilities are cut at ``threshold``), or
        predictions (regression).
    threshold : float, default :data:`DEFAULT_PROBABILITY_CUT`
        Probability cut for ``accuracy`` and ``f1`` when ``y_score`` is not already 0/1.
    classes : nbprod.model.labels.ClassLabels, optional
        A classifier's classes and positive class: ``y_true`` are then raw labels (text,
        booleans, numbers) and ``y_score`` the model's output (see :func:`class_metric`).
    """
    from sklearn import metrics as skm

    if metric not in GREATER_IS_BETTER:
        raise ValueError(f"unknown metric {metric!r}; known: {sorted(GREATER_IS_BETTER)}")
    y_true, y_score, _ = labelled_rows(y_true, y_score)
    if classes is not None and metric in ("roc_auc", "accuracy", "f1"):
        if class_undefined_reason(metric, y_true, y_score, classes):
            return float("nan")
        return class_metric(metric, y_true, y_score, classes, threshold)
    if undefined_reason(metric, y_true, y_score):
        return float("nan")
    if metric == "roc_auc":
        if y_score.ndim == 2 and y_score.shape[1] == 2:
            y_score = y_score[:, 1]
        if y_score.ndim == 2:
            return float(skm.roc_auc_score(y_true, y_score, multi_class="ovr"))
        return float(skm.roc_auc_score(y_true, y_score))
    if metric in ("accuracy", "f1"):
        if np.issubdtype(y_score.dtype, np.floating) and not np.isin(y_score, (0.0, 1.0)).all():
            y_score = (y_score >= threshold).astype(int)
        if metric == "accuracy":
            return float(skm.accuracy_score(y_true, y_score))
        return float(skm.f1_score(y_true, y_score, zero_division=0))
    if metric == "mae":
        return float(skm.mean_absolute_error(y_true, y_score))
    if metric == "rmse":
        return float(np.sqrt(skm.mean_squared_error(y_true, y_score)))
    return float(skm.r2_score(y_true, y_score))


def performance_drift(
    y_true: Any,
    y_score: Any,
    reference: float,
    metric: str = "roc_auc",
    *,
    floor: float | None = None,
    max_drop: float | None = None,
    threshold: float = DEFAULT_PROBABILITY_CUT,
    classes: Any = None,
) -> PerformanceDrift:
    """Compare ``metric`` on a labelled window with its reference value.

    Rows whose label is missing (NaN/None: not known yet) are dropped and
    counted in ``n_unlabelled``; rows without a score are dropped too; the metric
    is computed on the others.

    Parameters
    ----------
    y_true, y_score : array-like
        Window labels/targets and the model's scores/predictions (see
        :func:`window_metric` for multiclass ROC AUC).
    reference : float
        The metric on the reference (e.g. the validation score logged at training).
    metric : str, default "roc_auc"
        ``roc_auc``, ``accuracy``, ``f1`` (classification), ``mae``, ``rmse``, ``r2`` (regression).
    floor : float, optional
        Acceptable limit: the minimum for greater-is-better metrics, the
        maximum for error metrics (``mae``, ``rmse``).
    max_drop : float, optional
        Largest acceptable degradation ``drop``.
    threshold : float, default :data:`DEFAULT_PROBABILITY_CUT`
        Probability cut for ``accuracy``/``f1``.
    classes : nbprod.model.labels.ClassLabels, optional
        The model's classes and positive class, for raw labels (text, booleans) and
        multiclass windows (see :func:`class_metric`).

    Returns
    -------
    PerformanceDrift
        ``drop`` is positive when the window is worse; ``status`` is
        ``"empty"`` without labelled rows and ``"undefined"`` when the metric
        is not defined on the window (``reason`` says why; nothing is flagged).
    """
    if metric not in GREATER_IS_BETTER:
        raise ValueError(f"unknown metric {metric!r}; known: {sorted(GREATER_IS_BETTER)}")
    y_true, y_score, n_dropped = labelled_rows(y_true, y_score)
    current = window_metric(metric, y_true, y_score, threshold, classes)
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
        n=int(y_true.size), status=status, n_unlabelled=n_dropped,
        reason="" if defined else (_reason(metric, y_true, y_score, classes) or "the metric is not finite"),
    )


def _reason(metric: str, y_true: np.ndarray, y_score: np.ndarray, classes: Any) -> str:
    if classes is not None and metric in ("roc_auc", "accuracy", "f1"):
        return class_undefined_reason(metric, y_true, y_score, classes)
    return undefined_reason(metric, y_true, y_score)
