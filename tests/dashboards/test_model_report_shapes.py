"""The model report for a Yes/No binary champion and a three-class champion.

Each project is made without the pipeline: the train and test splits written as
Parquet, one build's runs in a SQLite MLflow store (the build, a candidate with its
model, the evaluate run) and the candidate registered as the serving version with
its class tags, as the pipeline's promote task leaves them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn import metrics as skm

from nbprod.dashboards import model_data
from nbprod.dashboards.context import load_context
from nbprod.plots import dashboards as figures
from shaped_models import fitted, registry_at_tracking_store, shaped_rows

REPO = Path(__file__).resolve().parents[2]
FEATURES = ["x", "z", "c"]
SHAPES = {"yes_no": "Yes", "level": None}  # target -> positive class


def make_project(folder: Path, target: str, positive_class) -> Path:
    """A project folder whose store holds one build of one candidate, registered and serving."""
    import mlflow
    from mlflow import MlflowClient

    from nbprod import tracking
    from nbprod.model.metrics import CLASSES_TAG, POSITIVE_CLASS_TAG

    settings = yaml.safe_load((REPO / "env.yaml").read_text())
    settings["data"].update(target=target, time_column=None, positive_class=positive_class)
    settings["registry"]["model_name"] = f"report-{target}"
    folder.mkdir(parents=True)
    (folder / "env.yaml").write_text(yaml.safe_dump(settings))
    (folder / "pipeline.yaml").write_text((REPO / "pipeline.yaml").read_text())  # the catalog of products
    data = folder / settings["products"] / "data"
    data.mkdir(parents=True)
    shaped_rows(600, seed=0)[[*FEATURES, target]].to_parquet(data / "train.parquet")
    shaped_rows(400, seed=3)[[*FEATURES, target]].to_parquet(data / "test.parquet")
    model = fitted(target)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    tracking.configure(settings, folder)
    tags = {CLASSES_TAG: json.dumps(model.classes_.tolist())}
    if positive_class is not None:
        tags[POSITIVE_CLASS_TAG] = json.dumps(positive_class)
    with mlflow.start_run(run_name="build", tags={"nbprod.build": "true"}) as build:
        parent = build.info.run_id
        with mlflow.start_run(run_name="hgb", nested=True,
                              tags={"nbprod.parent": parent, "nbprod.candidate": "hgb", **tags}) as candidate:
            mlflow.log_param("threshold", 0.4)
            mlflow.sklearn.log_model(model, name="model", pip_requirements=["nbprod"],
                                     skops_trusted_types=trusted_types(model))
        with mlflow.start_run(run_name="evaluate", nested=True,
                              tags={"nbprod.parent": parent, "nbprod.task": "evaluate", "nbprod.best": "hgb"}):
            pass
    name = settings["registry"]["model_name"]
    with registry_at_tracking_store():
        version = mlflow.register_model(f"runs:/{candidate.info.run_id}/model", name).version
        client = MlflowClient()
        for key, value in {**tags, "nbprod.candidate": "hgb", "nbprod.threshold": "0.4",
                           "nbprod.gate.decision": "promoted", "nbprod.gate.reasons": "[]"}.items():
            client.set_model_version_tag(name, version, key, value)
        client.set_registered_model_alias(name, settings["registry"]["alias"], version)
    mlflow.set_tracking_uri(None)
    return folder


def trusted_types(model) -> list[str]:
    import skops.io

    return skops.io.get_untrusted_types(data=skops.io.dumps(model))


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    root = tmp_path_factory.mktemp("report-shapes")
    return {target: make_project(root / target, target, positive) for target, positive in SHAPES.items()}


@pytest.fixture
def report_of(projects, monkeypatch):
    def read(target: str):
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
        context = load_context({"NBPROD_PROJECT": str(projects[target])})
        report = model_data.load_report(context)
        return report, model_data.compare(report, report.builds[0])
    return read


def test_yes_no_champion_is_measured_on_its_positive_class(report_of):
    report, found = report_of("yes_no")
    assert report.classes == ["No", "Yes"] and report.positive_class == "Yes" and report.kind == "binary"
    label = found.champion_label
    test = shaped_rows(400, seed=3)
    probabilities = fitted("yes_no").predict_proba(test[FEATURES])
    truth = (test["yes_no"] == "Yes").to_numpy().astype(int)
    assert found.results[label]["roc_auc"] == pytest.approx(skm.roc_auc_score(truth, probabilities[:, 1]))
    assert found.results[label]["f1"] == pytest.approx(skm.f1_score(truth, probabilities[:, 1] >= 0.4))
    assert model_data.BASELINE_LABEL in found.results
    predicted = model_data.predicted_classes(report, found, label)
    assert set(predicted) <= {"Yes", "No"} and (predicted == np.where(probabilities[:, 1] >= 0.4, "Yes", "No")).all()
    text = model_data.champion_summary(report, found)
    assert "of the cases that were yes_no = Yes" in text and "Model v1 (hgb) is serving" in text
    figure = figures.confusion(report.y, predicted, label, 0.4, "yes_no", report.classes, report.positive_class)
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == ["No", "Yes"]
    assert list(found.table(report.kind).columns)[:2] == ["ROC AUC", "PR AUC"]


def test_three_class_champion_gets_per_class_table_and_named_confusion_matrix(report_of):
    report, found = report_of("level")
    assert report.classes == ["high", "low", "mid"] and report.positive_class is None and report.multiclass
    label = found.champion_label
    test = shaped_rows(400, seed=3)
    probabilities = fitted("level").predict_proba(test[FEATURES])
    predicted = model_data.predicted_classes(report, found, label)
    assert (predicted == np.asarray(report.classes)[probabilities.argmax(axis=1)]).all()
    assert found.results[label]["accuracy"] == pytest.approx(skm.accuracy_score(test["level"], predicted))
    assert found.results[label]["roc_auc"] == pytest.approx(
        skm.roc_auc_score(test["level"], probabilities, multi_class="ovr", labels=report.classes))
    table = found.table(report.kind)
    assert "F1 (macro)" in table.columns and "PR AUC" not in table.columns and not table.loc[label].isna().any()
    per_class = model_data.class_table(report, found, label)
    assert per_class.index.tolist() == ["high", "low", "mid"] and per_class["support"].sum() == 400
    figure = figures.confusion(report.y, predicted, label, None, "level", report.classes)
    axis = figure.axes[0]
    assert [t.get_text() for t in axis.get_yticklabels()] == ["high", "low", "mid"]
    assert "threshold" not in axis.get_title()
    text = model_data.champion_summary(report, found)
    assert f"it names the right level for {100 * found.results[label]['accuracy']:.0f}% of the rows" in text


@pytest.mark.slow
@pytest.mark.parametrize("target", list(SHAPES))
def test_model_report_notebook_runs_for_both_shapes(projects, target):
    from nbprod.dashboards.context import dashboards_folder
    from nbprod.dashboards.snapshot import dashboard_env, errors, execute, to_html

    env = dashboard_env(projects[target], static=True)
    env.pop("MLFLOW_TRACKING_URI", None)
    notebook = execute(dashboards_folder(projects[target]) / "model_report.ipynb", env)
    assert errors(notebook) == []
    html = to_html(notebook, "Model report")
    assert "could not be shown" not in html and "Model v1" in html
    if target == "level":
        assert "Right and wrong calls, class by class" in html and "support" in html
    else:
        assert "at the decision threshold" in html and "yes_no = Yes" in html


@pytest.mark.slow
def test_a_built_three_class_project_is_reported_served_and_monitored(tmp_path, monkeypatch):
    """The pipeline's own products (evaluation.json with classes, holdout scores one column per class,
    the version's tags) read by the model report, the service's loader and the monitor's scorer."""
    import pandas as pd
    from sklearn.datasets import load_iris

    from nbprod.monitoring.check import window_performance
    from nbprod.monitoring.monitor import registered_scorer
    from nbprod.pipeline.build import build
    from nbprod.serving.model_source import load_version
    from project_copy import REPORTING_TASKS, copy_project, load_settings

    project = copy_project(tmp_path / "project", git=False, drop_tasks=REPORTING_TASKS)
    iris = load_iris(as_frame=True)
    frame = iris.data.rename(columns=lambda column: column.replace(" (cm)", "").replace(" ", "_"))
    frame.assign(species=np.asarray(iris.target_names)[iris.target]).to_csv(project / "data.csv", index=False)
    overrides = ("data.time_column=null", "data.schema=null", "data.drop_columns=[]", "data.source=data.csv",
                 "evaluate.permutation_rows=100", "data.target=species", "data.missing_target=drop")
    settings = load_settings(project, overrides)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert build(settings, project).ok
    evaluation = json.loads((project / settings["products"] / "evaluation.json").read_text())

    context = load_context({"NBPROD_PROJECT": str(project), "NBPROD_SET": ";".join(overrides)})
    report = model_data.load_report(context)
    found = model_data.compare(report, report.builds[0])
    assert report.classes == ["setosa", "versicolor", "virginica"] and report.multiclass and not found.notes
    best = evaluation["candidates"][evaluation["best"]]["metrics"]
    assert found.results[found.champion_label]["f1_macro"] == pytest.approx(best["f1_macro"])
    assert model_data.class_table(report, found, found.champion_label).index.tolist() == report.classes

    uri = f"sqlite:///{project / 'mlflow.db'}"
    name = settings["registry"]["model_name"]
    import mlflow.tracking._model_registry.utils as registry_uri  # the service points the registry at its store:

    monkeypatch.setattr(registry_uri, "_registry_uri", registry_uri._registry_uri)  # undone after the test
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    loaded = load_version(uri, name, report.champion["version"])
    test = pd.read_parquet(project / settings["products"] / "data" / "test.parquet")
    predictions, probabilities = loaded.predict(test.drop(columns=["species"]))
    assert loaded.labels.classes == tuple(report.classes) and set(predictions) <= set(report.classes)
    assert (predictions == model_data.predicted_classes(report, found, found.champion_label)).all()

    scorer = registered_scorer(name, report.champion["version"], "classification")
    performance = window_performance(test, "species", "classification", "accuracy", best["accuracy"],
                                     scorer(test), scorer.labels)
    assert performance["value"] == pytest.approx(best["accuracy"])
