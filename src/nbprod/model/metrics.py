"""Evaluation metrics and model selection, as pure functions of arrays."""

from __future__ import annotations

from typing import Mapping

import numpy as np
from sklearn import metrics as skm

from nbprod.model import DEFAULT_THRESHOLD

#: Whether a larger value of each metric is better.
GREATER_IS_BETTER = {
    "roc_auc": True, "pr_auc": True, "log_loss": False, "f1": True, "brier": False,
    "accuracy": True, "mae": False, "rmse": False, "r2": True,
}
DEFAULT_METRIC = {"classification": "roc_auc", "regression": "rmse"}


def selection_metric(metric: str, task: str) -> str:
    """The metric that picks the best candidate; ``auto`` means the task's default."""
    name = DEFAULT_METRIC[task] if metric == "auto" else metric
    if name not in GREATER_IS_BETTER:
        raise ValueError(f"unknown metric {name!r}; known: {sorted(GREATER_IS_BETTER)}")
    valid = {"classification": {"roc_auc", "pr_auc", "log_loss", "f1", "brier", "accuracy"},
             "regression": {"mae", "rmse", "r2"}}[task]
    if name not in valid:
        raise ValueError(f"metric {name!r} does not apply to {task}; use one of {sorted(valid)}")
    return name


def best_threshold(y_true: np.ndarray, proba: np.ndarray) -> float:
    """The probability threshold that maximises F1."""
    precision, recall, thresholds = skm.precision_recall_curve(y_true, proba)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))]) if thresholds.size else DEFAULT_THRESHOLD


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, float]:
    """ROC AUC, PR AUC, log loss, Brier score, and F1/accuracy at ``threshold``."""
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


def regression_metrics(y_true: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """MAE, RMSE and R²."""
    return {
        "mae": float(skm.mean_absolute_error(y_true, predicted)),
        "rmse": float(np.sqrt(skm.mean_squared_error(y_true, predicted))),
        "r2": float(skm.r2_score(y_true, predicted)),
    }


def task_metrics(task: str, y_true: np.ndarray, scores: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> dict[str, float]:
    """The metrics of a task from true values and model scores."""
    if task == "classification":
        return classification_metrics(np.asarray(y_true), np.asarray(scores), threshold)
    return regression_metrics(np.asarray(y_true), np.asarray(scores))


def pick_best(results: Mapping[str, Mapping[str, float]], metric: str) -> str:
    """The candidate name with the best value of ``metric``."""
    if not results:
        raise ValueError("no candidates to choose from")
    scored = {name: values[metric] for name, values in results.items() if not np.isnan(values[metric])}
    if not scored:
        raise ValueError(f"no candidate has a value of {metric!r} to choose by")
    sign = 1 if GREATER_IS_BETTER[metric] else -1
    return max(scored, key=lambda name: sign * scored[name])


def naive_scores(task: str, y_train: np.ndarray, n: int) -> np.ndarray:
    """The naive baseline: the training positive rate (classification) or mean (regression)."""
    return np.full(n, float(np.mean(y_train)))
