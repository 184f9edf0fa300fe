"""nbprod.model.classes: raw class labels, the positive class and its scores."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, Ridge

from nbprod.model import classes as cl


def fitted(labels: list) -> LogisticRegression:
    """A logistic model on one feature, fit on ``labels`` (each label's rows at its own x)."""
    codes = {label: index for index, label in enumerate(dict.fromkeys(labels))}
    X = pd.DataFrame({"x": [float(codes[label]) for label in labels]})
    return LogisticRegression().fit(X, labels)


def test_classes_of_a_classifier_are_plain_sorted_labels_and_none_for_a_regressor():
    model = fitted(["No", "Yes", "No", "Yes"])
    assert cl.classes_of(model) == ["No", "Yes"]
    assert type(cl.classes_of(fitted([0, 1, 0, 1]))[0]) is int
    assert cl.classes_of(Ridge().fit([[0.0], [1.0]], [0.0, 1.0])) is None


def test_is_multiclass_from_three_classes():
    assert cl.is_multiclass(["a", "b", "c"])
    assert not cl.is_multiclass([0, 1])
    assert not cl.is_multiclass(None)


@pytest.mark.parametrize("classes, positive, expected", [
    (["No", "Yes"], "Yes", 1), (["No", "Yes"], "No", 0), ([0, 1], 1, 1), ([0, 1], np.int64(0), 0),
    ([False, True], True, 1), (["<=50K", ">50K"], ">50K", 1),
    ([0, 1], "1", 1),  # a label typed as text (a settings file, a tag) names the number
    (["No", "Yes"], True, 1), (["No", "Yes"], False, 0),  # YAML reads a bare Yes / No as a boolean
])
def test_positive_index(classes, positive, expected):
    assert cl.positive_index(classes, positive) == expected


def test_positive_index_tells_true_from_one():
    assert cl.positive_index([1, True], True) == 1
    assert cl.positive_index([True, 1], 1) == 1


def test_positive_index_of_an_unknown_label_names_it_and_the_classes():
    with pytest.raises(ValueError, match=r"positive class 'maybe' is not one of the target's classes \['No', 'Yes'\]"):
        cl.positive_index(["No", "Yes"], "maybe")


def test_positive_scores_take_the_positive_column_whatever_its_position():
    model = fitted(["No", "Yes", "No", "Yes"])
    X = pd.DataFrame({"x": [0.0, 1.0]})
    proba = model.predict_proba(X)
    assert np.allclose(cl.positive_scores(model, X, "Yes"), proba[:, 1])
    assert np.allclose(cl.positive_scores(model, X, "No"), proba[:, 0])
    assert np.allclose(cl.positive_scores(model, X), proba[:, 1])  # None: the greater label


def test_positive_scores_refuse_a_multiclass_model():
    with pytest.raises(ValueError, match="binary classifier"):
        cl.positive_scores(fitted(["a", "b", "c"]), pd.DataFrame({"x": [0.0]}), "a")


def test_predicted_labels_binary_at_the_threshold_on_the_positive_class():
    proba = np.array([[0.7, 0.3], [0.2, 0.8]])
    assert cl.predicted_labels(proba, ["No", "Yes"], "Yes", 0.5).tolist() == ["No", "Yes"]
    assert cl.predicted_labels(proba, ["No", "Yes"], "Yes", 0.25).tolist() == ["Yes", "Yes"]
    assert cl.predicted_labels(proba, ["No", "Yes"], "No", 0.5).tolist() == ["No", "Yes"]
    assert cl.predicted_labels(proba[:, 0], ["No", "Yes"], "No", 0.75).tolist() == ["Yes", "Yes"]


def test_predicted_labels_multiclass_are_the_most_probable():
    proba = np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]])
    assert cl.predicted_labels(proba, ["a", "b", "c"]).tolist() == ["b", "a"]


def test_indicator_marks_the_positive_rows():
    assert cl.indicator(["Yes", "No", "Yes"], "Yes").tolist() == [1, 0, 1]
    assert cl.indicator(np.array([0, 1, 1]), 1).tolist() == [0, 1, 1]
    assert cl.indicator([1, 0], "1").tolist() == [1, 0]
    assert cl.indicator(["No", "No"], "Yes").tolist() == [0, 0]  # no positive row at all
    assert cl.indicator([True, False, True], True).tolist() == [1, 0, 1]


def test_class_counts_are_sorted_by_label_and_skip_missing():
    counts = cl.class_counts(pd.Series(["b", "a", None, "b"]))
    assert counts.to_dict() == {"a": 1, "b": 2}
    assert list(counts.index) == ["a", "b"]
    assert cl.class_counts(pd.Series([True, False, True])).to_dict() == {False: 1, True: 2}
    assert cl.class_counts(pd.Series([], dtype=object)).empty


@pytest.mark.parametrize("y, expected", [
    (["No", "No", "Yes"], "Yes"), (["No", "Yes", "Yes"], "No"), ([0, 0, 1, 1], 1), ([True, False, False], True),
    (pd.Series([0.0, 1.0, np.nan, 0.0]), 1.0),
])
def test_infer_positive_class_is_the_minority(y, expected):
    assert cl.infer_positive_class(y) == expected


def test_resolve_positive_class_checks_an_explicit_value():
    assert cl.resolve_positive_class(["No", "Yes", "Yes"], "Yes") == "Yes"
    assert cl.resolve_positive_class([0, 1, 1], "1") == 1  # spelled as the data's label
    assert cl.resolve_positive_class(["No", "Yes", "Yes"]) == "No"
    with pytest.raises(ValueError, match=r"data.positive_class 'maybe' is not one of the target's classes "
                                         r"\['No', 'Yes'\]"):
        cl.resolve_positive_class(["No", "Yes"], "maybe")


def test_resolve_positive_class_of_a_multiclass_target():
    assert cl.resolve_positive_class(["a", "b", "c"]) is None
    with pytest.raises(ValueError, match="applies to binary targets only; the target has 3 classes"):
        cl.resolve_positive_class(["a", "b", "c"], "a")


@pytest.mark.parametrize("label", ["Yes", 1, True, np.int64(0), ">50K"])
def test_labels_round_trip_through_json(label):
    text = cl.label_to_json(label)
    assert json.loads(text) == label
    assert cl.label_from_json(text) == cl.to_label(label)
    assert cl.label_from_json(cl.classes_to_json([label, "x"])) == [cl.to_label(label), "x"]
    assert cl.label_from_json(None) is None
