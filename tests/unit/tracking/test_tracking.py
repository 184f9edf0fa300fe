"""nbprod.tracking: the store's URI, and the run tree against a real SQLite MLflow store."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from nbprod import tracking

from ..helpers import REPO

SETTINGS = {"tracking": {"uri": "sqlite:///mlflow.db", "experiment": "unit-tests"}}
MLFLOW_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", tracking.PARENT_ENV)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A fresh SQLite store configured through nbprod; MLflow's global state is restored afterwards."""
    import mlflow
    from mlflow.tracking import fluent
    from mlflow.tracking._tracking_service import utils

    project = tmp_path_factory.mktemp("project")
    previous_uri, previous_experiment = utils._tracking_uri, fluent._active_experiment_id
    with pytest.MonkeyPatch.context() as patch:
        for name in MLFLOW_ENV:
            patch.delenv(name, raising=False)
        experiment_id = tracking.configure(SETTINGS, project)
        yield {"project": project, "experiment_id": experiment_id, "client": mlflow.MlflowClient()}
        while mlflow.active_run():
            mlflow.end_run()
        mlflow.set_tracking_uri(previous_uri)
        fluent._active_experiment_id = previous_experiment


@pytest.fixture
def no_parent(monkeypatch, store):
    monkeypatch.delenv(tracking.PARENT_ENV, raising=False)
    return store


def tags_of(store, run) -> dict[str, str]:
    return store["client"].get_run(run.info.run_id).data.tags


