"""Classification targets of any shape go through the whole pipeline and end with a champion.

(a) a Yes/No text target without a time column (random split), (b) a three-class text target.
Real tables scikit-learn ships, written to CSV as a user's file would be.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pipeline_helpers import products_of, reports_of
from sklearn.datasets import load_breast_cancer, load_iris

from nbprod.pipeline.build import build
from nbprod.pipeline.dag import BuildFailed
from project_copy import REPORTING_TASKS, copy_project, load_settings

pytestmark = pytest.mark.slow

COMMON = ("data.time_column=null", "data.schema=null", "data.drop_columns=[]", "data.source=data.csv",
          "evaluate.permutation_rows=100")


def yes_no_table(path) -> None:
    """Breast cancer: "Yes" (malignant, the minority) / "No", 300 rows, a few targets missing."""
    data = load_breast_cancer(as_frame=True)
    frame = data.data.iloc[:, :8].copy()
    frame.columns = [column.replace(" ", "_") for column in frame.columns]
    frame["malignant"] = np.where(data.target == 0, "Yes", "No")
    frame = frame.sample(n=300, random_state=0).reset_index(drop=True)
    frame.loc[[3, 50], "malignant"] = None
    frame.to_csv(path, index=False)


def species_table(path) -> None:
    """Iris with the species as text: three classes, 150 rows."""
    data = load_iris(as_frame=True)
    frame = data.data.copy()
    frame.columns = [column.replace(" (cm)", "").replace(" ", "_") for column in frame.columns]
    frame["species"] = np.asarray(data.target_names)[data.target]
    frame.to_csv(path, index=False)


def client_of(project):
    from mlflow import MlflowClient

    uri = f"sqlite:///{project / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def champion_version(project, settings):
    """The registered version holding the alias in the build's store."""
    client = client_of(project)
    return client.get_model_version_by_alias(settings["registry"]["model_name"], settings["registry"]["alias"])


def tagged_runs(project, settings, tag: str) -> list:
    """The build's runs carrying ``tag``."""
    client = client_of(project)
    experiment = client.get_experiment_by_name(settings["tracking"]["experiment"])
    return client.search_runs([experiment.experiment_id], f"tags.`{tag}` LIKE '%'")


def built(tmp_path, table, overrides):
    project = copy_project(tmp_path / "project", git=False, drop_tasks=REPORTING_TASKS)
    table(project / "data.csv")
    settings = load_settings(project, (*COMMON, *overrides))
    result = build(settings, project)
    assert result.ok and "promote" in result.executed
    evaluation = json.loads((products_of(project, settings) / "evaluation.json").read_text())
    promotion = json.loads((reports_of(project, settings) / "promotion.json").read_text())
    assert promotion["decision"] == "promoted", promotion["summary"]
    return project, settings, evaluation


def test_yes_no_target_without_a_time_column_ends_with_a_champion(tmp_path):
    project, settings, evaluation = built(tmp_path, yes_no_table,
                                          ("data.target=malignant", "data.missing_target=positive"))
    assert evaluation["classes"] == ["No", "Yes"] and evaluation["positive_class"] == "Yes"
    assert evaluation["candidates"][evaluation["best"]]["metrics"]["roc_auc"] > 0.9
    target = json.loads((products_of(project, settings) / "data" / "target.json").read_text())
    assert target["positive_class"] == "Yes"
    prepare = (reports_of(project, settings) / "prepare.ipynb").read_text()
    assert "positive class 'Yes' (inferred: the minority class of the training rows)" in prepare
    assert "positive class 'Yes'" in (reports_of(project, settings) / "evaluate.ipynb").read_text()
    version = champion_version(project, settings)
    assert version.tags["nbprod.positive_class"] == '"Yes"'
    assert json.loads(version.tags["nbprod.classes"]) == ["No", "Yes"]
    assert 0 < float(version.tags["nbprod.threshold"]) < 1
    runs = tagged_runs(project, settings, "nbprod.positive_class")
    candidates = [run for run in runs if "nbprod.candidate" in run.data.tags]
    assert len(candidates) == 2 and all(run.data.tags["nbprod.positive_class"] == '"Yes"' for run in runs)
    assert {run.data.tags.get("nbprod.task") for run in runs} >= {"prepare", "evaluate"}


