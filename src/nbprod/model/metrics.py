"""Evaluation metrics and model selection, as pure functions of arrays."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from nbprod.model import DEFAULT_THRESHOLD
from nbprod.model.classes import (classes_of, classes_to_json, indicator, label_array, label_from_json, label_to_json,
                                  positive_index, positive_label, predicted_labels, to_label)
from nbprod.tracking.tags import CLASSES as CLASSES_TAG, POSITIVE_CLASS as POSITIVE_CLASS_TAG


def class_tags(classes: Sequence[Any] | None, positive_class: Any = None) -> dict[str, str]:
    """The tags naming a classifier's classes and (binary) positive class; none without classes (regression)."""
    if classes is None:
        return {}
    tags = {CLASSES_TAG: classes_to_json(classes)}
    if len(classes) <= 2:
        tags[POSITIVE_CLASS_TAG] = label_to_json(positive_label(classes, positive_class))
    return tags


def classes_from_tags(tags: Mapping[str, str], model: Any = None) -> tuple[list[Any] | None, Any]:
    """``(classes, positive class)`` of a registered classifier, read from its tags (:func:`class_tags`).

    A version registered before these tags existed falls back to ``model.classes_`` and,
    binary, the greater label (the old ``[:, 1]``). A multiclass model's positive class
    is None; a regressor's classes are None.
    """
    classes = label_from_json(tags.get(CLASSES_TAG)) if tags.get(CLASSES_TAG) else classes_of(model)
    if classes is None or len(classes) > 2:
        return classes, None
    recorded = tags.get(POSITIVE_CLASS_TAG)
    return classes, positive_label(classes, None if recorded is None else label_from_json(recorded))


#: Whether a larger value of each metric is better.
GREATER_IS_BETTER = {
    "roc_auc": True, "pr_auc": True, "log_loss": False, "f1": True, "brier": False,
    "accuracy": True, "mae": False, "rmse": False, "r2": True,
    "roc_auc_weighted": True, "f1_macro": True, "f1_weighted": True, "balanced_accuracy": True,
}
#: ``evaluate.metric: auto``. For a multiclass target ``roc_auc`` is the macro average of the
#: one-vs-rest ROC AUCs: like the binary ROC AUC it ranks, needs no threshold, and is not swayed by
#: the class priors (each class counts the same).
DEFAULT_METRIC = {"classification": "roc_auc", "regression": "rmse"}
#: The metrics of each kind of target.
TASK_METRICS = {
    "binary": ("roc_auc", "pr_auc", "log_loss", "brier", "f1", "accuracy"),
    "multiclass": ("roc_auc", "roc_auc_weighted", "log_loss", "brier", "accuracy", "balanced_accuracy",
                   "f1_macro", "f1_weighted"),
    "regression": ("mae", "rmse", "r2"),
}


def target_kind(task: str, multiclass: bool = False) -> str:
    """``binary``, ``multiclass`` or ``regression``."""
    if task == "regression":
        return "regression"
    return "multiclass" if multiclass else "binary"


def selection_metric(metric: str, task: str, multiclass: bool = False) -> str:
    """The metric that picks the best candidate; ``auto`` means the task's default."""
    name = DEFAULT_METRIC[task] if metric == "auto" else metric
    if name not in GREATER_IS_BETTER:
        raise ValueError(f"unknown metric {name!r}; known: {sorted(GREATER_IS_BETTER)}")
    kind = target_kind(task, multiclass)
    valid = TASK_METRICS[kind]
    if name not in valid:
        what = f"{kind} classification" if task == "classification" else task
        raise ValueError(f"metric {name!r} does not apply to {what}; use one of {sorted(valid)}")
    return name


