"""nbprod.model.models: the candidate grid and fitting every candidate behind the shared FeatureBuilder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline

from nbprod.model import models
from nbprod.model.features import FeatureBuilder
from nbprod.model.models import (CategoryCodesBoosting, Candidate, category_codes, expand_grid, fit_candidates, make_model,
                           predict_scores)

from ..helpers import tiny_frame

GRID = [
    {"name": "linear", "kind": "linear", "params": {"C": [0.1, 1.0]}},
    {"name": "hgb", "kind": "hist_gradient_boosting",
     "params": {"learning_rate": [0.1], "max_iter": [10], "max_leaf_nodes": [7, 15]}},
]


def test_expand_grid_names_and_counts():
    candidates = expand_grid(GRID)
    assert [c.name for c in candidates] == [
        "linear-C=0.1", "linear-C=1.0",
        "hgb-learning_rate=0.1-max_iter=10-max_leaf_nodes=7", "hgb-learning_rate=0.1-max_iter=10-max_leaf_nodes=15",
    ]
    assert candidates[1] == Candidate("linear-C=1.0", "linear", {"C": 1.0})
    assert candidates[3].params == {"learning_rate": 0.1, "max_iter": 10, "max_leaf_nodes": 15}


def test_expand_grid_without_params_and_with_scalar_params():
    candidates = expand_grid([{"name": "plain", "kind": "linear"},
                              {"name": "none", "kind": "linear", "params": None},
                              {"name": "scalar", "kind": "linear", "params": {"C": 2.0, "tol": [1e-4, 1e-3]}}])
    assert [c.name for c in candidates] == ["plain", "none", "scalar-C=2.0-tol=0.0001", "scalar-C=2.0-tol=0.001"]
    assert candidates[0].params == {}


def test_expand_grid_of_empty_list_value_yields_no_candidate():
    assert expand_grid([{"name": "empty", "kind": "linear", "params": {"C": []}}]) == []


def test_expand_grid_unknown_kind_names_candidate_and_known_kinds():
    with pytest.raises(ValueError, match=r"candidate 'forest': unknown kind 'random_forest'.*hist_gradient_boosting"):
        expand_grid([{"name": "forest", "kind": "random_forest"}])


def test_expand_grid_rejects_duplicate_names():
    with pytest.raises(ValueError, match="duplicate"):
        expand_grid([{"name": "m", "kind": "linear"}, {"name": "m", "kind": "hist_gradient_boosting"}])


@pytest.mark.parametrize("kind, params", [("linear", {"max_iter": 50}),
                                          ("hist_gradient_boosting", {"random_state": 1})])
def test_grid_params_may_override_the_factory_defaults(kind, params):
    model = make_model(Candidate("c", kind, params), "classification", FeatureBuilder(), seed=0)
    estimator = getattr(model[-1], "estimator", model[-1])  # boosting is wrapped (category codes)
    assert all(estimator.get_params()[key] == value for key, value in params.items())


def test_make_model_starts_with_a_clone_of_the_builder():
    builder = FeatureBuilder(categorical=["c"])
    model = make_model(Candidate("lin", "linear", {"C": 0.5}), "classification", builder, seed=3)
    assert isinstance(model, Pipeline)
    assert model.steps[0][0] == "features" and model[0] is not builder
    assert model[0].get_params() == builder.get_params()
    assert model[-1].get_params()["C"] == 0.5 and model[-1].get_params()["random_state"] == 3


def test_make_model_regression_linear_is_ridge_with_overridable_alpha():
    model = make_model(Candidate("r", "linear", {"alpha": 3.0}), "regression", FeatureBuilder(), seed=0)
    assert type(model[-1]).__name__ == "Ridge" and model[-1].alpha == 3.0
    default = make_model(Candidate("r", "linear", {}), "regression", FeatureBuilder(), seed=0)
    assert default[-1].alpha == 1.0


def test_fit_candidates_classification_returns_independent_fitted_pipelines():
    frame = tiny_frame(40)
    X, y = frame.drop(columns="y"), frame["y"]
    builder = FeatureBuilder()
    candidates = expand_grid(GRID)
    fitted = fit_candidates(candidates, "classification", builder, X, y, seed=0, n_jobs=1)
    assert list(fitted) == [c.name for c in candidates]
    builders = [model[0] for model in fitted.values()]
    assert len({id(b) for b in builders}) == len(builders)
    assert all(b is not builder for b in builders)
    assert not hasattr(builder, "contract_")  # the template stays unfitted
    assert all(b.contract_.names == list(X.columns) for b in builders)
    for model in fitted.values():
        scores = predict_scores(model, X, "classification")
        assert scores.shape == (len(X),) and ((scores >= 0) & (scores <= 1)).all()
    linear = predict_scores(fitted["linear-C=1.0"], X, "classification")
    assert ((linear > 0.5) == y.astype(bool)).mean() > 0.9  # y depends on x only: easy


def test_fit_candidates_regression():
    frame = tiny_frame(40)
    X, y = frame.drop(columns="y"), 3 * frame["x"] + 1
    grid = [{"name": "ridge", "kind": "linear", "params": {"alpha": [0.01, 1.0]}}, GRID[1]]
    fitted = fit_candidates(expand_grid(grid), "regression", FeatureBuilder(), X, y, seed=0, n_jobs=1)
    assert len(fitted) == 4
    for model in fitted.values():
        predicted = predict_scores(model, X, "regression")
        assert predicted.shape == (len(X),) and np.isfinite(predicted).all()
    assert type(fitted["ridge-alpha=0.01"][-1]).__name__ == "Ridge"
    assert np.abs(predict_scores(fitted["ridge-alpha=0.01"], X, "regression") - y).max() < 0.1


def test_linear_model_without_categorical_columns_fits():
    frame = tiny_frame(30)[["x", "z", "y"]]
    model = make_model(Candidate("lin", "linear"), "classification", FeatureBuilder(), seed=0)
    model.fit(frame[["x", "z"]], frame["y"])
    assert predict_scores(model, frame.head(1), "classification").shape == (1,)


def test_category_codes_keep_numbers_and_turn_missing_categories_into_nan():
    frame = pd.DataFrame({"n": [1.5, np.nan, 3.0],
                          "c": pd.Categorical(["b", None, "a"], categories=["a", "b"])})
    matrix = category_codes(frame)
    assert matrix.dtype == float and matrix.shape == (3, 2)
    np.testing.assert_array_equal(matrix[:, 0], [1.5, np.nan, 3.0])
    np.testing.assert_array_equal(matrix[:, 1], [1.0, np.nan, 0.0])


def test_boosting_on_codes_splits_on_categories_like_sklearns_from_dtype():
    rng = np.random.default_rng(0)
    c = rng.choice(["north", "south", "east", "west"], size=400)
    X = pd.DataFrame({"c": c, "x": rng.normal(size=400)})
    y = (np.isin(c, ["north", "west"]) ^ (rng.random(400) < 0.1)).astype(int)
    params = {"max_iter": 20, "random_state": 0}
    ours = make_model(Candidate("hgb", "hist_gradient_boosting", params), "classification", FeatureBuilder(), 0)
    ours.fit(X, y)
    fitted = ours[-1]
    assert isinstance(fitted, CategoryCodesBoosting) and fitted.categorical_.tolist() == [True, False]
    assert fitted.estimator_.is_categorical_.tolist() == [True, False]
    assert list(fitted.classes_) == [0, 1] and is_classifier(ours)
    builder = FeatureBuilder().fit(X)
    reference = HistGradientBoostingClassifier(categorical_features="from_dtype", **params)
    reference.fit(builder.transform(X), y)
    np.testing.assert_allclose(ours.predict_proba(X), reference.predict_proba(builder.transform(X)), atol=1e-6)
    unseen = pd.DataFrame({"c": ["north", "nowhere", None], "x": [0.0, 0.0, 0.0]})
    scores = ours.predict_proba(unseen)  # unseen and missing categories: the missing-value branch
    assert scores.shape == (3, 2) and np.isfinite(scores).all()


def test_boosting_on_codes_for_regression_has_no_probabilities():
    frame = tiny_frame(40)
    model = make_model(Candidate("hgb", "hist_gradient_boosting", {"max_iter": 10}), "regression",
                       FeatureBuilder(), seed=0).fit(frame.drop(columns="y"), 3 * frame["x"])
    assert is_regressor(model) and not hasattr(model, "predict_proba")
    assert model.predict(frame.head(2)).shape == (2,)


def test_predict_scores_of_text_labels_and_of_three_classes():
    frame = tiny_frame(40)
    X = frame.drop(columns="y")
    text = np.where(frame["y"] == 1, "Yes", "No")
    model = make_model(Candidate("h", "hist_gradient_boosting", {"max_iter": 10}), "classification",
                       FeatureBuilder(), seed=0).fit(X, text)
    assert list(model.classes_) == ["No", "Yes"]
    yes = predict_scores(model, X, "classification", "Yes")
    assert yes.shape == (40,) and np.allclose(yes + predict_scores(model, X, "classification", "No"), 1.0)
    three = np.array(["low", "mid", "high"])[np.digitize(frame["x"], [-0.7, 0.7])]
    model = make_model(Candidate("l", "linear"), "classification", FeatureBuilder(), seed=0).fit(X, three)
    proba = predict_scores(model, X, "classification")
    assert proba.shape == (40, 3) and list(model.classes_) == ["high", "low", "mid"]


def test_fit_candidates_in_worker_processes_give_each_pipeline_fitted_alone():
    # 40,000 rows: the shared features' float block (1.6 MB) is over joblib's 1 MB, so the two worker
    # processes get it memory-mapped, not copied; each candidate must be the model its whole pipeline gives.
    frame = tiny_frame(40_000)
    X, y = frame.drop(columns="y"), frame["y"]
    candidates = expand_grid(GRID)
    fitted = fit_candidates(candidates, "classification", FeatureBuilder(), X, y, seed=0, n_jobs=2)
    for candidate in candidates:
        alone = make_model(candidate, "classification", FeatureBuilder(), seed=0).fit(X, y)
        assert [name for name, _ in fitted[candidate.name].steps] == [name for name, _ in alone.steps]
        assert fitted[candidate.name][0].contract_ == alone[0].contract_
        np.testing.assert_array_equal(predict_scores(fitted[candidate.name], X, "classification"),
                                      predict_scores(alone, X, "classification"))


def test_large_features_are_fitted_one_candidate_at_a_time_in_this_process(monkeypatch):
    # Above PARALLEL_MAX_BYTES each worker would hold its own working copies of the features: the grid is
    # fitted here, one candidate at a time, into the same models.
    frame = tiny_frame(2_000)
    X, y = frame.drop(columns="y"), frame["y"]
    candidates = expand_grid(GRID)
    jobs = []
    fit_estimators = models.fit_estimators
    monkeypatch.setattr(models, "fit_estimators", lambda *args: jobs.append(args[-1]) or fit_estimators(*args))
    parallel = fit_candidates(candidates, "classification", FeatureBuilder(), X, y, seed=0, n_jobs=2)
    monkeypatch.setattr(models, "PARALLEL_MAX_BYTES", models.frame_bytes(X) // 10)
    serial = fit_candidates(candidates, "classification", FeatureBuilder(), X, y, seed=0, n_jobs=2)
    assert jobs == [2, 1]
    for candidate in candidates:
        np.testing.assert_array_equal(predict_scores(serial[candidate.name], X, "classification"),
                                      predict_scores(parallel[candidate.name], X, "classification"))


@pytest.mark.parametrize("rows", [12_000, 10_500])  # 10,500: the training part alone is under "auto"'s 10,000
@pytest.mark.parametrize("target", ["binary", "text classes", "regression"])
def test_boosting_fitted_on_its_own_split_rows_is_the_estimators_model(rows, target):
    frame = tiny_frame(rows)
    X = FeatureBuilder().fit(frame.drop(columns="y")).transform(frame.drop(columns="y"))
    y = {"binary": frame["y"], "regression": frame["x"] * 2 + (frame["y"] - 0.5),
         "text classes": pd.Series(np.array(["low", "mid", "high"])[np.digitize(frame["x"], [-0.5, 0.5])])}[target]
    kind = HistGradientBoostingRegressor if target == "regression" else HistGradientBoostingClassifier
    estimator = kind(max_iter=30, random_state=7)
    ours = CategoryCodesBoosting(estimator).fit(X, y)
    theirs = clone(estimator).set_params(categorical_features=ours.categorical_).fit(category_codes(X), y)
    assert models.early_stopping_rows(clone(estimator), y) is not None
    assert ours.estimator_.n_iter_ == theirs.n_iter_
    np.testing.assert_array_equal(ours.estimator_.validation_score_, theirs.validation_score_)
    predict = "predict" if target == "regression" else "predict_proba"
    np.testing.assert_array_equal(getattr(ours, predict)(X), getattr(theirs, predict)(category_codes(X)))


def test_boosting_splits_rows_only_as_the_estimator_would():
    y = pd.Series(np.tile([0, 1], 6_000))
    assert models.early_stopping_rows(HistGradientBoostingClassifier(random_state=1), y.head(9_000)) is None
    assert models.early_stopping_rows(HistGradientBoostingClassifier(random_state=None), y) is None
    assert models.early_stopping_rows(HistGradientBoostingClassifier(random_state=1, early_stopping=False), y) is None
    train, valid = models.early_stopping_rows(HistGradientBoostingClassifier(random_state=1), y)
    assert len(valid) == 1_200 and sorted(np.concatenate([train, valid])) == list(range(12_000))
