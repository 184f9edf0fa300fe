"""Fixtures for the registry tests: a real MLflow SQLite store, real fitted models, a real holdout.

Data: scikit-learn's bundled breast-cancer frame plus a categorical column
(``grade``) and a numeric column no model is trained on (``extra``, so a model
that needs it is schema-incompatible with the champion).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

TARGET = "malignant"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass(frozen=True)
class Logged:
    """A fitted model logged to MLflow."""

    name: str
    model: Any
    run_id: str
    model_uri: str
    metrics: dict


@pytest.fixture(scope="package")
def store(tmp_path_factory: pytest.TempPathFactory):
    """A fresh MLflow SQLite store and experiment; MLFLOW_TRACKING_URI/EXPERIMENT_ID point at it (and MLflow's
    tracking and registry URIs) for the registry tests only: all is put back after the last of them."""
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    saved = {key: os.environ.get(key)
             for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID", "NBPROD_PARENT_RUN")}
    saved_uris = tracking_utils._tracking_uri, registry_utils._registry_uri
    os.environ["MLFLOW_TRACKING_URI"] = uri
    os.environ.pop("NBPROD_PARENT_RUN", None)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment_id = mlflow.create_experiment("registry-tests", artifact_location=(folder / "artifacts").as_uri())
    os.environ["MLFLOW_EXPERIMENT_ID"] = experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    yield {"uri": uri, "folder": folder, "experiment_id": experiment_id}
    tracking_utils._tracking_uri, registry_utils._registry_uri = saved_uris  # not set_*_uri: they export
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="package")
def frames():
    """(train, holdout) raw frames with the target column."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.data.iloc[:, :10].copy()
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame["grade"] = pd.cut(frame["mean_radius"], 3, labels=["small", "medium", "large"]).astype(str)
    rng = np.random.default_rng(0)
    frame["extra"] = rng.normal(size=len(frame))
    frame[TARGET] = (data.target == 0).astype(int)
    order = rng.permutation(len(frame))
    cut = int(0.65 * len(frame))
    return frame.iloc[order[:cut]].reset_index(drop=True), frame.iloc[order[cut:]].reset_index(drop=True)


@pytest.fixture(scope="package")
def holdout_path(frames, tmp_path_factory) -> Path:
    """The holdout as Parquet (raw columns + target)."""
    path = tmp_path_factory.mktemp("data") / "holdout.parquet"
    frames[1].to_parquet(path)
    return path


def _fit_and_log(store, frames, name: str, kind: str, params: dict, columns: list[str]) -> Logged:
    import mlflow
    import mlflow.sklearn

    from nbprod.model.features import FeatureBuilder
    from nbprod.model.metrics import task_metrics
    from nbprod.model.models import Candidate, make_model, predict_scores

    train, holdout = frames
    model = make_model(Candidate(name, kind, params), "classification", FeatureBuilder(), 0)
    model.fit(train[columns], train[TARGET])
    metrics = task_metrics("classification", holdout[TARGET],
                           predict_scores(model, holdout.drop(columns=[TARGET]), "classification"), 0.5)
    with mlflow.start_run(experiment_id=store["experiment_id"], run_name=name,
                          tags={"nbprod.candidate": name, "nbprod.git_commit": COMMIT}) as run:
        info = mlflow.sklearn.log_model(model, name="model", serialization_format="cloudpickle",
                                        pip_requirements=["scikit-learn", "cloudpickle"])  # no slow inference
    return Logged(name, model, run.info.run_id, info.model_uri, metrics)


@pytest.fixture(scope="package")
def all_columns(frames) -> list[str]:
    """Every raw column but the target and ``extra``."""
    return [c for c in frames[0].columns if c not in (TARGET, "extra")]


@pytest.fixture(scope="package")
def good(store, frames, all_columns) -> Logged:
    """A decent gradient-boosting model on every column but ``extra``."""
    return _fit_and_log(store, frames, "hgb", "hist_gradient_boosting", {"max_iter": 30}, all_columns)


@pytest.fixture(scope="package")
def weak(store, frames) -> Logged:
    """A worse, schema-compatible model: a heavily regularised linear model on two weak columns."""
    return _fit_and_log(store, frames, "weak", "linear", {"C": 1e-4},
                        ["mean_fractal_dimension", "mean_symmetry"])


@pytest.fixture(scope="package")
def needs_extra(store, frames, all_columns) -> Logged:
    """A model requiring ``extra``, a column the champion's contract lacks."""
    return _fit_and_log(store, frames, "extra", "hist_gradient_boosting", {"max_iter": 30},
                        [*all_columns, "extra"])


@pytest.fixture
def model_name(request) -> str:
    """A registered-model name of this test's own."""
    return "nbprod-" + re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name)[:60]


@pytest.fixture
def write_evaluation(tmp_path, holdout_path, frames):
    """Write an evaluation.json whose best candidate is ``logged``; return its path."""
    train = frames[0]

    def write(logged: Logged, folder: Path | None = None) -> Path:
        folder = folder or tmp_path
        folder.mkdir(parents=True, exist_ok=True)
        rate = float(train[TARGET].mean())
        from nbprod.model.metrics import naive_scores, task_metrics

        holdout_y = frames[1][TARGET]
        baseline = task_metrics("classification", holdout_y,
                                naive_scores("classification", train[TARGET], len(holdout_y)), 0.5)
        document = {
            "task": "classification", "metric": "roc_auc", "greater_is_better": True, "target": TARGET,
            "best": logged.name, "holdout": str(holdout_path),
            "candidates": {logged.name: {"run_id": logged.run_id, "model_uri": logged.model_uri,
                                         "threshold": 0.5, "metrics": logged.metrics}},
            "baseline": {"metrics": baseline, "positive_rate": rate},
        }
        path = folder / "evaluation.json"
        path.write_text(json.dumps(document))
        return path

    return write


@pytest.fixture(scope="package")
def measured(good, tmp_path_factory, frames):
    """The budget figures of ``good``, measured once (one subprocess) and reused."""
    import mlflow.artifacts

    from nbprod.registry import budget

    folder = tmp_path_factory.mktemp("measured")
    model_dir = mlflow.artifacts.download_artifacts(artifact_uri=good.model_uri, dst_path=str(folder))
    return budget.measure(Path(model_dir), frames[1].drop(columns=[TARGET]), "classification",
                          calls=200, timeout_s=120)