def best_threshold(y_true: np.ndarray, proba: np.ndarray) -> float:
    """The probability threshold that maximises F1."""
    precision, recall, thresholds = skm.precision_recall_curve(y_true, proba)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))]) if thresholds.size else DEFAULT_THRESHOLD


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, threshold: float,
                           positive_class: Any = None) -> dict[str, float]:
    """ROC AUC, PR AUC, log loss, Brier score, and F1/accuracy at ``threshold`` (a binary target).

    ``proba``: the positive class's probability; ``y_true``: labels, compared with
    ``positive_class`` (None: ``y_true`` is already 1 for positive, 0 for negative).
    """
    y_true = np.asarray(y_true) if positive_class is None else indicator(y_true, positive_class)
    predicted = (proba >= threshold).astype(int)
    return {
        "roc_auc": float(skm.roc_auc_score(y_true, proba)),
        "pr_auc": float(skm.average_precision_score(y_true, proba)),
        "log_loss": float(skm.log_loss(y_true, np.clip(proba, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "brier": float(skm.brier_score_loss(y_true, proba)),
        "f1": float(skm.f1_score(y_true, predicted, zero_division=0)),
        "accuracy": float(skm.accuracy_score(y_true, predicted)),
        "threshold": float(threshold),
    }


def one_hot(y_true: Any, classes: Sequence[Any]) -> np.ndarray:
    """The ``(n, k)`` 0/1 matrix of ``y_true`` against ``classes`` (a label outside them: a row of zeros)."""
    return np.column_stack([indicator(y_true, label) for label in classes])


def ovr_roc_auc(y_true: Any, proba: np.ndarray, classes: Sequence[Any], average: str = "macro") -> float:
    """One-vs-rest ROC AUC averaged over the classes present in ``y_true`` (``macro`` or ``weighted`` by support).

    A class absent from ``y_true`` has no ROC curve and is left out (scikit-learn raises
    instead); NaN when no class is both present and absent.
    """
    truth = one_hot(y_true, classes)
    support = truth.sum(axis=0)
    scored = [k for k in range(len(classes)) if 0 < support[k] < len(truth)]
    if not scored:
        return float("nan")
    aucs = np.array([skm.roc_auc_score(truth[:, k], proba[:, k]) for k in scored])
    weights = support[scored] if average == "weighted" else np.ones(len(scored))
    return float(np.average(aucs, weights=weights))


def multiclass_metrics(y_true: Any, proba: np.ndarray, classes: Sequence[Any]) -> dict[str, float]:
    """Macro and weighted ROC AUC (one-vs-rest), log loss, Brier score, accuracy, balanced accuracy, F1.

    ``proba``: the ``(n, k)`` probabilities in ``classes`` order; the prediction is the
    most probable class. The Brier score is the mean over rows of the summed squared
    error over the classes.
    """
    y_true = label_array(y_true)
    labels = [to_label(label) for label in classes]
    proba = np.asarray(proba, dtype=float)
    truth = one_hot(y_true, labels)
    predicted = predicted_labels(proba, labels)
    clipped = np.clip(proba, 1e-15, 1.0)
    return {
        "roc_auc": ovr_roc_auc(y_true, proba, labels, "macro"),
        "roc_auc_weighted": ovr_roc_auc(y_true, proba, labels, "weighted"),
        "log_loss": float(-np.mean(np.log((clipped * truth).sum(axis=1).clip(1e-15)))),
        "brier": float(np.mean(((proba - truth) ** 2).sum(axis=1))),
        "accuracy": float(np.mean(predicted == y_true)),
        "balanced_accuracy": float(np.mean([np.mean(predicted[truth[:, k] == 1] == labels[k])
                                            for k in range(len(labels)) if truth[:, k].any()])),
        "f1_macro": float(skm.f1_score(y_true, predicted, labels=labels, average="macro", zero_division=0)),
        "f1_weighted": float(skm.f1_score(y_true, predicted, labels=labels, average="weighted", zero_division=0)),
    }


def per_class_table(y_true: Any, predicted: Any, classes: Sequence[Any], digits: int = 4) -> pd.DataFrame:
    """Precision, recall, F1 and support of each class (rows labelled by class), predicted labels given."""
    labels = [to_label(label) for label in classes]
    y_true, predicted = label_array(y_true), label_array(predicted)
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, predicted, labels=labels, zero_division=0)
    table = pd.DataFrame({"precision": precision, "recall": recall, "f1": f1, "support": support},
                         index=pd.Index([str(label) for label in labels], name="class"))
    return table.round(digits)


def regression_metrics(y_true: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """MAE, RMSE and R²."""
    return {
        "mae": float(skm.mean_absolute_error(y_true, predicted)),
        "rmse": float(np.sqrt(skm.mean_squared_error(y_true, predicted))),
        "r2": float(skm.r2_score(y_true, predicted)),
    }


def task_metrics(task: str, y_true: np.ndarray, scores: np.ndarray, threshold: float = DEFAULT_THRESHOLD,
                 positive_class: Any = None, classes: Sequence[Any] | None = None) -> dict[str, float]:
    """The metrics of a task from true values and model scores.

    Classification: ``scores`` is the positive class's probability (binary; see
    :func:`classification_metrics` for ``positive_class``) or the ``(n, k)`` matrix of
    probabilities in ``classes`` order (multiclass; ``threshold`` is not used).
    """
    if task != "classification":
        return regression_metrics(np.asarray(y_true), np.asarray(scores))
    scores = np.asarray(scores, dtype=float)
    if scores.ndim == 2:
        labels = list(classes) if classes is not None else list(range(scores.shape[1]))
        if len(labels) > 2:
            return multiclass_metrics(y_true, scores, labels)
        positive = positive_label(labels, positive_class)
        return classification_metrics(y_true, scores[:, positive_index(labels, positive)], threshold, positive)
    return classification_metrics(y_true, scores, threshold, positive_class)


def pick_best(results: Mapping[str, Mapping[str, float]], metric: str) -> str:
    """The candidate name with the best value of ``metric``."""
    if not results:
        raise ValueError("no candidates to choose from")
    scored = {name: values[metric] for name, values in results.items() if not np.isnan(values[metric])}
    if not scored:
        raise ValueError(f"no candidate has a value of {metric!r} to choose by")
    sign = 1 if GREATER_IS_BETTER[metric] else -1
    return max(scored, key=lambda name: sign * scored[name])


def naive_scores(task: str, y_train: np.ndarray, n: int, classes: Sequence[Any] | None = None,
                 positive_class: Any = None) -> np.ndarray:
    """The naive baseline: the training positive rate (binary), the class priors (multiclass), or mean.

    Binary: ``positive_class`` None means ``y_train`` is already 0/1. Multiclass (3+
    ``classes``): an ``(n, k)`` matrix, each row the training share of each class.
    """
    if task == "classification" and classes is not None and len(classes) > 2:
        priors = one_hot(y_train, classes).mean(axis=0)
        return np.tile(priors, (n, 1))
    if task == "classification" and positive_class is not None:
        y_train = indicator(y_train, positive_class)
    return np.full(n, float(np.mean(y_train)))