def test_three_class_target_ends_with_a_champion(tmp_path):
    project, settings, evaluation = built(tmp_path, species_table,
                                          ("data.target=species", "data.missing_target=drop"))
    assert evaluation["classes"] == ["setosa", "versicolor", "virginica"] and evaluation["positive_class"] is None
    assert evaluation["metric"] == "roc_auc"
    best = evaluation["candidates"][evaluation["best"]]
    assert best["threshold"] is None and best["metrics"]["accuracy"] > 0.8 and best["metrics"]["f1_macro"] > 0.8
    scores = products_of(project, settings) / "holdout_scores.parquet"
    assert f'{best["run_id"]}:"virginica"' in pd.read_parquet(scores).columns
    evaluate = (reports_of(project, settings) / "evaluate.ipynb").read_text()
    assert "multiclass classification, 3 classes" in evaluate
    version = champion_version(project, settings)
    assert json.loads(version.tags["nbprod.classes"]) == ["setosa", "versicolor", "virginica"]
    assert "nbprod.positive_class" not in version.tags and "nbprod.threshold" not in version.tags
    promotion = json.loads((reports_of(project, settings) / "promotion.json").read_text())
    assert promotion["reference"]["kind"] == "baseline"
    assert promotion["budget"]["p99_ms"]["measured"] > 0


def test_multiclass_target_with_missing_target_positive_stops_at_validate(tmp_path):
    project = copy_project(tmp_path / "project", git=False, drop_tasks=REPORTING_TASKS)
    species_table(project / "data.csv")
    settings = load_settings(project, (*COMMON, "data.target=species", "data.missing_target=positive"))
    with pytest.raises(BuildFailed) as caught:
        build(settings, project)
    assert caught.value.statuses["validate"] == "Errored"
    assert ("data.missing_target 'positive' applies to binary targets only; target 'species' has 3 classes "
            "['setosa', 'versicolor', 'virginica']: use data.missing_target: drop") in caught.value.details


def test_a_single_class_in_the_train_split_stops_prepare_naming_column_split_and_class(tmp_path):
    project = copy_project(tmp_path / "project", git=False, drop_tasks=REPORTING_TASKS)
    days = np.arange(200)
    frame = pd.DataFrame({"when": pd.Timestamp("2020-01-01") + pd.to_timedelta(days, unit="D"),
                          "x": days % 7, "answer": np.where((days < 120) | (days % 2 == 0), "No", "Yes")})
    frame.to_csv(project / "data.csv", index=False)
    settings = load_settings(project, (*COMMON, "data.time_column=when", "data.target=answer",
                                       "split.valid_start=2020-05-01", "split.test_start=2020-06-01",
                                       "split.new_start=2020-07-01"))
    with pytest.raises(BuildFailed) as caught:
        build(settings, project)
    assert caught.value.statuses["validate"] == "Executed" and caught.value.statuses["prepare"] == "Errored"
    assert caught.value.statuses["train"] != "Executed"
    assert "target 'answer' has a single class in the train split: 'No'" in caught.value.details


def boolean_table(path) -> None:
    """Breast cancer with a boolean target: True (malignant, the minority) / False, 250 rows."""
    data = load_breast_cancer(as_frame=True)
    frame = data.data.iloc[:, :8].copy()
    frame.columns = [column.replace(" ", "_") for column in frame.columns]
    frame["malignant"] = data.target == 0
    frame.sample(n=250, random_state=1).to_csv(path, index=False)


def test_a_boolean_target_with_a_named_positive_class_scores_that_class(tmp_path):
    project, settings, evaluation = built(tmp_path, boolean_table,
                                          ("data.target=malignant", "data.positive_class=false"))
    assert evaluation["classes"] == [False, True] and evaluation["positive_class"] is False
    for notebook in ("prepare", "evaluate"):
        text = (reports_of(project, settings) / f"{notebook}.ipynb").read_text()
        assert "positive class False (set by data.positive_class)" in text
    version = champion_version(project, settings)
    assert version.tags["nbprod.positive_class"] == "false"
    from nbprod.model.metrics import classes_from_tags, task_metrics
    from nbprod.model.models import predict_scores

    model = __import__("mlflow.sklearn").sklearn.load_model(f"models:/{version.name}/{version.version}")
    classes, positive = classes_from_tags(version.tags)
    test = pd.read_parquet(products_of(project, settings) / "data" / "test.parquet")
    scores = predict_scores(model, test.drop(columns="malignant"), "classification", positive)
    threshold = float(version.tags["nbprod.threshold"])
    recomputed = task_metrics("classification", test["malignant"], scores, threshold, positive, classes)
    promotion = json.loads((reports_of(project, settings) / "promotion.json").read_text())
    assert recomputed == pytest.approx(promotion["candidate"]["metrics"])
    assert recomputed["f1"] > 0.8  # F1 of the benign (False) class


def test_a_positive_class_that_is_not_a_label_stops_at_validate(tmp_path):
    project = copy_project(tmp_path / "project", git=False, drop_tasks=REPORTING_TASKS)
    yes_no_table(project / "data.csv")
    settings = load_settings(project, (*COMMON, "data.target=malignant", "data.positive_class=maybe"))
    with pytest.raises(BuildFailed) as caught:
        build(settings, project)
    assert caught.value.statuses["validate"] == "Errored"
    assert "data.positive_class 'maybe' is not one of the classes of target 'malignant': ['No', 'Yes']" in (
        caught.value.details)
