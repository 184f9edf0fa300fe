"""Bring your own data: another real dataset of each task type runs by configuration alone."""

from __future__ import annotations

import json

import pytest
from pipeline_helpers import products_of, reports_of
from sklearn.datasets import load_breast_cancer, load_diabetes

from nbprod.pipeline.build import build
from project_copy import REPORTING_TASKS, copy_project, load_settings

pytestmark = pytest.mark.slow

COMMON = ("data.time_column=null", "data.schema=null", "data.drop_columns=[]", "evaluate.permutation_rows=100")


@pytest.mark.parametrize(
    ("loader", "task", "check"),
    [
        (load_breast_cancer, "classification", lambda metrics: metrics["roc_auc"] > 0.95),
        (load_diabetes, "regression", lambda metrics: metrics["r2"] > 0.2),
    ],
    ids=["breast-cancer-classification", "diabetes-regression"],
)
def test_dataset_runs_by_configuration_alone(tmp_path, loader, task, check):
    project = copy_project(tmp_path / "project", git=False, drop_tasks=REPORTING_TASKS)
    loader(as_frame=True).frame.to_parquet(project / "data.parquet")
    settings = load_settings(project, (*COMMON, "data.source=data.parquet", "data.target=target",
                                       f"data.task={task}"))
    result = build(settings, project)
    assert result.ok and "promote" in result.executed
    evaluation = json.loads((products_of(project, settings) / "evaluation.json").read_text())
    assert evaluation["task"] == task
    assert check(evaluation["candidates"][evaluation["best"]]["metrics"])
    promotion = json.loads((reports_of(project, settings) / "promotion.json").read_text())
    assert promotion["decision"] == "promoted", promotion["summary"]
