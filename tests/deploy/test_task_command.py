"""``nbprod task NAME``: one task of the DAG alone, from its upstream products on disk (as an Argo step runs it)."""

from __future__ import annotations

import pytest

from nbprod import cli
from project_copy import copy_project

SAMPLE = ("--set", "sample_frac=0.03")


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A fresh copy of the project, its MLflow store inside it; MLflow's global state is restored afterwards."""
    from mlflow.tracking import fluent
    from mlflow.tracking._tracking_service import utils

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    previous_uri, previous_experiment = utils._tracking_uri, fluent._active_experiment_id
    yield copy_project(tmp_path / "project", git=False)
    utils._tracking_uri = previous_uri  # not mlflow.set_tracking_uri: it would export the URI to the environment
    fluent._active_experiment_id = previous_experiment


def task(project, *args: str) -> int:
    return cli.main(["task", *args, "--project", str(project), *SAMPLE])


def test_unknown_task_is_a_one_line_error_listing_the_tasks(project, capsys):
    assert task(project, "trian") == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("nbprod task: no task 'trian' in pipeline.yaml; tasks: get, validate,")
    assert "\n" not in error


def test_missing_upstream_product_is_named(project, capsys):
    assert task(project, "validate") == 2
    error = capsys.readouterr().err.strip()
    raw = project / "build" / "data" / "raw.parquet"
    assert error == (f"nbprod task: task 'validate' needs the products of upstream task 'get', missing: {raw}"
                     " (build it first: nbprod task get)")


@pytest.mark.slow
def test_tasks_build_one_at_a_time_from_upstream_products(project, capsys):
    from mlflow import MlflowClient

    from nbprod import tracking

    assert task(project, "get") == 0
    assert (project / "build" / "data" / "raw.parquet").is_file()
    assert not (project / "build" / "data" / "validation.json").exists()  # only the named task ran
    assert task(project, "validate") == 0
    assert (project / "build" / "data" / "validation.json").is_file()
    assert "Task validate Executed" in capsys.readouterr().out

    uri = tracking.tracking_uri({"tracking": {"uri": "sqlite:///mlflow.db"}}, project)
    runs = MlflowClient(uri).search_runs([MlflowClient(uri).get_experiment_by_name("nbprod").experiment_id])
    assert sorted(run.info.run_name.split(" ")[1] for run in runs if run.info.run_name.startswith("task ")) == \
        ["get", "validate"]

    assert cli.main(["task", "validate", "--project", str(project), "--set", "sample_frac=0.05"]) == 2
    assert "upstream task 'get', whose products are out of date" in capsys.readouterr().err
