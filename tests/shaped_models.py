"""Tiny classifiers on raw labels, for the tests of everything after the pipeline.

``yes_no_model()``: a binary model on Yes/No labels (positive class "Yes");
``three_class_model()``: three text classes. Both are the project's own pipeline
(FeatureBuilder + gradient boosting on category codes) fitted on 600 synthetic rows
where the label follows ``x`` (and ``c``), so a window's metrics are high and a
shuffled window's low.
"""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

#: The repository root (its env.yaml holds the default settings).
REPO = Path(__file__).resolve().parents[1]


def shaped_rows(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    """Inputs ``x`` (informative), ``z`` (noise), ``c`` (text) and the labels ``yes_no`` and ``level``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    frame = pd.DataFrame({"x": x, "z": rng.normal(size=rows), "c": rng.choice(["a", "b"], size=rows)})
    frame["yes_no"] = np.where(x + rng.normal(scale=0.3, size=rows) > 0.5, "Yes", "No")
    frame["level"] = np.select([x < -0.5, x < 0.5], ["low", "mid"], "high")
    return frame


@functools.lru_cache(maxsize=None)
def fitted(target: str, rows: int = 600, seed: int = 0):
    """The project's pipeline fitted on :func:`shaped_rows` to predict ``target`` (once per session:
    read it, do not change it)."""
    from threadpoolctl import threadpool_limits

    from nbprod.model.features import FeatureBuilder
    from nbprod.model.models import Candidate, make_model

    frame = shaped_rows(rows, seed)
    candidate = Candidate("hgb", "hist_gradient_boosting", {"max_iter": 30})
    with threadpool_limits(limits=1, user_api="openmp"):  # a tiny fit: threads only contend
        return make_model(candidate, "classification", FeatureBuilder(), seed=0).fit(frame[["x", "z", "c"]],
                                                                                   frame[target])


def yes_no_model():
    return fitted("yes_no")


def three_class_model():
    return fitted("level")


@contextlib.contextmanager
def registry_at_tracking_store() -> Iterator[None]:
    """MLflow's model registry pointed at the current tracking store for the block, then restored.

    ``nbprod.serving.model_source.load_version`` points the process's registry at the store it
    serves (and exports ``MLFLOW_REGISTRY_URI``); a test registering a model after such a load
    would otherwise register it in that other store.
    """
    import mlflow
    import mlflow.tracking._model_registry.utils as registry

    saved, exported = registry._registry_uri, os.environ.get("MLFLOW_REGISTRY_URI")
    mlflow.set_registry_uri(mlflow.get_tracking_uri())
    try:
        yield
    finally:
        registry._registry_uri = saved
        if exported is None:
            os.environ.pop("MLFLOW_REGISTRY_URI", None)
        else:
            os.environ["MLFLOW_REGISTRY_URI"] = exported
