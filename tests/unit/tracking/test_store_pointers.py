"""The suite's conftest puts MLflow's store pointers back after each test: the module-level tracking and
registry URIs (``mlflow.set_tracking_uri`` / ``set_registry_uri``) and the variables they export.

The two tests run in this order (pytest keeps a module's order): the first points MLflow at a store of its
own and leaves it so; the second sees none of it.
"""

from __future__ import annotations

import os
from pathlib import Path

LEFT: dict[str, str] = {}


def test_a_test_points_mlflow_at_its_own_store_and_leaves_it_so(tmp_path: Path):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'leaked.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    assert mlflow.get_tracking_uri() == uri and mlflow.get_registry_uri() == uri
    assert os.environ["MLFLOW_TRACKING_URI"] == uri and os.environ["MLFLOW_REGISTRY_URI"] == uri
    LEFT["uri"] = uri


def test_the_next_test_finds_neither_mlflows_uris_nor_the_variables_pointing_there():
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    left = LEFT["uri"]
    assert tracking_utils._tracking_uri != left and registry_utils._registry_uri != left
    assert os.environ.get("MLFLOW_TRACKING_URI") != left and os.environ.get("MLFLOW_REGISTRY_URI") != left
    assert mlflow.get_tracking_uri() != left and mlflow.get_registry_uri() != left
