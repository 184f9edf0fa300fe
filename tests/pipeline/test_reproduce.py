"""``nbprod reproduce``: a build of a git copy of the project reproduces exactly; changed data is caught; the
registered version links back to the build, its commit and its data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from alert_receiver import Receiver
from sklearn.datasets import load_breast_cancer

from nbprod.pipeline.build import build
from nbprod.tracking import build_data_digest, client_for, tags, tracking_uri
from project_copy import REPORTING_TASKS, copy_project, load_settings

pytestmark = pytest.mark.slow

DATA = ("data.time_column=null", "data.schema=null", "data.drop_columns=[]", "evaluate.permutation_rows=100",
        "data.source=data.parquet", "data.target=target", "data.task=classification",
        "alerts.webhooks=[{url_env: TEST_GATE_ALERT_URL, format: json, events: [promoted, rejected]}]")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A committed copy of the project, its (untracked) data file, and one build of it, whose gate alerts a
    receiver: (project, settings, run, the alerts received)."""
    project = copy_project(tmp_path_factory.mktemp("reproduce") / "project", drop_tasks=REPORTING_TASKS)
    load_breast_cancer(as_frame=True).frame.to_parquet(project / "data.parquet")
    saved = {key: os.environ.pop(key) for key in list(os.environ) if key.startswith(("MLFLOW_", "NBPROD_"))}
    try:
        with Receiver() as hook:
            os.environ["TEST_GATE_ALERT_URL"] = hook.url
            settings = load_settings(project, DATA)
            result = build(settings, project)
    finally:
        os.environ.pop("TEST_GATE_ALERT_URL", None)
        os.environ.update(saved)
    assert result.ok, result.statuses
    return project, settings, result.parent_run_id, hook.bodies


def reproduce(project, run_id, *extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "NBPROD_"))}
    return subprocess.run([sys.executable, "-m", "nbprod.cli", "reproduce", run_id, "--project", str(project), *extra],
                          capture_output=True, text=True, timeout=900, env=env, cwd=project)


def test_the_registered_version_links_to_its_build_commit_and_data(built):
    project, settings, run_id, _ = built
    client = client_for(tracking_uri(settings, project, environ={}))
    (version,) = client.search_model_versions(f"name = '{settings['registry']['model_name']}'")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True).stdout.strip()
    assert version.tags[tags.PARENT] == run_id and version.tags[tags.GIT_COMMIT] == head
    assert version.tags[tags.DATA_DIGEST] == build_data_digest(client, run_id)
    assert client.get_run(run_id).data.params["data.source"] == "data.parquet"  # the settings: the run's params


def test_the_gate_alerted_its_verdict_with_the_evidence(built):
    project, settings, _, received = built
    (alert,) = received
    assert alert["event"] == "promoted" and alert["details"]["model"] == f"{settings['registry']['model_name']} v1"
    assert alert["links"]["evidence"] == str((project / settings["reports"] / "promotion.html").resolve())
    assert alert["links"]["mlflow_run"].startswith("runs:/")


def test_the_build_reproduces_exactly_and_the_store_is_untouched(built, tmp_path):
    project, settings, run_id, _ = built
    client = client_for(tracking_uri(settings, project, environ={}))
    runs_before = len(client.search_runs([client.get_run(run_id).info.experiment_id], max_results=1000))
    done = reproduce(project, run_id, "--keep", str(tmp_path / "repro"))
    print(done.stdout)  # what was compared, shown with pytest -s
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.strip().endswith("reproduced")
    assert len(client.search_runs([client.get_run(run_id).info.experiment_id], max_results=1000)) == runs_before
    assert (tmp_path / "repro" / "mlflow.db").is_file()
    compared = int(done.stdout.split(" metrics and the holdout")[0].rsplit(" ", 1)[1])
    assert compared >= 10, done.stdout
    worktrees = subprocess.run(["git", "worktree", "list"], cwd=project, capture_output=True, text=True).stdout
    assert len(worktrees.strip().splitlines()) == 1  # the temporary worktree is gone


def test_a_changed_data_file_is_caught_naming_both_digests(built, tmp_path):
    project, settings, run_id, _ = built
    client = client_for(tracking_uri(settings, project, environ={}))
    recorded = build_data_digest(client, run_id)
    data = project / "data.parquet"
    original = data.read_bytes()
    try:
        frame = pd.read_parquet(data)
        frame.loc[0, "mean radius"] += 1.0
        frame.to_parquet(data)
        done = reproduce(project, run_id)
    finally:
        data.write_bytes(original)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"read data with digest {recorded}" in done.stderr and "now gives" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_run_that_is_not_a_build_is_a_one_line_error(built):
    project, settings, run_id, _ = built
    client = client_for(tracking_uri(settings, project, environ={}))
    child = client.search_runs([client.get_run(run_id).info.experiment_id],
                               f"{tags.equals(tags.PARENT, run_id)} and {tags.equals(tags.TASK, 'get')}")[0]
    done = reproduce(project, child.info.run_id)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"nbprod reproduce: run {child.info.run_id} is not a build's parent run "
                                   f"(its build is {run_id})")


def test_a_tampered_recorded_model_is_refused_before_anything_is_rebuilt(built, tmp_path):
    from mlflow.utils.file_utils import local_file_uri_to_path

    from nbprod.pipeline.reproduce import best_model_run
    from nbprod.registry.digest import run_model_location

    project, settings, run_id, _ = built
    client = client_for(tracking_uri(settings, project, environ={}))
    folder = Path(local_file_uri_to_path(run_model_location(client, best_model_run(client, run_id), "model")))
    (model_file,) = [path for path in folder.rglob("model.*") if path.suffix in (".pkl", ".skops")]
    original = model_file.read_bytes()
    try:
        model_file.write_bytes(original + b"\n")  # e.g. a pickle with a payload appended
        done = reproduce(project, run_id, "--keep", str(tmp_path / "repro"))
    finally:
        model_file.write_bytes(original)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "refused: its files do not match the digest" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "repro" / "mlflow.db").exists()  # nothing was rebuilt
