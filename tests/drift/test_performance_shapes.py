"""Performance drift on raw labels: a Yes/No binary model and a three-class model."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from nbprod.drift import performance_drift, window_metric
from nbprod.model.labels import ClassLabels
from shaped_models import shaped_rows, three_class_model, yes_no_model


@pytest.fixture(scope="module")
def window():
    return shaped_rows(300, seed=1)


def test_binary_text_labels_score_the_positive_class(window):
    model = yes_no_model()
    probabilities = model.predict_proba(window[["x", "z", "c"]])
    classes = ClassLabels.of(model.classes_, "Yes")
    y = (window["yes_no"] == "Yes").to_numpy().astype(int)
    expected = skm.roc_auc_score(y, probabilities[:, 1])
    assert window_metric("roc_auc", window["yes_no"].to_numpy(), probabilities, classes=classes) == expected
    assert window_metric("roc_auc", window["yes_no"].to_numpy(), probabilities[:, 1], classes=classes) == expected
    flagged = (probabilities[:, 1] >= 0.3).astype(int)
    f1 = window_metric("f1", window["yes_no"].to_numpy(), probabilities[:, 1], 0.3, classes)
    assert f1 == skm.f1_score(y, flagged)
    predicted = np.where(flagged == 1, "Yes", "No")  # the logged labels give the same answer
    assert window_metric("f1", window["yes_no"].to_numpy(), predicted, classes=classes) == f1


def test_choosing_the_other_positive_class_scores_it_instead(window):
    model = yes_no_model()
    probabilities = model.predict_proba(window[["x", "z", "c"]])
    as_no = ClassLabels.of(model.classes_, "No")
    y = (window["yes_no"] == "No").to_numpy().astype(int)
    assert window_metric("roc_auc", window["yes_no"].to_numpy(), probabilities, classes=as_no) == \
        skm.roc_auc_score(y, probabilities[:, 0])


def test_multiclass_accuracy_macro_f1_and_one_vs_rest_auc(window):
    model = three_class_model()
    probabilities = model.predict_proba(window[["x", "z", "c"]])
    classes = ClassLabels.of(model.classes_)
    y = window["level"].to_numpy()
    predicted = model.classes_[probabilities.argmax(axis=1)]
    assert window_metric("accuracy", y, probabilities, classes=classes) == skm.accuracy_score(y, predicted)
    assert window_metric("f1", y, predicted, classes=classes) == skm.f1_score(y, predicted, average="macro")
    assert window_metric("roc_auc", y, probabilities, classes=classes) == \
        skm.roc_auc_score(y, probabilities, multi_class="ovr", labels=list(model.classes_))


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_performance_drift_flags_a_shuffled_window_and_not_the_model_own(window, kind):
    model = yes_no_model() if kind == "binary" else three_class_model()
    target = "yes_no" if kind == "binary" else "level"
    classes = ClassLabels.of(model.classes_, "Yes" if kind == "binary" else None)
    probabilities = model.predict_proba(window[["x", "z", "c"]])
    reference = window_metric("roc_auc", window[target].to_numpy(), probabilities, classes=classes)
    same = performance_drift(window[target].to_numpy(), probabilities, reference, "roc_auc", max_drop=0.05,
                             classes=classes)
    assert same.status == "ok" and not same.degraded and same.current == reference
    shuffled = np.random.default_rng(0).permutation(window[target].to_numpy())
    worse = performance_drift(shuffled, probabilities, reference, "roc_auc", max_drop=0.05, classes=classes)
    assert worse.status == "ok" and worse.degraded and worse.drop > 0.2


def test_unlabelled_rows_dropped_and_a_missing_class_makes_multiclass_auc_undefined(window):
    model = three_class_model()
    classes = ClassLabels.of(model.classes_)
    probabilities = model.predict_proba(window[["x", "z", "c"]])
    y = window["level"].to_numpy().astype(object)
    y[:10] = None
    result = performance_drift(y, probabilities, 0.9, "accuracy", classes=classes)
    assert result.n == 290 and result.n_unlabelled == 10 and result.status == "ok"
    two = window["level"].isin(["low", "mid"]).to_numpy()
    undefined = performance_drift(window["level"].to_numpy()[two], probabilities[two], 0.9, "roc_auc",
                                  classes=classes)
    assert undefined.status == "undefined" and "every class" in undefined.reason and not undefined.degraded
    unknown = performance_drift(np.full(5, "huge"), probabilities[:5], 0.9, "accuracy", classes=classes)
    assert unknown.status == "undefined" and "'huge'" in unknown.reason


def test_numeric_labels_match_text_and_float_labels():
    classes = ClassLabels.of(np.array([0, 1]))
    scores = np.array([0.1, 0.9, 0.8, 0.3])
    as_ints = window_metric("roc_auc", np.array([0, 1, 1, 0]), scores, classes=classes)
    assert as_ints == window_metric("roc_auc", np.array(["0", "1", "1", "0"], dtype=object), scores, classes=classes)
    assert as_ints == window_metric("roc_auc", np.array([0.0, 1.0, 1.0, np.nan, 0.0])[[0, 1, 2, 4]], scores,
                                    classes=classes) == 1.0
