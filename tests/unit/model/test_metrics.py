"""nbprod.model.metrics: metrics, thresholds and model selection as pure functions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nbprod.model import metrics


@pytest.mark.parametrize("metric, task, expected", [
    ("auto", "classification", "roc_auc"), ("auto", "regression", "rmse"),
    ("log_loss", "classification", "log_loss"), ("r2", "regression", "r2"),
])
def test_selection_metric(metric, task, expected):
    assert metrics.selection_metric(metric, task) == expected


def test_selection_metric_unknown():
    with pytest.raises(ValueError, match="unknown metric 'auc'"):
        metrics.selection_metric("auc", "classification")


@pytest.mark.parametrize("metric, task", [("rmse", "classification"), ("roc_auc", "regression"),
                                          ("threshold", "classification")])
def test_selection_metric_of_the_other_task(metric, task):
    with pytest.raises(ValueError, match=f"'{metric}'"):
        metrics.selection_metric(metric, task)


def test_best_threshold_maximises_f1():
    # at 0.35: precision 2/3, recall 1, F1 0.8 - better than every other cut
    assert metrics.best_threshold(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == 0.35


def test_best_threshold_of_separable_scores_is_lowest_positive_score():
    assert metrics.best_threshold(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.6, 0.9])) == 0.6


def test_classification_metrics_perfect_and_clipped():
    y = np.array([0, 1, 0, 1])
    result = metrics.classification_metrics(y, np.array([0.0, 1.0, 0.0, 1.0]), threshold=0.5)
    assert result["roc_auc"] == result["pr_auc"] == result["f1"] == result["accuracy"] == 1.0
    assert result["brier"] == 0.0
    assert 0 <= result["log_loss"] < 1e-10
    assert result["threshold"] == 0.5


def test_classification_metrics_apply_the_threshold():
    y, proba = np.array([0, 1, 1]), np.array([0.2, 0.3, 0.9])
    assert metrics.classification_metrics(y, proba, 0.5)["accuracy"] == pytest.approx(2 / 3)
    assert metrics.classification_metrics(y, proba, 0.25)["accuracy"] == 1.0


def test_regression_metrics_known_values():
    result = metrics.regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]))
    assert result == pytest.approx({"mae": 2 / 3, "rmse": math.sqrt(4 / 3), "r2": -1.0})


def test_task_metrics_dispatch_and_accept_lists():
    assert set(metrics.task_metrics("regression", [1, 2], [1, 2])) == {"mae", "rmse", "r2"}
    classification = metrics.task_metrics("classification", [0, 1], [0.2, 0.7])
    assert classification["threshold"] == 0.5 and classification["roc_auc"] == 1.0


def test_every_reported_metric_has_a_direction():
    names = set(metrics.task_metrics("classification", [0, 1], [0.2, 0.7])) - {"threshold"}
    names |= set(metrics.task_metrics("regression", [1, 2], [1, 2]))
    names |= set(metrics.task_metrics("classification", ["a", "b", "c"], np.eye(3), classes=["a", "b", "c"]))
    assert names == set(metrics.GREATER_IS_BETTER)


def test_each_kind_of_target_lists_exactly_the_metrics_it_reports():
    assert set(metrics.TASK_METRICS["binary"]) == set(metrics.task_metrics("classification", [0, 1], [0.2, 0.7])) - {
        "threshold"}
    assert set(metrics.TASK_METRICS["multiclass"]) == set(
        metrics.task_metrics("classification", ["a", "b", "c"], np.eye(3), classes=["a", "b", "c"]))


def test_pick_best_follows_the_metric_direction():
    results = {"a": {"rmse": 2.0, "roc_auc": 0.7}, "b": {"rmse": 1.0, "roc_auc": 0.6},
               "c": {"rmse": 3.0, "roc_auc": 0.9}}
    assert metrics.pick_best(results, "rmse") == "b"
    assert metrics.pick_best(results, "roc_auc") == "c"


def test_pick_best_of_nothing():
    with pytest.raises(ValueError, match="no candidates"):
        metrics.pick_best({}, "rmse")


def test_pick_best_never_picks_a_nan_metric():
    assert metrics.pick_best({"broken": {"rmse": float("nan")}, "ok": {"rmse": 1.0}}, "rmse") == "ok"


def test_naive_scores_are_the_training_mean():
    assert metrics.naive_scores("classification", np.array([0, 1, 1, 1]), 3).tolist() == [0.75] * 3
    assert metrics.naive_scores("regression", np.array([2.0, 4.0]), 2).tolist() == [3.0, 3.0]


@pytest.mark.parametrize("metric, expected", [("auto", "roc_auc"), ("f1_macro", "f1_macro"),
                                              ("log_loss", "log_loss")])
def test_selection_metric_multiclass(metric, expected):
    assert metrics.selection_metric(metric, "classification", multiclass=True) == expected


@pytest.mark.parametrize("metric, multiclass", [("f1", True), ("pr_auc", True), ("f1_macro", False)])
def test_selection_metric_of_the_other_kind_of_classification(metric, multiclass):
    kind = "multiclass" if multiclass else "binary"
    with pytest.raises(ValueError, match=f"metric '{metric}' does not apply to {kind} classification"):
        metrics.selection_metric(metric, "classification", multiclass)


def test_classification_metrics_of_text_labels_on_the_positive_class():
    y = np.array(["No", "Yes", "Yes", "No"])
    proba = np.array([0.1, 0.8, 0.6, 0.7])
    assert metrics.classification_metrics(y, proba, 0.65, "Yes") == pytest.approx(
        metrics.classification_metrics(np.array([0, 1, 1, 0]), proba, 0.65))
    assert metrics.classification_metrics(y, 1 - proba, 0.35, "No")["roc_auc"] == 0.75


def test_multiclass_metrics_known_values():
    y = np.array(["a", "b", "c", "c"])
    proba = np.array([[0.8, 0.1, 0.1], [0.1, 0.6, 0.3], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8]])
    result = metrics.multiclass_metrics(y, proba, ["a", "b", "c"])
    assert result["accuracy"] == 0.75 and result["balanced_accuracy"] == pytest.approx((1 + 1 + 0.5) / 3)
    # class c against the rest: positives scored 0.3 and 0.8, negatives 0.1 and 0.3 (a tie): AUC 3.5 / 4
    assert result["roc_auc"] == pytest.approx((1 + 1 + 0.875) / 3)
    assert result["roc_auc_weighted"] == pytest.approx((1 + 1 + 2 * 0.875) / 4)
    assert result["log_loss"] == pytest.approx(-np.log([0.8, 0.6, 0.3, 0.8]).mean())
    assert result["brier"] == pytest.approx(np.mean([0.06, 0.26, 0.78, 0.06]))
    assert result["f1_macro"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)


def test_multiclass_metrics_of_integer_labels_and_an_absent_class():
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.3, 0.4, 0.3]])
    result = metrics.task_metrics("classification", y, proba, classes=[0, 1, 2])
    assert result["roc_auc"] == 1.0  # class 2 never occurs: left out of the average
    assert result["accuracy"] == 1.0


def test_task_metrics_of_a_two_column_matrix_use_the_positive_column():
    proba = np.array([[0.9, 0.1], [0.3, 0.7]])
    assert metrics.task_metrics("classification", ["No", "Yes"], proba, 0.8, "Yes", ["No", "Yes"])["f1"] == 0.0
    assert metrics.task_metrics("classification", ["No", "Yes"], proba, 0.8, "No", ["No", "Yes"])["f1"] == 1.0


def test_naive_scores_of_labels():
    assert metrics.naive_scores("classification", np.array(["No", "Yes", "No", "No"]), 2,
                                positive_class="Yes").tolist() == [0.25, 0.25]
    priors = metrics.naive_scores("classification", np.array(["a", "b", "b", "c"]), 2, ["a", "b", "c"])
    assert priors.tolist() == [[0.25, 0.5, 0.25]] * 2


def test_per_class_table():
    table = metrics.per_class_table([1, 2, 2], [1, 2, 1], [1, 2, 3])
    assert table.index.tolist() == ["1", "2", "3"]
    assert table.loc["1"].to_dict() == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(0.6667), "support": 1}
    assert table.loc["3", "support"] == 0


def test_class_tags():
    assert metrics.class_tags(["No", "Yes"], "Yes") == {metrics.CLASSES_TAG: '["No", "Yes"]',
                                                        metrics.POSITIVE_CLASS_TAG: '"Yes"'}
    assert metrics.class_tags([0, 1]) == {metrics.CLASSES_TAG: "[0, 1]", metrics.POSITIVE_CLASS_TAG: "1"}
    assert metrics.class_tags(["a", "b", "c"], None) == {metrics.CLASSES_TAG: '["a", "b", "c"]'}
    assert metrics.class_tags(None) == {}


def test_classes_from_tags_round_trip_and_fall_back_to_the_model():
    from sklearn.linear_model import LogisticRegression

    assert metrics.classes_from_tags(metrics.class_tags(["No", "Yes"], "No")) == (["No", "Yes"], "No")
    assert metrics.classes_from_tags(metrics.class_tags([False, True], True)) == ([False, True], True)
    assert metrics.classes_from_tags(metrics.class_tags(["a", "b", "c"])) == (["a", "b", "c"], None)
    older = LogisticRegression().fit([[0.0], [1.0], [0.0]], [0, 1, 0])  # registered before the tags
    assert metrics.classes_from_tags({}, older) == ([0, 1], 1)
    assert metrics.classes_from_tags({}, None) == (None, None)
