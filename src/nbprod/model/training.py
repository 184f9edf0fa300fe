"""Training helpers for the train notebook: validation scores, saving and logging candidates."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import joblib
import pandas as pd

from nbprod import tracking
from nbprod.model import metrics
from nbprod.model.models import Candidate, predict_scores
from nbprod.tracking.tags import KIND


def features_and_target(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.Series]:
    """Split a prepared frame into model inputs and the target."""
    return frame.drop(columns=[target]), frame[target]


def validation_results(
    fitted: Mapping[str, Any], X: pd.DataFrame, y: pd.Series, task: str
) -> dict[str, dict[str, float]]:
    """Validation metrics per candidate; classifiers get the F1-maximising threshold."""
    results = {}
    for name, model in fitted.items():
        scores = predict_scores(model, X, task)
        threshold = metrics.best_threshold(y.to_numpy(), scores) if task == "classification" else metrics.DEFAULT_THRESHOLD
        results[name] = metrics.task_metrics(task, y.to_numpy(), scores, threshold)
    return results


def pip_requirements() -> list[str]:
    """Pinned requirements of a logged model (given, so MLflow does not infer them slowly)."""
    from importlib.metadata import version

    return [f"{package}=={version(package)}" for package in ("scikit-learn", "pandas", "numpy", "scipy")]


def log_candidate(model: Any, candidate: Candidate, result: Mapping[str, float], X_example: pd.DataFrame,
                  task: str) -> dict[str, str]:
    """Log one candidate (params, validation metrics, model with signature and input example)."""
    import mlflow
    from mlflow.models import infer_signature

    with tracking.candidate_run(candidate.name, **{KIND: candidate.kind}) as run:
        mlflow.log_params({"kind": candidate.kind, **candidate.params,
                           "threshold": result.get("threshold", metrics.DEFAULT_THRESHOLD)})
        mlflow.log_metrics({f"valid.{key}": value for key, value in result.items() if key != "threshold"})
        example = X_example.head(5)
        signature = infer_signature(example, predict_scores(model, example, task))
        info = mlflow.sklearn.log_model(model, name="model", signature=signature, input_example=example,
                                        pip_requirements=pip_requirements(),
                                        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE)
    return {"run_id": run.info.run_id, "model_uri": info.model_uri}


def save_candidates(
    fitted: Mapping[str, Any], candidates: list[Candidate], results: Mapping[str, Mapping[str, float]],
    X_example: pd.DataFrame, task: str, index_path: Path,
) -> dict[str, Any]:
    """Pickle each fitted candidate beside ``index_path``, log it to MLflow, and return the index."""
    index_path = Path(index_path)
    folder = index_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    index: dict[str, Any] = {}
    for candidate in candidates:
        path = folder / f"{candidate.name}.joblib"
        joblib.dump(fitted[candidate.name], path)
        logged = log_candidate(fitted[candidate.name], candidate, results[candidate.name], X_example, task)
        index[candidate.name] = {"path": str(path), "kind": candidate.kind, "params": dict(candidate.params),
                                 "threshold": float(results[candidate.name].get("threshold", metrics.DEFAULT_THRESHOLD)),
                                 "valid": dict(results[candidate.name]), **logged}
    return index


def results_table(results: Mapping[str, Mapping[str, float]], digits: int = 4) -> pd.DataFrame:
    """Candidates as rows, metrics as columns."""
    return pd.DataFrame(results).T.round(digits).rename_axis("candidate")
