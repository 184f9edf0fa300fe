"""Evaluation helpers for the evaluate notebook: all candidates on one holdout."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import joblib
import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance

from nbprod.io import relative_within
from nbprod.model import metrics
from nbprod.model.classes import classes_of, is_multiclass, label_to_json, predicted_labels, to_label
from nbprod.model.models import predict_scores


def load_candidates(index: Mapping[str, Mapping[str, Any]], index_file: str | Path) -> dict[str, Any]:
    """The fitted candidate models listed in the train step's index (read from ``index_file``), each a file beside
    it (a path recorded whole, by an older nbprod, is taken as it is)."""
    return {name: joblib.load(Path(index_file).parent / info["path"]) for name, info in index.items()}


def holdout_scores(models: Mapping[str, Any], X: pd.DataFrame, task: str,
                   positive_class: Any = None) -> dict[str, np.ndarray]:
    """Each model's scores on the holdout (see :func:`nbprod.model.models.predict_scores`)."""
    return {name: predict_scores(model, X, task, positive_class) for name, model in models.items()}


def score_column(run_id: str, label: Any = None) -> str:
    """The column of ``holdout_scores.parquet`` holding a run's scores: the run id; for a multiclass
    model one column per class, ``<run id>:<label as JSON>``."""
    return run_id if label is None else f"{run_id}:{label_to_json(label)}"


def scores_by_run(scores: Mapping[str, np.ndarray], index: Mapping[str, Mapping[str, Any]],
                  classes: Sequence[Any] | None = None) -> pd.DataFrame:
    """The holdout scores as one column per candidate's MLflow run id, rows in the test split's order.

    Multiclass scores (a matrix) take one column per class (:func:`score_column`).
    Saved by the evaluate task so that readers (the model report) need not load and
    re-score the models on the same rows; :func:`run_scores` reads them back.
    """
    columns: dict[str, np.ndarray] = {}
    for name, score in scores.items():
        score = np.asarray(score, dtype=float)
        if score.ndim == 2:
            labels = list(classes) if classes is not None else list(range(score.shape[1]))
            columns.update({score_column(index[name]["run_id"], label): score[:, k] for k, label in enumerate(labels)})
        else:
            columns[score_column(index[name]["run_id"])] = score
    return pd.DataFrame(columns)


def run_scores(frame: pd.DataFrame, run_id: str, classes: Sequence[Any] | None = None) -> np.ndarray:
    """One run's scores from :func:`scores_by_run`'s frame: a vector, or (multiclass ``classes``) a matrix."""
    if classes is not None and len(classes) > 2:
        return frame[[score_column(run_id, label) for label in classes]].to_numpy(dtype=float)
    return frame[score_column(run_id)].to_numpy(dtype=float)


def holdout_results(
    scores: Mapping[str, np.ndarray], y: np.ndarray, task: str, thresholds: Mapping[str, float],
    positive_class: Any = None, classes: Sequence[Any] | None = None,
) -> dict[str, dict[str, float]]:
    """Each model's metrics on the holdout, at its own threshold (binary)."""
    return {name: metrics.task_metrics(task, y, score, metrics.DEFAULT_THRESHOLD if thresholds.get(name) is None else thresholds[name],
                                       positive_class, classes)
            for name, score in scores.items()}


def baseline_result(y_train: np.ndarray, y: np.ndarray, task: str, classes: Sequence[Any] | None = None,
                    positive_class: Any = None) -> dict[str, float]:
    """The naive baseline (training positive rate, class priors or mean) on the holdout.

    Binary: ``positive_class`` None means the labels are 0/1; the threshold is the
    positive rate itself.
    """
    scores = metrics.naive_scores(task, y_train, len(y), classes, positive_class)
    threshold = float(scores[0]) if task == "classification" and scores.ndim == 1 and len(scores) else metrics.DEFAULT_THRESHOLD
    return metrics.task_metrics(task, y, scores, threshold, positive_class, classes)


def per_class(y: Any, score: np.ndarray, classes: Sequence[Any], positive_class: Any = None,
              threshold: float | None = None) -> pd.DataFrame:
    """Precision, recall, F1 and support of each class for one model's holdout scores.

    The prediction: the most probable class (multiclass), or the positive class when
    its probability reaches ``threshold`` (binary).
    """
    predicted = predicted_labels(score, classes, positive_class, metrics.DEFAULT_THRESHOLD if threshold is None else threshold)
    return metrics.per_class_table(y, predicted, classes)


def macro_roc_auc_scorer(model: Any, X: pd.DataFrame, y: Any) -> float:
    """A scikit-learn scorer: macro one-vs-rest ROC AUC of a multiclass model (classes absent from ``y`` left out)."""
    return metrics.ovr_roc_auc(y, model.predict_proba(X), classes_of(model), "macro")


def importance(model: Any, X: pd.DataFrame, y: pd.Series, task: str, rows: int, repeats: int,
               seed: int) -> pd.Series:
    """Permutation importance of the raw input columns on a sample of the holdout.

    Scored by ROC AUC (binary; the same whichever class is positive), macro
    one-vs-rest ROC AUC (multiclass) or RMSE (regression).

    The model predicts with one OpenMP thread here: the scores are the same (a gradient-boosted
    model's OpenMP threads split the rows), but each of the many small predictions would otherwise
    wait at a barrier for every thread, which on a busy machine made this step ten times slower.
    """
    from threadpoolctl import threadpool_limits

    sample = X.sample(n=min(rows, len(X)), random_state=seed)
    scoring: Any = "neg_root_mean_squared_error"
    if task == "classification":
        scoring = macro_roc_auc_scorer if is_multiclass(classes_of(model)) else "roc_auc"
    with threadpool_limits(limits=1, user_api="openmp"):
        result = permutation_importance(model, sample, y.loc[sample.index], scoring=scoring, n_repeats=repeats,
                                        random_state=seed, n_jobs=1)
    return pd.Series(result.importances_mean, index=X.columns).sort_values(ascending=False)


def evaluation_record(
    task: str, metric: str, target: str, holdout: str, index: Mapping[str, Mapping[str, Any]],
    results: Mapping[str, Mapping[str, float]], baseline: Mapping[str, float],
    classes: Sequence[Any] | None = None, positive_class: Any = None, record_file: str | Path | None = None,
) -> dict[str, Any]:
    """The ``evaluation.json`` the promotion gate reads (with the target's classes and positive class).

    With ``record_file`` (where the record goes), a ``holdout`` in its folder is named relative to it: the
    products may move (a worker builds in a folder of its own, the gate reads them elsewhere).
    """
    best = metrics.pick_best(results, metric)
    return {
        "task": task, "metric": metric, "greater_is_better": metrics.GREATER_IS_BETTER[metric],
        "target": target, "best": best, "holdout": relative_within(holdout, record_file),
        "classes": None if classes is None else [to_label(label) for label in classes],
        "positive_class": to_label(positive_class),
        "candidates": {name: {"run_id": info["run_id"], "model_uri": info["model_uri"],
                              "threshold": info["threshold"], "metrics": dict(results[name])}
                       for name, info in index.items()},
        "baseline": {"metrics": dict(baseline)},
    }
