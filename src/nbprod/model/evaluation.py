"""Evaluation helpers for the evaluate notebook: all candidates on one holdout."""

from __future__ import annotations

from typing import Any, Mapping

import joblib
import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance

from nbprod.model import metrics
from nbprod.model.models import predict_scores


def load_candidates(index: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The fitted candidate models listed in the train step's index."""
    return {name: joblib.load(info["path"]) for name, info in index.items()}


def holdout_scores(models: Mapping[str, Any], X: pd.DataFrame, task: str) -> dict[str, np.ndarray]:
    """Each model's scores on the holdout."""
    return {name: predict_scores(model, X, task) for name, model in models.items()}


def scores_by_run(scores: Mapping[str, np.ndarray], index: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """The holdout scores as one column per candidate's MLflow run id, rows in the test split's order.

    Saved by the evaluate task so that readers (the model report) need not load and
    re-score the models on the same rows.
    """
    return pd.DataFrame({index[name]["run_id"]: np.asarray(score, dtype=float) for name, score in scores.items()})


def holdout_results(
    scores: Mapping[str, np.ndarray], y: np.ndarray, task: str, thresholds: Mapping[str, float]
) -> dict[str, dict[str, float]]:
    """Each model's metrics on the holdout, at its own threshold."""
    return {name: metrics.task_metrics(task, y, score, thresholds.get(name, metrics.DEFAULT_THRESHOLD)) for name, score in scores.items()}


def baseline_result(y_train: np.ndarray, y: np.ndarray, task: str) -> dict[str, float]:
    """The naive baseline (training positive rate or mean) on the holdout."""
    scores = metrics.naive_scores(task, y_train, len(y))
    threshold = float(np.mean(y_train)) if task == "classification" else metrics.DEFAULT_THRESHOLD
    return metrics.task_metrics(task, y, scores, threshold)


def importance(model: Any, X: pd.DataFrame, y: pd.Series, task: str, rows: int, repeats: int,
               seed: int) -> pd.Series:
    """Permutation importance of the raw input columns on a sample of the holdout."""
    sample = X.sample(n=min(rows, len(X)), random_state=seed)
    scoring = "roc_auc" if task == "classification" else "neg_root_mean_squared_error"
    result = permutation_importance(model, sample, y.loc[sample.index], scoring=scoring, n_repeats=repeats,
                                    random_state=seed, n_jobs=1)
    return pd.Series(result.importances_mean, index=X.columns).sort_values(ascending=False)


def evaluation_record(
    task: str, metric: str, target: str, holdout: str, index: Mapping[str, Mapping[str, Any]],
    results: Mapping[str, Mapping[str, float]], baseline: Mapping[str, float],
) -> dict[str, Any]:
    """The ``evaluation.json`` the promotion gate reads."""
    best = metrics.pick_best(results, metric)
    return {
        "task": task, "metric": metric, "greater_is_better": metrics.GREATER_IS_BETTER[metric],
        "target": target, "best": best, "holdout": holdout,
        "candidates": {name: {"run_id": info["run_id"], "model_uri": info["model_uri"],
                              "threshold": info["threshold"], "metrics": dict(results[name])}
                       for name, info in index.items()},
        "baseline": {"metrics": dict(baseline)},
    }
