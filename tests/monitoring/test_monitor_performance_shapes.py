"""The monitor's performance check on prediction logs of a Yes/No model and a three-class model."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from nbprod.model.labels import ClassLabels
from nbprod.monitoring.check import window_performance
from nbprod.monitoring.monitor import model_scorer
from nbprod.serving.prediction_log import PredictionLogWriter, read_prediction_log
from shaped_models import shaped_rows, three_class_model, yes_no_model

FEATURES = ["x", "z", "c"]


def logged(folder, model, labels, rows, threshold=0.5):
    """``rows`` predicted by ``model`` through the prediction log writer, read back, with their true labels."""
    probabilities = model.predict_proba(rows[FEATURES])
    predictions = labels.predict(probabilities, threshold)
    writer = PredictionLogWriter(folder, flush_rows=10_000, flush_seconds=60)
    half = len(rows) // 2  # two requests, two files: the column types must agree across files
    for start, stop, request in ((0, half, "a"), (half, len(rows), "b")):
        columns = {name: rows[name].iloc[start:stop].tolist() for name in FEATURES}
        writer.append(FEATURES, columns, predictions[start:stop], probabilities[start:stop], "m", "1", request,
                      1.7e9, labels)
        writer.flush()
    writer.close()
    return read_prediction_log(folder), predictions, probabilities


@pytest.fixture(scope="module")
def window():
    return shaped_rows(300, seed=2)


def test_yes_no_log_round_trip_and_its_performance(tmp_path, window):
    model = yes_no_model()
    labels = ClassLabels.of(model.classes_, "Yes")
    log, predictions, probabilities = logged(tmp_path / "log", model, labels, window, threshold=0.35)
    assert log["prediction"].tolist() == predictions.tolist() and set(log["prediction"]) <= {"Yes", "No"}
    assert (log["positive_class"] == "Yes").all()
    log["yes_no"] = window["yes_no"].to_numpy()
    y = (window["yes_no"] == "Yes").astype(int)
    auc = window_performance(log, "yes_no", "classification", "roc_auc", 0.9)
    assert auc == {"metric": "roc_auc", "value": skm.roc_auc_score(y, probabilities[:, 1]), "reference": 0.9}
    f1 = window_performance(log, "yes_no", "classification", "f1", 0.8)  # the served decisions, at 0.35
    assert f1["value"] == skm.f1_score(y, (probabilities[:, 1] >= 0.35).astype(int))


def test_three_class_log_round_trip_and_its_performance(tmp_path, window):
    model = three_class_model()
    labels = ClassLabels.of(model.classes_)
    log, predictions, probabilities = logged(tmp_path / "log", model, labels, window)
    assert log["prediction"].tolist() == predictions.tolist()
    np.testing.assert_array_equal(np.stack(log["probabilities"].to_numpy()), probabilities)
    log["level"] = window["level"].to_numpy()
    y = window["level"].to_numpy()
    accuracy = window_performance(log, "level", "multiclass", "accuracy", None)
    assert accuracy["value"] == skm.accuracy_score(y, predictions)
    auc = window_performance(log, "level", "classification", "roc_auc", None)
    assert auc["value"] == skm.roc_auc_score(y, probabilities, multi_class="ovr", labels=list(model.classes_))
    macro = window_performance(log, "level", "classification", "f1", None)
    assert macro["value"] == skm.f1_score(y, predictions, average="macro")


@pytest.mark.parametrize("target", ["yes_no", "level"])
def test_rows_without_logged_scores_are_scored_by_the_champion(window, target):
    model = yes_no_model() if target == "yes_no" else three_class_model()
    scorer = model_scorer(model, "classification")
    rows = window[[*FEATURES, target]]
    scores = scorer(rows)
    performance = window_performance(rows, target, "classification", "roc_auc", None, scores, scorer.labels)
    probabilities = model.predict_proba(window[FEATURES])
    expected = (skm.roc_auc_score(window[target] == "Yes", probabilities[:, 1]) if target == "yes_no" else
                skm.roc_auc_score(window[target], probabilities, multi_class="ovr", labels=list(model.classes_)))
    assert performance["value"] == expected
    if target == "yes_no":  # accuracy of the scores at the model's own threshold
        cut = window_performance(rows, target, "classification", "accuracy", None, scores, scorer.labels, 0.2)
        assert cut["value"] == np.mean((probabilities[:, 1] >= 0.2) == (window[target] == "Yes"))


def test_a_log_of_0_1_predictions_without_classes_still_scores_class_1(window):
    import pandas as pd

    rows = pd.DataFrame({"prediction": [1, 0, 1, 0], "probability": [0.9, 0.2, 0.7, 0.4], "late": [1, 0, 0, 0]})
    assert window_performance(rows, "late", "classification", "roc_auc", None)["value"] == 1.0
    assert window_performance(rows, "late", "classification", "accuracy", None)["value"] == 0.75


def test_prediction_distribution_drift_of_a_three_class_model(tmp_path):
    import pandas as pd
    import yaml

    from nbprod.monitoring.check import Reference, check_windows, reference_predictions
    from nbprod.monitoring.windows import Window
    from shaped_models import REPO

    settings = yaml.safe_load((REPO / "env.yaml").read_text())
    settings["data"].update(target="level", time_column=None)
    model = three_class_model()
    scorer = model_scorer(model, "classification")
    train = shaped_rows(600, seed=0)
    path = tmp_path / "train.parquet"
    train.to_parquet(path)
    reference = Reference(train[FEATURES], path, FEATURES)
    predicted = reference_predictions(path, scorer)
    assert set(predicted) == {"high", "low", "mid"} and len(predicted) == 600
    labels = ClassLabels.of(model.classes_)
    like = shaped_rows(400, seed=5)
    shifted = like[like["x"] > 0.3]  # mostly "high" and "mid": the predicted shares move
    windows = []
    for day, rows in enumerate((like, shifted)):
        logged = rows[FEATURES].assign(prediction=labels.predict(model.predict_proba(rows[FEATURES]), 0.5))
        windows.append(Window(pd.Timestamp(2024, 1, 1 + day), pd.Timestamp(2024, 1, 2 + day), logged))
    _, entries = check_windows(windows, reference, settings, predicted_reference=predicted)
    same, moved = (entry["prediction_drift"] for entry in entries)
    assert same["method"] == moved["method"] == "jensenshannon"
    assert not same["drifted"] and moved["drifted"] and moved["statistic"] > same["statistic"]
    assert set(moved["shares"]) <= {"high", "mid", "low"} and abs(sum(moved["reference_shares"].values()) - 1) < 1e-9
    assert moved["shares"]["high"] > moved["reference_shares"]["high"]
    _, unscored = check_windows(windows, reference, settings)  # no reference predictions: nothing reported
    assert all("prediction_drift" not in entry for entry in unscored)


def test_the_pipeline_check_reports_the_predicted_classes_of_a_three_class_champion():
    from nbprod.monitoring.report import run_check

    model = three_class_model()
    reference = shaped_rows(600, seed=0)
    current = shaped_rows(300, seed=6)
    current = current[current["x"] > 0.3]
    found = run_check(reference, current, target="level", task="classification", time_column=None, window="7d",
                      origin="2024-01-01", drift_share=0.5, ignore_columns=["yes_no"], min_rows=10, trigger_k=1,
                      trigger_n=1, performance_floor=None, performance_drop=None, performance_metric="auto",
                      metric="auto", scorer=model_scorer(model, "classification"))
    (window,) = found.windows
    assert window["prediction_drift"]["drifted"] and window["performance"]["metric"] == "roc_auc"
    assert set(window["prediction_drift"]["reference_shares"]) == {"high", "low", "mid"}
