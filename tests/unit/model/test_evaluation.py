"""nbprod.model.evaluation: holdout metrics, baseline, the evaluation record, permutation importance."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.inspection import permutation_importance

from nbprod.model import evaluation
from nbprod.model.features import FeatureBuilder
from nbprod.model.models import Candidate, make_model

from ..helpers import tiny_frame


def test_holdout_results_at_each_models_own_threshold():
    y = np.array([0, 1, 1])
    scores = {"a": np.array([0.2, 0.3, 0.9]), "b": np.array([0.2, 0.3, 0.9])}
    results = evaluation.holdout_results(scores, y, "classification", {"a": 0.25})
    assert results["a"]["accuracy"] == 1.0 and results["a"]["threshold"] == 0.25
    assert results["b"]["accuracy"] == pytest.approx(2 / 3) and results["b"]["threshold"] == 0.5


def test_holdout_scores_of_fitted_models():
    frame = tiny_frame(30)
    X, y = frame.drop(columns="y"), frame["y"]
    model = make_model(Candidate("lin", "linear"), "classification", FeatureBuilder(), seed=0).fit(X, y)
    scores = evaluation.holdout_scores({"lin": model}, X.head(5), "classification")
    assert scores["lin"].shape == (5,) and ((0 <= scores["lin"]) & (scores["lin"] <= 1)).all()


def test_baseline_result_classification_is_uninformative():
    result = evaluation.baseline_result(np.array([0, 0, 0, 1]), np.array([0, 1, 1, 0, 1]), "classification")
    assert result["roc_auc"] == 0.5
    assert result["threshold"] == 0.25
    assert result["accuracy"] == pytest.approx(0.6)  # everything predicted positive


def test_baseline_result_regression_predicts_the_training_mean():
    result = evaluation.baseline_result(np.array([1.0, 3.0]), np.array([2.0, 4.0]), "regression")
    assert result == pytest.approx({"mae": 1.0, "rmse": np.sqrt(2.0), "r2": -1.0})


def record(metric="roc_auc"):
    index = {name: {"run_id": f"run-{name}", "model_uri": f"models:/{name}", "threshold": 0.4, "path": "x"}
             for name in ("a", "b")}
    results = {"a": {"roc_auc": 0.7, "log_loss": 0.5}, "b": {"roc_auc": 0.8, "log_loss": 0.6}}
    return evaluation.evaluation_record("classification", metric, "late", "test", index, results,
                                        {"roc_auc": 0.5, "log_loss": 0.69})


def test_evaluation_record_picks_the_best_in_the_metrics_direction():
    assert record("roc_auc")["best"] == "b" and record("roc_auc")["greater_is_better"] is True
    assert record("log_loss")["best"] == "a" and record("log_loss")["greater_is_better"] is False


def test_evaluation_record_contents():
    data = record()
    assert {key: data[key] for key in ("task", "metric", "target", "holdout")} == {
        "task": "classification", "metric": "roc_auc", "target": "late", "holdout": "test"}
    assert data["candidates"]["a"] == {"run_id": "run-a", "model_uri": "models:/a", "threshold": 0.4,
                                       "metrics": {"roc_auc": 0.7, "log_loss": 0.5}}
    assert data["baseline"] == {"metrics": {"roc_auc": 0.5, "log_loss": 0.69}}


def test_importance_ranks_the_informative_raw_column_first():
    frame = tiny_frame(50)
    X, y = frame.drop(columns="y"), frame["y"]
    model = make_model(Candidate("lin", "linear"), "classification", FeatureBuilder(), seed=0).fit(X, y)
    result = evaluation.importance(model, X, y, "classification", rows=40, repeats=2, seed=0)
    assert isinstance(result, pd.Series)
    assert set(result.index) == set(X.columns)  # raw inputs, not encoded features
    assert result.index[0] == "x" and result["x"] > 0.1
    assert result.is_monotonic_decreasing


def test_importance_regression_and_more_rows_than_the_holdout():
    frame = tiny_frame(30)
    X, y = frame.drop(columns="y"), 2 * frame["x"]
    model = make_model(Candidate("ridge", "linear"), "regression", FeatureBuilder(), seed=0).fit(X, y)
    result = evaluation.importance(model, X, y, "regression", rows=1000, repeats=2, seed=0)
    assert result.index[0] == "x" and result["x"] > 0


def test_importance_of_boosted_trees_on_one_thread_equals_sklearns_own_run():
    frame = tiny_frame(80)
    X, y = frame.drop(columns="y"), frame["y"]
    candidate = Candidate("hgb", "hist_gradient_boosting", {"max_iter": 20})
    model = make_model(candidate, "classification", FeatureBuilder(), seed=0).fit(X, y)
    result = evaluation.importance(model, X, y, "classification", rows=60, repeats=2, seed=0)
    sample = X.sample(n=60, random_state=0)
    direct = permutation_importance(model, sample, y.loc[sample.index], scoring="roc_auc", n_repeats=2,
                                    random_state=0, n_jobs=1)  # at the machine's own OpenMP thread count
    assert result.to_dict() == pd.Series(direct.importances_mean, index=X.columns).to_dict()
    assert result["x"] > 0


def test_load_candidates_reads_each_file_beside_the_index_wherever_the_folder_went(tmp_path):
    joblib.dump({"model": 1}, tmp_path / "a.joblib")
    index = tmp_path / "candidates.json"
    assert evaluation.load_candidates({"a": {"path": "a.joblib"}}, index) == {"a": {"model": 1}}
    moved = tmp_path.rename(tmp_path.with_name("moved"))
    assert evaluation.load_candidates({"a": {"path": "a.joblib"}}, moved / "candidates.json") == {"a": {"model": 1}}


def test_load_candidates_takes_a_whole_path_an_older_index_recorded(tmp_path):
    joblib.dump({"model": 1}, tmp_path / "a.joblib")
    index = {"a": {"path": str(tmp_path / "a.joblib")}}
    assert evaluation.load_candidates(index, tmp_path / "elsewhere" / "candidates.json") == {"a": {"model": 1}}


def test_scores_by_run_keys_each_candidates_scores_by_its_run():
    frame = evaluation.scores_by_run({"a": np.array([0.1, 0.9]), "b": np.array([0.5, 0.4])},
                                     {"a": {"run_id": "r1"}, "b": {"run_id": "r2"}})
    assert list(frame.columns) == ["r1", "r2"] and frame["r2"].tolist() == [0.5, 0.4]


def three_class_frame(rows: int = 60) -> pd.DataFrame:
    """``x`` separates the classes "a" < "b" < "c"; ``z`` is noise."""
    x = np.linspace(0, 3, rows, endpoint=False)
    return pd.DataFrame({"x": x, "z": np.random.default_rng(0).normal(size=rows),
                         "y": np.array(["a", "b", "c"])[x.astype(int)]})


def test_holdout_scores_of_a_multiclass_model_are_its_probability_matrix():
    frame = three_class_frame()
    X, y = frame.drop(columns="y"), frame["y"]
    model = make_model(Candidate("lin", "linear"), "classification", FeatureBuilder(), seed=0).fit(X, y)
    scores = evaluation.holdout_scores({"lin": model}, X, "classification")
    assert scores["lin"].shape == (60, 3) and np.allclose(scores["lin"].sum(axis=1), 1.0)
    results = evaluation.holdout_results(scores, y.to_numpy(), "classification", {"lin": None},
                                         classes=["a", "b", "c"])
    assert results["lin"]["roc_auc"] > 0.95 and "threshold" not in results["lin"]


def test_holdout_scores_of_text_labels_are_the_named_positive_class():
    frame = tiny_frame(30).assign(y=lambda f: np.where(f["y"] == 1, "Yes", "No"))
    X, y = frame.drop(columns="y"), frame["y"]
    model = make_model(Candidate("lin", "linear"), "classification", FeatureBuilder(), seed=0).fit(X, y)
    yes = evaluation.holdout_scores({"lin": model}, X, "classification", "Yes")["lin"]
    no = evaluation.holdout_scores({"lin": model}, X, "classification", "No")["lin"]
    assert np.allclose(yes + no, 1.0)
    results = evaluation.holdout_results({"lin": yes}, y.to_numpy(), "classification", {"lin": 0.5}, "Yes")
    assert results["lin"]["roc_auc"] > 0.95 and results["lin"]["accuracy"] > 0.9


def test_baseline_result_multiclass_predicts_the_class_priors():
    result = evaluation.baseline_result(np.array(["a", "a", "b", "c"]), np.array(["a", "b", "c", "a"]),
                                        "classification", ["a", "b", "c"])
    assert result["roc_auc"] == 0.5 and result["accuracy"] == 0.5  # always "a"
    assert result["log_loss"] == pytest.approx(-(2 * np.log(0.5) + 2 * np.log(0.25)) / 4)


def test_baseline_result_binary_labels_on_the_positive_class():
    result = evaluation.baseline_result(np.array(["No", "No", "No", "Yes"]), np.array(["No", "Yes", "Yes", "No"]),
                                        "classification", ["No", "Yes"], "Yes")
    assert result["threshold"] == 0.25 and result["roc_auc"] == 0.5 and result["accuracy"] == 0.5


def test_scores_by_run_of_a_multiclass_model_has_a_column_per_class_and_reads_back():
    proba = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    frame = evaluation.scores_by_run({"m": proba, "b": np.array([0.1, 0.2])},
                                     {"m": {"run_id": "r1"}, "b": {"run_id": "r2"}}, ["a", "b", 3])
    assert list(frame.columns) == ['r1:"a"', 'r1:"b"', "r1:3", "r2"]
    assert np.array_equal(evaluation.run_scores(frame, "r1", ["a", "b", 3]), proba)
    assert evaluation.run_scores(frame, "r2").tolist() == [0.1, 0.2]


def test_per_class_table_of_the_best_model():
    binary = evaluation.per_class(np.array(["No", "Yes", "Yes"]), np.array([0.2, 0.4, 0.9]), ["No", "Yes"], "Yes",
                                  0.3)
    assert binary.loc["Yes"].to_dict() == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2}
    multi = evaluation.per_class(np.array(["a", "b", "c"]), np.eye(3)[[0, 1, 1]], ["a", "b", "c"])
    assert multi["recall"].to_dict() == {"a": 1.0, "b": 1.0, "c": 0.0}
    assert multi.loc["b", "precision"] == 0.5 and multi["support"].tolist() == [1, 1, 1]


def test_importance_of_a_multiclass_model():
    frame = three_class_frame()
    X, y = frame.drop(columns="y"), frame["y"]
    model = make_model(Candidate("lin", "linear"), "classification", FeatureBuilder(), seed=0).fit(X, y)
    result = evaluation.importance(model, X, y, "classification", rows=60, repeats=2, seed=0)
    assert result.index[0] == "x" and result["x"] > 0.1


def test_evaluation_record_names_the_classes_and_the_positive_class():
    index = {"a": {"run_id": "r", "model_uri": "m", "threshold": 0.4}}
    data = evaluation.evaluation_record("classification", "roc_auc", "y", "test", index, {"a": {"roc_auc": 0.7}},
                                        {"roc_auc": 0.5}, [np.int64(0), np.int64(1)], np.int64(1))
    assert data["classes"] == [0, 1] and data["positive_class"] == 1 and type(data["positive_class"]) is int


def test_evaluation_record_names_a_holdout_in_its_folder_relative_to_it(tmp_path):
    index = {"a": {"run_id": "r", "model_uri": "m", "threshold": 0.4}}
    record = tmp_path / "build" / "evaluation.json"

    def holdout_of(path) -> str:
        return evaluation.evaluation_record("classification", "roc_auc", "y", str(path), index, {"a": {"roc_auc": 0.7}},
                                            {"roc_auc": 0.5}, record_file=record)["holdout"]

    assert holdout_of(tmp_path / "build" / "data" / "test.parquet") == "data/test.parquet"
    assert holdout_of(tmp_path / "elsewhere" / "test.parquet") == str(tmp_path / "elsewhere" / "test.parquet")
