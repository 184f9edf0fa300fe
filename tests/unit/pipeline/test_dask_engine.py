"""The Dask engine's pieces that need no cluster: options, settings, the DAG's shape, digests, progress."""

from __future__ import annotations

import hashlib

import pytest

from nbprod import settings as settings_module
from nbprod.pipeline import dask_engine
from nbprod.pipeline.command import with_engine


@pytest.fixture()
def settings(repo):
    return settings_module.load(repo)


def test_the_default_engine_is_local(settings):
    assert settings["engine"] == {"kind": "local", "scheduler": None, "products_url": None}


def test_a_scheduler_option_implies_the_dask_engine(settings):
    chosen = with_engine(settings, None, "tcp://10.0.0.5:8786")
    assert chosen["engine"] == {"kind": "dask", "scheduler": "tcp://10.0.0.5:8786", "products_url": None}
    assert settings["engine"]["kind"] == "local"  # the loaded settings are left as they were


def test_the_engine_option_alone_keeps_the_scheduler_setting(settings):
    assert with_engine(settings, "dask", None)["engine"] == {"kind": "dask", "scheduler": None, "products_url": None}
    assert with_engine(settings, None, None) == settings


@pytest.mark.parametrize("override, message", [
    ("engine.kind=spark", "setting 'engine.kind' must be one of ('local', 'dask'), got 'spark'"),
    ("engine.scheduler=localhost", "setting 'engine.scheduler' must be null (a cluster of local processes) or a "
                                   "scheduler address such as tcp://HOST:PORT, got 'localhost'"),
])
def test_a_bad_engine_setting_names_the_setting_and_what_is_allowed(repo, override, message):
    with pytest.raises(settings_module.SettingsError) as error:
        settings_module.load(repo, overrides=[override])
    assert str(error.value) == message


def test_the_engine_is_not_part_of_the_manifest_key(settings):
    from nbprod.pipeline.build import manifest_key

    assert manifest_key(settings) == manifest_key(with_engine(settings, "dask", "tcp://127.0.0.1:8786"))


def test_upstream_tasks_follow_the_pipeline(repo, settings):
    from nbprod.pipeline.dag import load_dag

    upstream = dask_engine.upstream_tasks(load_dag(repo, settings))
    assert upstream["get"] == [] and sorted(upstream["eda"]) == ["get", "validate"]
    assert upstream["train"] == ["prepare"] and sorted(upstream["evaluate"]) == ["prepare", "train"]


def test_digests_cover_the_product_files_that_exist(tmp_path):
    present = tmp_path / "a.json"
    present.write_bytes(b'{"a": 1}')
    found = dask_engine.digests({"json": str(present), "html": str(tmp_path / "absent.html")})
    assert found == {str(present): hashlib.sha256(b'{"a": 1}').hexdigest()}
    assert dask_engine.digests(str(present)) == found


class Heard:
    def __init__(self):
        self.lines = []

    def started(self, name):
        self.lines.append(("started", name))

    def finished(self, name, status, seconds):
        self.lines.append(("finished", name, status, seconds))


def test_worker_events_reach_the_progress_lines():
    heard = Heard()
    dask_engine.announce(heard, {"task": "train"})
    dask_engine.announce(heard, {"task": "train", "status": "Executed", "seconds": 2.5})
    assert heard.lines == [("started", "train"), ("finished", "train", "Executed", 2.5)]


def test_a_worker_of_several_threads_is_refused_naming_it():
    workers = {"tcp://10.0.0.7:4001": {"nthreads": 1}, "tcp://10.0.0.8:4001": {"nthreads": 4}}
    assert dask_engine.threaded_worker(workers) == (
        "the Dask worker tcp://10.0.0.8:4001 runs 4 threads: notebooks need workers of one thread "
        "(dask worker SCHEDULER --nthreads 1), papermill's working folder is per process")
    assert dask_engine.threaded_worker({"tcp://10.0.0.7:4001": {"nthreads": 1}}) is None


def test_an_earlier_attempt_at_a_task_leaves_no_run_behind(tmp_path):
    from mlflow.entities import ViewType

    from nbprod import tracking
    from nbprod.tracking import tags as names

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = tracking.client_for(uri)
    experiment = client.create_experiment("build")
    parent = client.create_run(experiment, tags={names.BUILD: "true"}).info.run_id
    other = client.create_run(experiment, tags={names.PARENT: parent, names.TASK: "prepare",
                                                "mlflow.parentRunId": parent}).info.run_id
    dead = client.create_run(experiment, tags={names.PARENT: parent, names.TASK: "train",
                                               "mlflow.parentRunId": parent}).info.run_id
    candidate = client.create_run(experiment, tags={names.PARENT: parent, names.CANDIDATE: "hgb",
                                                    "mlflow.parentRunId": dead}).info.run_id
    environ = {tracking.URI_ENV: uri, tracking.EXPERIMENT_ENV: experiment, tracking.PARENT_ENV: parent}
    assert sorted(dask_engine.discard_earlier_attempts(environ, "train")) == sorted([dead, candidate])
    left = {run.info.run_id for run in client.search_runs([experiment], run_view_type=ViewType.ACTIVE_ONLY)}
    assert left == {parent, other}
    assert dask_engine.discard_earlier_attempts(environ, "evaluate") == []


def test_a_sqlite_store_is_refused_when_a_worker_is_on_another_machine():
    from nbprod.pipeline.dask_engine import remote_sqlite

    here = {"tcp://127.0.0.1:4001": {}, "tcp://[::1]:4002": {}}
    assert remote_sqlite("sqlite:///mlflow.db", here) is None
    assert remote_sqlite("http://10.0.0.2:5000", {**here, "tcp://10.0.0.7:4003": {}}) is None
    refused = remote_sqlite("sqlite:///mlflow.db", {**here, "tcp://10.0.0.7:4003": {}})
    assert "tcp://10.0.0.7:4003" in refused and "SQLite" in refused and "tracking server" in refused
