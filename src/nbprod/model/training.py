"""Training helpers for the train notebook: validation scores, saving and logging candidates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import joblib
import numpy as np
import pandas as pd
from sklearn.base import clone

from nbprod import io, tracking
from nbprod.memory import release_memory
from nbprod.model import metrics
from nbprod.model.classes import classes_of, indicator, is_multiclass, positive_label
from nbprod.model.features import FeatureBuilder
from nbprod.model.models import Candidate, predict_scores
from nbprod.tracking.tags import KIND


def features_and_target(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.Series]:
    """Split a prepared frame into model inputs and the target."""
    return frame.drop(columns=[target]), frame[target]


@dataclass(frozen=True)
class TrainingRows:
    """The training split as the candidates take it.

    Attributes
    ----------
    builder : the FeatureBuilder fitted on the raw rows.
    features : what it made of them.
    y : the target.
    example : the first raw rows (the logged models' input example).
    """

    builder: FeatureBuilder
    features: pd.DataFrame
    y: pd.Series
    example: pd.DataFrame


def read_training_rows(path: str | Path, target: str, builder: FeatureBuilder, example_rows: int = 5) -> TrainingRows:
    """Read a prepared split, fit a clone of ``builder`` on its inputs and keep their features, not the raw
    rows: at 10x the default data the raw training rows are 0.8 GB resident, which the grid's fits do not need."""
    rows = _featured_rows(path, target, builder, example_rows)
    release_memory(collect=False)  # the raw rows' memory, freed on return (by reference counts)
    return rows


def _featured_rows(path: str | Path, target: str, builder: FeatureBuilder, example_rows: int) -> TrainingRows:
    """:func:`read_training_rows` before the memory its raw rows held is released."""
    X, y = features_and_target(io.read_parquet(path), target)
    fitted = clone(builder).fit(X)
    # take, not head().copy(): a copied slice of Arrow-backed text keeps the whole column's buffers (at 10x the
    # default data, 90 MB held for five rows)
    return TrainingRows(fitted, fitted.transform(X), y.copy(), X.take(np.arange(min(example_rows, len(X)))))


def validation_results(
    fitted: Mapping[str, Any], X: pd.DataFrame, y: pd.Series, task: str, positive_class: Any = None
) -> dict[str, dict[str, float]]:
    """Validation metrics per candidate; binary classifiers get the F1-maximising threshold on the
    probability of ``positive_class`` (None: the greater label). Multiclass models have no threshold."""
    results = {}
    for name, model in fitted.items():
        classes = classes_of(model) if task == "classification" else None
        if classes is None or is_multiclass(classes):
            scores = predict_scores(model, X, task)
            results[name] = metrics.task_metrics(task, y.to_numpy(), scores, classes=classes)
            continue
        positive = positive_label(classes, positive_class)
        scores = predict_scores(model, X, task, positive)
        threshold = metrics.best_threshold(indicator(y, positive), scores)
        results[name] = metrics.task_metrics(task, y.to_numpy(), scores, threshold, positive)
    return results


def class_tags(model: Any, positive_class: Any = None) -> dict[str, str]:
    """The MLflow tags naming a classifier's classes and (binary) positive class; none for a regressor."""
    return metrics.class_tags(classes_of(model), positive_class)


def pip_requirements() -> list[str]:
    """Pinned requirements of a logged model (given, so MLflow does not infer them slowly)."""
    from importlib.metadata import version

    return [f"{package}=={version(package)}" for package in ("scikit-learn", "pandas", "numpy", "scipy")]


def log_candidate(model: Any, candidate: Candidate, result: Mapping[str, float], X_example: pd.DataFrame,
                  task: str, positive_class: Any = None) -> dict[str, str]:
    """Log one candidate (params, validation metrics, class tags, model with signature and input example)."""
    import mlflow
    from mlflow.models import infer_signature

    from nbprod.registry.digest import tag_logged_model

    tags = {KIND: candidate.kind, **class_tags(model, positive_class)}
    with tracking.candidate_run(candidate.name, **tags) as run:
        threshold = {"threshold": result["threshold"]} if "threshold" in result else {}
        mlflow.log_params({"kind": candidate.kind, **candidate.params, **threshold})
        mlflow.log_metrics({f"valid.{key}": value for key, value in result.items() if key != "threshold"})
        example = X_example.head(5)
        signature = infer_signature(example, predict_scores(model, example, task, positive_class))
        info = mlflow.sklearn.log_model(model, name="model", signature=signature, input_example=example,
                                        pip_requirements=pip_requirements(),
                                        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE)
        tag_logged_model(info.model_id)  # checked before the dashboards load it
    return {"run_id": run.info.run_id, "model_uri": info.model_uri}


def save_candidates(
    fitted: Mapping[str, Any], candidates: list[Candidate], results: Mapping[str, Mapping[str, float]],
    X_example: pd.DataFrame, task: str, index_path: Path, positive_class: Any = None,
) -> dict[str, Any]:
    """Pickle each fitted candidate beside ``index_path``, log it to MLflow, and return the index.

    Each candidate's ``path`` is its file's name in that folder (the folder may move: a worker builds in its own).

    A candidate's ``threshold`` is None when it has none (multiclass, regression keeps 0.5).
    """
    index_path = Path(index_path)
    folder = index_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    index: dict[str, Any] = {}
    for candidate in candidates:
        path = folder / f"{candidate.name}.joblib"
        joblib.dump(fitted[candidate.name], path)
        logged = log_candidate(fitted[candidate.name], candidate, results[candidate.name], X_example, task,
                               positive_class)
        multiclass = is_multiclass(classes_of(fitted[candidate.name]))
        index[candidate.name] = {"path": path.name, "kind": candidate.kind, "params": dict(candidate.params),
                                 "threshold": (None if multiclass
                                               else float(results[candidate.name].get("threshold", metrics.DEFAULT_THRESHOLD))),
                                 "valid": dict(results[candidate.name]), **logged}
    return index


def results_table(results: Mapping[str, Mapping[str, float]], digits: int = 4) -> pd.DataFrame:
    """Candidates as rows, metrics as columns."""
    return pd.DataFrame(results).T.round(digits).rename_axis("candidate")
