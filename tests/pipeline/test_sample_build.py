"""The default pipeline built on a sample: products, reports and the MLflow run tree."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from pipeline_helpers import products_of, reports_of

pytestmark = pytest.mark.slow

NOTEBOOK_TASKS = ("eda", "prepare", "train", "evaluate")
TASKS = ("get", "validate", *NOTEBOOK_TASKS, "promote")


def test_every_task_ran(sample_build):
    _, _, result = sample_build
    assert result.ok
    assert set(TASKS) <= set(result.executed)


def test_reports_hold_executed_notebooks_and_html(sample_build):
    project, settings, _ = sample_build
    reports = reports_of(project, settings)
    for name in NOTEBOOK_TASKS:
        notebook = json.loads((reports / f"{name}.ipynb").read_text())
        code_cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
        assert all(cell["execution_count"] for cell in code_cells), name
        assert "<html" in (reports / f"{name}.html").read_text()[:2000].lower()
    assert (reports / "pipeline.png").stat().st_size > 5000
    assert "promoted" in (reports / "promotion.html").read_text()
    for name in ("model_report", "drift_report"):  # the build's own dashboard snapshots show real content
        page = (reports / "dashboards" / f"{name}.html").read_text()
        assert "nbprod-headline" in page and "could not be shown" not in page, name


@pytest.mark.parametrize("name", ["eda", "evaluate"])
def test_executed_notebooks_show_their_figures_as_images(sample_build, name):
    project, settings, _ = sample_build
    notebook = json.loads((reports_of(project, settings) / f"{name}.ipynb").read_text())
    outputs = [output for cell in notebook["cells"] for output in cell.get("outputs", [])]
    images = [output for output in outputs if "image/png" in output.get("data", {})]
    as_text = [output for output in outputs if "<Figure size" in "".join(output.get("data", {}).get("text/plain", ""))
               and "image/png" not in output.get("data", {})]
    assert len(images) >= 3 and as_text == []


def test_make_run_ends_with_a_champion(sample_build):
    from mlflow import MlflowClient

    from nbprod import tracking

    project, settings, _ = sample_build
    tracking.configure(settings, project)
    version = MlflowClient().get_model_version_by_alias(settings["registry"]["model_name"], "champion")
    evidence = json.loads((reports_of(project, settings) / "promotion.json").read_text())
    assert evidence["decision"] == "promoted" and int(evidence["candidate"]["version"]) == int(version.version)


def test_splits_follow_the_configured_dates(sample_build):
    project, settings, _ = sample_build
    data = products_of(project, settings) / "data"
    cuts = settings["split"]
    time = settings["data"]["time_column"]
    train, valid = pd.read_parquet(data / "train.parquet"), pd.read_parquet(data / "valid.parquet")
    test, new = pd.read_parquet(data / "test.parquet"), pd.read_parquet(data / "new.parquet")
    assert train[time].max() < pd.Timestamp(cuts["valid_start"]) <= valid[time].min()
    assert valid[time].max() < pd.Timestamp(cuts["test_start"]) <= test[time].min()
    assert test[time].max() < pd.Timestamp(cuts["new_start"]) <= new[time].min()
    assert set(train["late"].unique()) == {0, 1}


def test_no_leakage_column_reaches_the_model(sample_build):
    project, settings, _ = sample_build
    contract = json.loads((products_of(project, settings) / "data" / "contract.json").read_text())
    names = {column["name"] for column in contract["columns"]}
    assert not names & {"dep_delay", "dep_time", "arr_time", "arr_delay", "air_time", "late"}
    assert {"carrier", "origin", "dest", "temp", "scheduled_departure"} <= names


def test_evaluation_names_the_best_candidate(sample_build):
    project, settings, _ = sample_build
    evaluation = json.loads((products_of(project, settings) / "evaluation.json").read_text())
    assert evaluation["best"] in evaluation["candidates"]
    best = evaluation["candidates"][evaluation["best"]]["metrics"]["roc_auc"]
    assert best == max(c["metrics"]["roc_auc"] for c in evaluation["candidates"].values())
    assert best > evaluation["baseline"]["metrics"]["roc_auc"]


def test_evaluate_saves_each_candidates_holdout_scores(sample_build):
    from nbprod.model.metrics import task_metrics

    project, settings, _ = sample_build
    products = products_of(project, settings)
    evaluation = json.loads((products / "evaluation.json").read_text())
    scores = pd.read_parquet(products / "holdout_scores.parquet")
    test = pd.read_parquet(products / "data" / "test.parquet")
    assert len(scores) == len(test) and len(scores.columns) == len(evaluation["candidates"])
    best = evaluation["candidates"][evaluation["best"]]
    assert best["run_id"] in scores.columns  # keyed by the candidate's MLflow run
    recomputed = task_metrics("classification", test["late"].to_numpy(), scores[best["run_id"]].to_numpy(), 0.5)
    assert recomputed["roc_auc"] == pytest.approx(best["metrics"]["roc_auc"])


def test_mlflow_run_tree(sample_build):
    import mlflow
    from mlflow import MlflowClient

    from nbprod import tracking

    project, settings, result = sample_build
    experiment_id = tracking.configure(settings, project)
    client = MlflowClient()
    parent = client.get_run(result.parent_run_id)
    assert parent.data.tags["nbprod.build"] == "true"
    assert len(parent.data.tags["nbprod.git_commit"]) == 40
    assert parent.data.params["data.target"] == "late"
    children = client.search_runs([experiment_id], f"tags.`nbprod.parent` = '{result.parent_run_id}'")
    tasks = {run.data.tags.get("nbprod.task") for run in children if "nbprod.candidate" not in run.data.tags}
    assert set(TASKS) <= tasks
    by_task = {run.data.tags["nbprod.task"]: run for run in children if "nbprod.candidate" not in run.data.tags}
    for name in NOTEBOOK_TASKS:
        artifacts = {item.path for item in client.list_artifacts(by_task[name].info.run_id, "notebook")}
        assert f"notebook/{name}.html" in artifacts
    inputs = by_task["prepare"].inputs.dataset_inputs
    assert {item.dataset.name for item in inputs} >= {"train", "valid", "test"}
    assert all(item.dataset.digest for item in inputs)
    assert by_task["prepare"].data.metrics["rows.train"] > 0
    candidates = [run for run in children if "nbprod.candidate" in run.data.tags]
    assert len(candidates) == 2
    for run in candidates:
        assert run.data.tags["mlflow.parentRunId"] == by_task["train"].info.run_id
        assert "valid.roc_auc" in run.data.metrics and "test.roc_auc" in run.data.metrics
    evaluation = json.loads((products_of(project, settings) / "evaluation.json").read_text())
    info = mlflow.models.get_model_info(evaluation["candidates"][evaluation["best"]]["model_uri"])
    assert info.signature is not None and info.saved_input_example_info is not None
