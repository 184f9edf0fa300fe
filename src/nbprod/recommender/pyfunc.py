"""A :class:`~nbprod.recommender.estimator.Recommender` as an MLflow pyfunc model.

The registry, the gate and the service load it like any MLflow model::

    model = mlflow.pyfunc.load_model("models:/movies@champion")
    model.predict(pd.DataFrame({"user": ["42", "new-user"], "k": [10, 5]}))

``predict`` takes one row per request (``user``; optional ``k``, ``exclude_seen``, ``segment``)
and returns one row per recommended item: ``user``, ``rank`` (1 = best), ``item``, ``score``,
``path``. The fitted estimator is pickled as the model's one artifact; loading it needs numpy,
pandas, scipy and nbprod, not ``implicit``.
"""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

#: The artifact holding the pickled estimator.
ARTIFACT = "recommender"
#: Columns of ``predict``'s output.
OUTPUT_COLUMNS = ("user", "rank", "item", "score", "path")
#: ``k`` of a request row that does not say.
DEFAULT_K = 10


def _python_model_class() -> type:
    """The ``PythonModel`` subclass (defined on first use: MLflow is not imported at import time)."""
    import mlflow.pyfunc

    class RecommenderModel(mlflow.pyfunc.PythonModel):
        """The pyfunc wrapper (see the module docstring)."""

        def load_context(self, context: Any) -> None:
            with open(context.artifacts[ARTIFACT], "rb") as handle:
                self.recommender = pickle.load(handle)

        def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
            return recommend_frame(self.recommender, model_input)

    return RecommenderModel


def _value(row: pd.Series, name: str, default: Any) -> Any:
    value = row.get(name, default)
    return default if value is None or (isinstance(value, float) and pd.isna(value)) else value


def recommend_frame(recommender: Any, requests: pd.DataFrame) -> pd.DataFrame:
    """Answer each request row (see the module docstring) with one output row per item."""
    rows = []
    for _, request in requests.iterrows():
        found = recommender.recommend(request["user"], k=int(_value(request, "k", DEFAULT_K)),
                                      exclude_seen=bool(_value(request, "exclude_seen", True)),
                                      segment=_value(request, "segment", None))
        rows += [(found.user, rank + 1, item, score, found.path)
                 for rank, (item, score) in enumerate(zip(found.items, found.scores))]
    return pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS))


def requirements() -> list[str]:
    """Pinned requirements of a logged recommender (given, so MLflow does not infer them slowly)."""
    from importlib.metadata import version

    return [f"{package}=={version(package)}" for package in ("pandas", "numpy", "scipy")]


def pickled(recommender: Any, folder: Path) -> Path:
    """The estimator pickled into ``folder``."""
    path = Path(folder) / f"{ARTIFACT}.pkl"
    with open(path, "wb") as handle:
        pickle.dump(recommender, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def save_model(recommender: Any, path: Path) -> Path:
    """Save the fitted estimator as an MLflow model folder at ``path``."""
    import mlflow.pyfunc

    with tempfile.TemporaryDirectory(prefix="nbprod-recommender-") as folder:
        mlflow.pyfunc.save_model(str(path), python_model=_python_model_class()(),
                                 artifacts={ARTIFACT: str(pickled(recommender, Path(folder)))},
                                 pip_requirements=requirements())
    return Path(path)


def log_model(recommender: Any, name: str = "model") -> str:
    """Log the fitted estimator to the active run, its files' digest as the run's tag (checked before
    ``nbprod reproduce`` or the dashboards load it); return the model's URI."""
    import mlflow.pyfunc

    from nbprod.registry.digest import tag_logged_model

    with tempfile.TemporaryDirectory(prefix="nbprod-recommender-") as folder:
        info = mlflow.pyfunc.log_model(name=name, python_model=_python_model_class()(),
                                       artifacts={ARTIFACT: str(pickled(recommender, Path(folder)))},
                                       pip_requirements=requirements())
    tag_logged_model(info.model_id)
    return info.model_uri


def load_recommender(model_uri: str) -> Any:
    """The estimator inside a logged or saved recommender (a URI or a model folder)."""
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(str(model_uri)).unwrap_python_model().recommender
