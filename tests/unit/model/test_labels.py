"""ClassLabels: a loaded classifier's classes, positive class and predictions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nbprod.model.labels import ClassLabels, label_text, labels_text

PROBABILITIES = np.array([[0.7, 0.3], [0.35, 0.65], [0.5, 0.5]])


def test_labels_compare_by_their_text():
    assert [label_text(v) for v in (1, 1.0, "1", np.int64(1), True, np.bool_(False), "Yes")] == \
        ["1", "1", "1", "1", "True", "False", "Yes"]
    assert label_text(None) is None and label_text(float("nan")) is None
    assert labels_text(np.array([0.0, np.nan, 2.5])).tolist() == ["0", None, "2.5"]


def test_binary_predicts_the_positive_class_at_the_threshold_whichever_column_it_is():
    yes = ClassLabels.of(np.array(["No", "Yes"]), "Yes")
    assert yes.predict(PROBABILITIES, 0.5).tolist() == ["No", "Yes", "Yes"]
    assert yes.predict(PROBABILITIES, 0.6).tolist() == ["No", "Yes", "No"]
    no = ClassLabels.of(np.array(["No", "Yes"]), "No")  # the positive class is the first column
    assert no.positive_index == 0 and no.positive_scores(PROBABILITIES).tolist() == [0.7, 0.35, 0.5]
    assert no.predict(PROBABILITIES, 0.6).tolist() == ["No", "Yes", "Yes"]


def test_zero_one_model_keeps_today_answers():
    labels = ClassLabels.of(np.array([0, 1]))
    predicted = labels.predict(PROBABILITIES, 0.5)
    assert labels.positive == 1 and predicted.dtype == np.int64 and predicted.tolist() == [0, 1, 1]
    assert labels.to_dict() == {"classes": [0, 1], "positive_class": 1} and labels.to_json() == "[0, 1]"


def test_multiclass_predicts_the_most_probable_class_and_has_no_positive_class():
    labels = ClassLabels.of(np.array(["setosa", "versicolor", "virginica"]))
    predicted = labels.predict(np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]]), 0.99)
    assert predicted.tolist() == ["versicolor", "setosa"] and labels.positive is None and not labels.binary
    assert labels.to_dict() == {"classes": ["setosa", "versicolor", "virginica"]}
    with pytest.raises(ValueError, match="no positive class"):
        labels.positive_scores(np.eye(3))


def test_positive_class_from_the_version_tag_else_the_run_tag_else_the_greater_label():
    tags = {"nbprod.positive_class": json.dumps(False)}
    assert ClassLabels.from_tags([False, True], None, tags).positive is False
    assert ClassLabels.from_tags([False, True], {"nbprod.positive_class": "true"}, tags).positive is True
    assert ClassLabels.from_tags(["No", "Yes"], {}, None).positive == "Yes"
    with pytest.raises(ValueError, match="'Maybe'"):
        ClassLabels.of(["No", "Yes"], "Maybe")
    with pytest.raises(ValueError, match="at least two classes"):
        ClassLabels.of(["Yes"])