def test_tracking_uri_makes_a_relative_sqlite_path_absolute(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.tracking_uri(SETTINGS, tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    nested = {"tracking": {"uri": "sqlite:///stores/../db/m.db"}}
    assert tracking.tracking_uri(nested, tmp_path) == f"sqlite:///{tmp_path.resolve()}/db/m.db"


@pytest.mark.parametrize("uri", ["sqlite:////abs/mlflow.db", "http://localhost:5000", "file:///abs/mlruns"])
def test_tracking_uri_keeps_absolute_and_remote_uris(monkeypatch, tmp_path, uri):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.tracking_uri({"tracking": {"uri": uri}}, tmp_path) == uri


def test_tracking_uri_environment_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert tracking.tracking_uri(SETTINGS, tmp_path) == "http://tracking.example:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")
    assert tracking.tracking_uri(SETTINGS, tmp_path).endswith("/mlflow.db")


def test_tracking_uri_reads_the_environment_it_is_given(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://process.example:5000")
    given = {"MLFLOW_TRACKING_URI": "sqlite:///given.db"}
    assert tracking.tracking_uri(SETTINGS, tmp_path, given) == f"sqlite:///{tmp_path.resolve()}/given.db"
    assert tracking.tracking_uri(SETTINGS, tmp_path, {}).endswith("/mlflow.db")


def test_missing_store_names_an_absent_sqlite_file_only(tmp_path):
    assert tracking.missing_store(f"sqlite:///{tmp_path}/none.db") == tmp_path / "none.db"
    (tmp_path / "there.db").touch()
    assert tracking.missing_store(f"sqlite:///{tmp_path}/there.db") is None
    assert tracking.missing_store("http://tracking.example:5000") is None


def test_flatten():
    nested = {"a": {"b": 1, "c": {"d": [1, 2]}}, "e": None, "f": {}}
    assert tracking.flatten(nested) == {"a.b": 1, "a.c.d": [1, 2], "e": None}
    assert tracking.flatten({"x": 1}, prefix="p.") == {"p.x": 1}


def test_git_commit(tmp_path):
    assert tracking.git_commit(tmp_path) is None
    assert re.fullmatch(r"[0-9a-f]{40}", tracking.git_commit(REPO))


def test_configure_creates_the_experiment_with_artifacts_beside_the_project(store):
    import mlflow

    project = store["project"]
    assert mlflow.get_tracking_uri() == f"sqlite:///{project.resolve()}/mlflow.db"
    assert (project / "mlflow.db").is_file()
    experiment = mlflow.get_experiment(store["experiment_id"])
    assert experiment.name == "unit-tests"
    assert experiment.artifact_location == (project / "mlartifacts").resolve().as_uri()


def test_configure_again_reuses_the_experiment(store):
    assert tracking.configure(SETTINGS, store["project"]) == store["experiment_id"]


def test_task_run_without_parent_is_interactive(no_parent):
    with tracking.task_run("eda", **{"nbprod.note": "x"}) as run:
        assert run.info.experiment_id == no_parent["experiment_id"]
    tags = tags_of(no_parent, run)
    assert tags["nbprod.task"] == "eda" and tags["nbprod.interactive"] == "true"
    assert tags["nbprod.note"] == "x" and tags["mlflow.runName"] == "eda"
    assert "nbprod.parent" not in tags and "mlflow.parentRunId" not in tags
    assert no_parent["client"].get_run(run.info.run_id).info.status == "FINISHED"


def test_task_and_candidate_runs_under_a_build_parent(store, monkeypatch):
    client = store["client"]
    parent = client.create_run(store["experiment_id"], tags={"nbprod.git_commit": "abc123"}, run_name="build")
    parent_id = parent.info.run_id
    monkeypatch.setenv(tracking.PARENT_ENV, parent_id)
    with tracking.task_run("train") as task:
        with tracking.candidate_run("hgb-1", **{"nbprod.kind": "hist_gradient_boosting"}) as candidate:
            pass
    client.set_terminated(parent_id)
    task_tags, candidate_tags = tags_of(store, task), tags_of(store, candidate)
    assert task_tags["mlflow.parentRunId"] == parent_id
    assert task_tags["nbprod.parent"] == parent_id and task_tags["nbprod.git_commit"] == "abc123"
    assert task_tags["nbprod.task"] == "train" and "nbprod.interactive" not in task_tags
    assert candidate_tags["mlflow.parentRunId"] == task.info.run_id
    assert candidate_tags["nbprod.candidate"] == "hgb-1"
    assert candidate_tags["nbprod.kind"] == "hist_gradient_boosting"
    assert candidate_tags["nbprod.parent"] == parent_id and candidate_tags["nbprod.git_commit"] == "abc123"


def test_parent_without_commit_tag(store, monkeypatch):
    parent = store["client"].create_run(store["experiment_id"])
    monkeypatch.setenv(tracking.PARENT_ENV, parent.info.run_id)
    with tracking.task_run("get") as task:
        pass
    tags = tags_of(store, task)
    assert tags["nbprod.parent"] == parent.info.run_id and "nbprod.git_commit" not in tags


def test_candidate_run_outside_a_task_is_a_top_level_run(no_parent):
    import mlflow

    assert mlflow.active_run() is None
    with tracking.candidate_run("lonely") as run:
        pass
    tags = tags_of(no_parent, run)
    assert tags["nbprod.candidate"] == "lonely"
    assert "mlflow.parentRunId" not in tags and "nbprod.parent" not in tags


@pytest.mark.filterwarnings("ignore::UserWarning")  # MLflow's hints on the source kind and integer columns
def test_log_frame_input_logs_a_dataset_with_its_digest(no_parent):
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    with tracking.task_run("prepare") as run:
        digest = tracking.log_frame_input(frame, "train", "training", "/data/train.parquet")
        same = tracking.log_frame_input(frame.copy(), "train_again", "training", "/data/train.parquet")
        other = tracking.log_frame_input(frame.head(2), "valid", "validation", "/data/valid.parquet")
    assert digest and digest == same and digest != other
    logged = no_parent["client"].get_run(run.info.run_id)
    inputs = {item.dataset.name: item for item in logged.inputs.dataset_inputs}
    assert set(inputs) == {"train", "train_again", "valid"}
    assert inputs["train"].dataset.digest == digest
    assert {tag.key: tag.value for tag in inputs["valid"].tags}["mlflow.data.context"] == "validation"
    assert "/data/train.parquet" in inputs["train"].dataset.source
    assert logged.data.metrics["rows.train"] == 3 and logged.data.metrics["rows.valid"] == 2
