"""The compiled boosting model predicts exactly what scikit-learn predicts, on every kind of input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression

from threadpoolctl import threadpool_limits

from nbprod.model import compiled as compiled_module
from nbprod.model.compiled import compile_boosting


def _table(rows: int, seed: int) -> np.ndarray:
    """Two numeric columns (with missing values) and two category-code columns (with gaps and missing)."""
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(rows, 2))
    numeric[rng.random((rows, 2)) < 0.1] = np.nan
    codes = rng.choice([0.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0], size=(rows, 2))
    codes[rng.random((rows, 2)) < 0.05] = np.nan
    return np.column_stack([codes[:, 0], numeric[:, 0], codes[:, 1], numeric[:, 1]])


def _target(X: np.ndarray, classes: int) -> np.ndarray:
    score = np.nan_to_num(X[:, 1]) + (np.nan_to_num(X[:, 0]) % 3 == 1) - 0.5 * (np.nan_to_num(X[:, 2]) > 4)
    if classes == 0:
        return score
    return np.digitize(score, np.quantile(score, np.linspace(0, 1, classes + 1)[1:-1]))


CATEGORICAL = np.array([True, False, True, False])


@pytest.fixture(autouse=True)
def one_thread():
    """Small fits: OpenMP's thread team costs more than it saves (and spins on a busy machine)."""
    with threadpool_limits(limits=1):
        yield


def _unseen(X: np.ndarray) -> np.ndarray:
    """Rows the training never saw: unseen and negative codes, huge numbers, all missing."""
    odd = X[:6].copy()
    odd[0, 0] = 4.0           # a code between training codes
    odd[1, 2] = 99.0          # above every training code
    odd[2, 0] = -1.0          # negative: treated as missing
    odd[3, 1] = 1e300
    odd[4, :] = np.nan
    odd[5, 3] = -1e300
    return odd


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("categorical", [CATEGORICAL, None])
def test_classifier_probabilities_equal_scikit_learns(classes, categorical):
    X = _table(1500, 0)
    model = HistGradientBoostingClassifier(max_iter=25, max_leaf_nodes=15, categorical_features=categorical,
                                           random_state=0).fit(X, _target(X, classes))
    compiled = compile_boosting(model)
    for rows in (_table(500, 1), _table(1, 2), _unseen(X)):
        np.testing.assert_allclose(compiled.predict_proba(rows), model.predict_proba(rows), rtol=1e-12, atol=1e-12)


def test_trees_after_the_last_categorical_split_are_walked():
    """The project's pipelines on a weak category column (``shaped_models``): the last trees split on numbers
    only, so their nodes' bitset index points past the last category set."""
    from shaped_models import shaped_rows, three_class_model, yes_no_model

    for model in (yes_no_model(), three_class_model()):
        builder, estimator = model.steps[0][1], model.steps[1][1].estimator_
        features = builder.encode_columns(shaped_rows(64, seed=3)[["x", "z", "c"]].to_dict("list"))
        np.testing.assert_allclose(compile_boosting(estimator).predict_proba(features),
                                   estimator.predict_proba(features), rtol=0, atol=1e-12)


def test_regressor_values_equal_scikit_learns():
    X = _table(1500, 0)
    model = HistGradientBoostingRegressor(max_iter=25, categorical_features=CATEGORICAL, random_state=0)
    model.fit(X, _target(X, 0))
    compiled = compile_boosting(model)
    for rows in (_table(500, 1), _unseen(X)):
        np.testing.assert_allclose(compiled.predict(rows), model.predict(rows), rtol=1e-12, atol=1e-12)


def test_a_model_of_another_kind_is_not_compiled():
    X = np.nan_to_num(_table(100, 0))
    assert compile_boosting(LogisticRegression().fit(X, _target(X, 2))) is None
    assert compile_boosting(HistGradientBoostingClassifier()) is None  # not fitted


@pytest.fixture(params=["step table", "node by node"])
def walk(request, monkeypatch) -> str:
    """Both walks: the step table, and the node-by-node walk kept for models whose table is too large."""
    if request.param == "node by node":
        monkeypatch.setattr(compiled_module, "STEP_TABLE_BYTES", 0)
    return request.param


def _extremes(X: np.ndarray) -> np.ndarray:
    """Rows beyond every threshold and category (scikit-learn refuses infinities, as the service does)."""
    odd = X[:8].copy()
    odd[0, 1], odd[1, 3] = 1e308, -1e308
    odd[2, 1], odd[3, 3] = 5e-324, -5e-324
    odd[4, 0], odd[5, 2] = 1e300, -1e300    # categories far from any code
    odd[6, 0], odd[7, 2] = 255.0, 256.0     # codes past the last training category
    return odd


@pytest.mark.parametrize("classes", [0, 2, 3])
def test_both_walks_equal_scikit_learn_at_the_thresholds(walk, classes):
    X = _table(2000, 4)
    kind = HistGradientBoostingRegressor if classes == 0 else HistGradientBoostingClassifier
    model = kind(max_iter=30, max_leaf_nodes=31, categorical_features=CATEGORICAL, random_state=0)
    model.fit(X, _target(X, classes))
    compiled = compile_boosting(model)
    assert (compiled.step is not None) == (walk == "step table")
    nodes = np.concatenate([predictor.nodes for iteration in model._predictors for predictor in iteration])
    split = (nodes["is_leaf"] == 0) & (nodes["is_categorical"] == 0) & np.isfinite(nodes["num_threshold"])
    thresholds = np.unique(nodes["num_threshold"][split])
    assert thresholds.size > 20
    at_split = np.repeat(X[:1], thresholds.size, axis=0)
    at_split[:, 1] = thresholds              # exactly on a split value: goes left, as in scikit-learn
    at_split[:, 3] = np.nextafter(thresholds, np.inf)
    method = "predict" if classes == 0 else "predict_proba"
    for rows in (_table(700, 5), _table(1, 6), _unseen(X), _extremes(X), at_split):
        np.testing.assert_allclose(getattr(compiled, method)(rows), getattr(model, method)(rows),
                                   rtol=1e-12, atol=1e-12)
