"""The gate on classifiers of text labels: a Yes/No model, a three-class model (budget probe included)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nbprod.registry import gate
from nbprod.registry.client import Registry
from nbprod.registry.task import run_gate

from .conftest import TARGET, Logged

GENEROUS = gate.Limits(max_size_mb=200, max_memory_mb=1024, max_p99_ms=1000)


def labelled(frames, target: str):
    """(train, holdout) with ``target`` as text: Yes/No for malignant, or the three grades."""
    frames = [frame.copy() for frame in frames]
    if target == "answer":
        for frame in frames:
            frame["answer"] = np.where(frame.pop(TARGET) == 1, "Yes", "No")
    else:
        for frame in frames:
            frame.pop(TARGET)
    return [frame.drop(columns=["extra"]) for frame in frames]


def fit_and_log(store, frames, target: str, positive) -> Logged:
    import mlflow
    import mlflow.sklearn

    from nbprod.model.classes import classes_of
    from nbprod.model.features import FeatureBuilder
    from nbprod.model.metrics import task_metrics
    from nbprod.model.models import Candidate, make_model, predict_scores

    train, holdout = labelled(frames, target)
    model = make_model(Candidate(target, "hist_gradient_boosting", {"max_iter": 20}), "classification",
                       FeatureBuilder(), 0)
    model.fit(train.drop(columns=[target]), train[target])
    scores = predict_scores(model, holdout.drop(columns=[target]), "classification", positive)
    metrics = task_metrics("classification", holdout[target], scores, 0.5, positive, classes_of(model))
    with mlflow.start_run(experiment_id=store["experiment_id"], run_name=target) as run:
        info = mlflow.sklearn.log_model(model, name="model", serialization_format="cloudpickle",
                                        pip_requirements=["scikit-learn", "cloudpickle"])
    return Logged(target, model, run.info.run_id, info.model_uri, metrics)


def evaluation_file(folder: Path, frames, logged: Logged, classes, positive) -> Path:
    """An evaluation.json as the evaluate notebook writes it (no baseline: the gate computes one)."""
    target = logged.name
    holdout = folder / f"holdout-{target}.parquet"
    labelled(frames, target)[1].to_parquet(holdout)
    path = folder / f"evaluation-{target}.json"
    path.write_text(json.dumps({
        "task": "classification", "metric": "roc_auc", "greater_is_better": True, "target": target,
        "best": target, "holdout": str(holdout), "classes": classes, "positive_class": positive,
        "candidates": {target: {"run_id": logged.run_id, "model_uri": logged.model_uri,
                                "threshold": None if positive is None else 0.5, "metrics": logged.metrics}},
    }))
    return path


def gate_run(evaluation: Path, model_name: str, figures=None) -> dict:
    folder = evaluation.parent
    return run_gate(evaluation, folder / "promotion.json", folder / "promotion.html", model_name=model_name,
                    alias="champion", margin=0.0, limits=GENEROUS, figures=figures)


def test_three_class_model_is_measured_and_promoted_against_the_class_priors(store, frames, model_name, tmp_path):
    classes = ["large", "medium", "small"]
    logged = fit_and_log(store, frames, "grade", None)
    record = gate_run(evaluation_file(tmp_path, frames, logged, classes, None), model_name)  # the real probe
    assert record["decision"] == "promoted", record["summary"]
    assert record["reference"]["kind"] == "baseline" and record["metric"]["reference"] == pytest.approx(0.5)
    assert record["metric"]["candidate"] == pytest.approx(logged.metrics["roc_auc"])
    assert record["budget"]["p99_ms"]["measured"] > 0 and record["budget"]["memory_mb"]["measured"] > 0
    assert record["candidate"]["classes"] == classes and record["candidate"]["threshold"] is None
    assert "f1_macro" in record["reference"]["metrics"]
    tags = Registry(model_name).version(1).tags
    assert json.loads(tags["nbprod.classes"]) == classes
    assert "nbprod.threshold" not in tags and "nbprod.positive_class" not in tags
    assert "Classes" in (tmp_path / "promotion.html").read_text()


def test_yes_no_model_is_scored_and_tagged_on_its_positive_class(store, frames, measured, model_name, tmp_path):
    logged = fit_and_log(store, frames, "answer", "Yes")
    record = gate_run(evaluation_file(tmp_path, frames, logged, ["No", "Yes"], "Yes"), model_name, measured)
    assert record["decision"] == "promoted", record["summary"]
    assert record["metric"]["candidate"] == pytest.approx(logged.metrics["roc_auc"]) and logged.metrics[
        "roc_auc"] > 0.9
    holdout_rate = float((labelled(frames, "answer")[1]["answer"] == "Yes").mean())
    assert record["reference"]["metrics"]["roc_auc"] == pytest.approx(0.5)
    assert record["reference"]["metrics"]["threshold"] == pytest.approx(holdout_rate)
    tags = Registry(model_name).version(1).tags
    assert tags["nbprod.positive_class"] == '"Yes"' and json.loads(tags["nbprod.classes"]) == ["No", "Yes"]
    assert "Positive class" in (tmp_path / "promotion.html").read_text()


def test_a_champion_of_other_classes_is_not_compared(store, frames, measured, model_name, tmp_path):
    first = fit_and_log(store, frames, "grade", None)
    assert gate_run(evaluation_file(tmp_path, frames, first, ["large", "medium", "small"], None), model_name,
                    measured)["decision"] == "promoted"
    second = fit_and_log(store, frames, "answer", "Yes")
    (tmp_path / "second").mkdir()
    record = gate_run(evaluation_file(tmp_path / "second", frames, second, ["No", "Yes"], "Yes"), model_name,
                      measured)
    assert record["decision"] == "rejected"
    metric = next(reason for reason in record["reasons"] if reason["check"] == "metric")
    assert not metric["passed"] and "do not compare" in metric["detail"]
    assert Registry(model_name).alias_version("champion") == "1"


def test_a_champion_threshold_on_the_other_class_is_turned_around():
    from nbprod.registry.task import _champion_rule

    assert _champion_rule({"nbprod.threshold": "0.3", "nbprod.positive_class": '"Yes"'}, "Yes") == (0.3, None)
    assert _champion_rule({"nbprod.threshold": "0.3"}, "Yes") == (0.3, None)  # registered before the tag
    threshold, note = _champion_rule({"nbprod.threshold": "0.3", "nbprod.positive_class": '"No"'}, "Yes")
    assert threshold == pytest.approx(0.7) and "the champion's positive class is 'No'" in note
