"""nbprod.model.training: the pure helpers of the train notebook."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbprod.model.features import FeatureBuilder
from nbprod.model.models import expand_grid, fit_candidates, fit_on_features
from nbprod.model.training import features_and_target, read_training_rows, results_table, validation_results

from ..helpers import tiny_frame


class Fixed:
    """A stand-in model that returns given scores (the probability of ``classes[1]``)."""

    def __init__(self, scores, classes=(0, 1)):
        self.scores = np.asarray(scores, dtype=float)
        self.classes_ = np.asarray(classes)

    def predict_proba(self, X):
        return np.column_stack([1 - self.scores, self.scores])

    def predict(self, X):
        return self.scores


def test_features_and_target(frame):
    X, y = features_and_target(frame, "y")
    assert "y" not in X.columns and list(X.columns) == ["x", "z", "c", "flag", "t"]
    assert y.equals(frame["y"])
    assert "y" in frame.columns  # input untouched


def test_read_training_rows_keeps_the_features_and_a_few_raw_rows(tmp_path):
    from nbprod import io

    train = tiny_frame(40, seed=0)
    io.write_parquet(train, tmp_path / "train.parquet")
    builder = FeatureBuilder()
    rows = read_training_rows(tmp_path / "train.parquet", "y", builder)
    X, y = features_and_target(train, "y")
    assert not hasattr(builder, "contract_")  # a clone is fitted
    assert rows.builder.contract_ == FeatureBuilder().fit(X).contract_
    pd.testing.assert_frame_equal(rows.features, FeatureBuilder().fit(X).transform(X))
    assert rows.y.tolist() == y.tolist() and rows.example.equals(X.head(5))
    fitted = fit_on_features(expand_grid([{"name": "lin", "kind": "linear"}]), "classification", rows.builder,
                             rows.features, rows.y, seed=0)
    alone = fit_candidates(expand_grid([{"name": "lin", "kind": "linear"}]), "classification", builder, X, y, seed=0)
    np.testing.assert_array_equal(fitted["lin"].predict_proba(X), alone["lin"].predict_proba(X))


def test_validation_results_classification_uses_the_best_threshold():
    X = pd.DataFrame({"a": range(4)})
    y = pd.Series([0, 0, 1, 1])
    results = validation_results({"good": Fixed([0.1, 0.4, 0.35, 0.8]), "perfect": Fixed([0.1, 0.2, 0.6, 0.9])},
                                 X, y, "classification")
    assert results["good"]["threshold"] == 0.35
    assert results["good"]["f1"] == pytest.approx(0.8)
    assert results["perfect"]["roc_auc"] == 1.0 and results["perfect"]["accuracy"] == 1.0


def test_validation_results_threshold_is_on_the_positive_class_of_text_labels():
    X = pd.DataFrame({"a": range(4)})
    y = pd.Series(["No", "No", "Yes", "Yes"])
    # P(Yes) = 1 - scores: the positive class is the first column
    results = validation_results({"m": Fixed([0.9, 0.6, 0.65, 0.2], classes=("Yes", "No"))}, X, y,
                                 "classification", positive_class="Yes")
    assert results["m"]["threshold"] == pytest.approx(0.35)
    assert results["m"]["f1"] == pytest.approx(0.8)


def test_validation_results_of_a_multiclass_model_have_no_threshold():
    train = pd.DataFrame({"x": np.tile([0.0, 1.0, 2.0], 10), "y": np.tile(["a", "b", "c"], 10)})
    X, y = features_and_target(train, "y")
    fitted = fit_candidates(expand_grid([{"name": "lin", "kind": "linear"}]), "classification",
                            FeatureBuilder(numeric=["x"]), X, y, seed=0)
    results = validation_results(fitted, X, y, "classification")
    assert "threshold" not in results["lin"]
    assert results["lin"]["accuracy"] == 1.0 and results["lin"]["roc_auc"] == 1.0


def test_validation_results_regression_has_no_threshold():
    results = validation_results({"m": Fixed([1.0, 2.0, 5.0])}, pd.DataFrame({"a": [0, 1, 2]}),
                                 pd.Series([1.0, 2.0, 3.0]), "regression")
    assert set(results["m"]) == {"mae", "rmse", "r2"}
    assert results["m"]["r2"] == pytest.approx(-1.0)


def test_validation_results_of_real_fitted_candidates():
    train, valid = tiny_frame(40, seed=0), tiny_frame(20, seed=1)
    X, y = features_and_target(train, "y")
    fitted = fit_candidates(expand_grid([{"name": "lin", "kind": "linear"}]), "classification",
                            FeatureBuilder(), X, y, seed=0)
    results = validation_results(fitted, *features_and_target(valid, "y"), "classification")
    assert results["lin"]["roc_auc"] > 0.9
    assert 0 <= results["lin"]["threshold"] <= 1


def test_results_table():
    table = results_table({"a": {"rmse": 1.234567, "r2": 0.5}, "b": {"rmse": 2.0, "r2": 0.25}}, digits=2)
    assert table.index.name == "candidate" and table.index.tolist() == ["a", "b"]
    assert table.loc["a", "rmse"] == 1.23 and list(table.columns) == ["rmse", "r2"]


def test_a_logged_candidate_carries_the_digest_of_its_model_files(tmp_path):
    import mlflow

    from nbprod.model.models import Candidate
    from nbprod.model.training import log_candidate
    from nbprod.registry.digest import logged_model_location, uri_digest
    from nbprod.tracking.tags import ARTIFACT_DIGEST

    train = pd.DataFrame({"x": np.tile([0.0, 1.0, 2.0, 3.0], 10), "y": np.tile([0, 0, 1, 1], 10)})
    X, y = features_and_target(train, "y")
    fitted = fit_candidates(expand_grid([{"name": "lin", "kind": "linear"}]), "classification",
                            FeatureBuilder(numeric=["x"]), X, y, seed=0)
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        mlflow.set_experiment("digests")  # (an earlier test's active experiment belongs to another store)
        logged = log_candidate(fitted["lin"], Candidate("lin", "linear", {}), {"roc_auc": 1.0}, X,
                               "classification")
        recorded = mlflow.get_run(logged["run_id"]).data.tags[ARTIFACT_DIGEST]
        client = mlflow.MlflowClient()
        location = logged_model_location(client, logged["model_uri"].removeprefix("models:/"))
        assert recorded.startswith("sha256:") and recorded == uri_digest(location)
    finally:
        mlflow.set_tracking_uri(previous)
