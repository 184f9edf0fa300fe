"""A recommender's workload for the budget probe (:mod:`nbprod.registry.probe`, task ``recommendation@K``).

The model is loaded with ``mlflow.pyfunc.load_model`` (as the service does); the batch recommends once
for every user of the probe's rows (``user``, optional ``segment``), a single call is one user's top-k.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from nbprod.registry.probe import WARMUP_CALLS, Workload

#: The probe's task of a recommender: ``recommendation@K``.
TASK = "recommendation"


def task(k: int) -> str:
    """The probe's task for one user's top-``k``."""
    return f"{TASK}@{int(k)}"


def load(model_dir: str) -> Any:
    """The recommender inside the MLflow model in ``model_dir``."""
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(model_dir).unwrap_python_model().recommender


def workload(name: str, users: pd.DataFrame, calls: int) -> Workload:
    """The :class:`~nbprod.registry.probe.Workload` of ``recommendation@K`` on ``users``."""
    import importlib

    importlib.import_module("scipy.sparse")  # part of the runtime, not of the model
    importlib.import_module("mlflow.pyfunc")
    k = int(name.partition("@")[2])
    segments = users["segment"].tolist() if "segment" in users.columns else [None] * len(users)
    pairs = list(zip(users["user"], segments))
    requests = [pairs[i % len(pairs)] for i in range(max(calls, 1) + WARMUP_CALLS)]

    def batch(model: Any) -> None:
        for user, segment in pairs:
            model.recommend(user, k=k, segment=segment)

    return Workload(load, batch, lambda model, request: model.recommend(request[0], k=k, segment=request[1]),
                    requests, {"batch_users": int(len(users)), "k": k})
