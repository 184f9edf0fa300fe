"""Monitoring on the shared sample build: the drift check on real data, the DAG task, ``nbprod monitor`` and
``nbprod replay`` end to end (on copies of the sample project: the shared build is only read)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from nbprod.monitoring import check
from project_copy import QUICK, SAMPLE

pytestmark = pytest.mark.slow

TIME = "scheduled_departure"


def copy_of(sample_build, tmp_path):
    project, _, _ = sample_build
    target = tmp_path / "project"
    shutil.copytree(project, target, ignore=shutil.ignore_patterns("predictions", "monitoring"))
    return target


def nbprod(project, *args, timeout=600):
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "NBPROD_PARENT_RUN")}
    return subprocess.run([sys.executable, "-m", "nbprod.cli", *args, "--project", str(project)],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=project)


def sets(*extra):
    # the sample build's own settings; a separate experiment keeps the copy's artifacts beside the copy
    return [item for text in (*QUICK, *SAMPLE, "tracking.experiment=monitoring-test", *extra)
            for item in ("--set", text)]


def test_new_split_drifts_from_the_train_split_on_the_weather(sample_build):
    from nbprod.project import Project

    project, settings, _ = sample_build
    catalog = Project(project, settings, Project.load(project).templates)
    reference = check.load_reference(catalog)
    new = pd.read_parquet(catalog.split("new"))
    assert {"late", TIME} & set(reference.columns) == set()
    result = check.detector_for(reference, settings["monitor"]["drift_share"]).compare(
        new[[c for c in new.columns if c in reference.columns]])
    frame = result.to_frame()
    assert {"column", "kind", "method", "statistic", "threshold", "drifted", "psi", "status"} <= set(frame.columns)
    assert set(frame["column"]) == set(reference.columns)
    assert {"temp", "dewp", "carrier", "origin", "distance"} <= set(frame["column"])
    # winter-ish months against January-July: the temperatures moved
    assert {"temp", "dewp"} & set(result.drifted_columns)
    assert result.column("temp").statistic > result.column("temp").threshold


def test_monitoring_notebook_ran_as_a_dag_task(sample_build):
    import nbformat
    from mlflow import MlflowClient

    from nbprod import tracking

    project, settings, result = sample_build
    assert "monitor" in result.executed
    reports = project / settings["reports"]
    notebook = nbformat.read(reports / "monitor.ipynb", as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code)
    assert not [o for cell in code for o in cell.outputs if o.output_type == "error"]
    images = [o for cell in code for o in cell.outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # the distribution overlays and the drift over time, as pictures
    assert (reports / "monitor.html").is_file()
    record = json.loads((project / settings["products"] / "monitoring" / "pipeline_drift.json").read_text())
    assert record["windows"] and record["windows"][0]["start"] == "2013-10-01T00:00:00"
    assert {"start", "end", "rows", "model_version", "drift", "performance"} == set(record["windows"][0])
    assert record["events"][0]["kind"] == "no_action" and record["events"][0]["reason"]
    experiment_id = tracking.configure(settings, project)
    runs = MlflowClient().search_runs([experiment_id], f"tags.`nbprod.parent` = '{result.parent_run_id}' "
                                                       "and tags.`nbprod.task` = 'monitor'")
    assert len(runs) == 1
    run = runs[0]
    assert run.data.tags["nbprod.monitor.decision"] in ("retrain", "no_action")
    assert run.data.metrics["windows"] == len(record["windows"]) and "drifted_windows" in run.data.metrics


def test_nbprod_monitor_on_a_data_file_retrains_and_records_the_gate(sample_build, tmp_path, monkeypatch):
    from mlflow import MlflowClient

    from nbprod import settings as settings_module, tracking

    project = copy_of(sample_build, tmp_path)
    new = pd.read_parquet(project / "build" / "data" / "new.parquet")
    batch = tmp_path / "october.csv"
    new[new[TIME] < "2013-10-22"].to_csv(batch, index=False)  # with the true outcomes: performance too
    done = nbprod(project, "monitor", "--data", str(batch),
                  *sets("monitor.drift_share=0.2", "monitor.min_rows=20", "monitor.retrain=true"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Decision: RETRAIN" in done.stdout, done.stdout
    # the snapshots are refreshed after the pass: the drift report shows the retraining and the gate
    assert "Dashboard snapshots refreshed" in done.stdout, done.stdout[-2000:]
    assert "retrain" in (project / "reports" / "dashboards" / "drift_report.html").read_text().lower()

    history = json.loads((project / "reports" / "monitoring" / "drift_history.json").read_text())
    assert [w["start"][:10] for w in history["windows"]] == ["2013-10-01", "2013-10-08", "2013-10-15"]
    assert all(w["performance"]["metric"] == "roc_auc" for w in history["windows"])
    kinds = [event["kind"] for event in history["events"]]
    assert kinds[0] == "retrain" and kinds[1] in ("promoted", "rejected"), history["events"]
    retrain, gate = history["events"]
    assert retrain["run_id"] and retrain["run_id"] == gate["run_id"] and gate["model_version"]
    assert "split.new_start" in retrain["reason"]
    # the refreshed data window, built in its own folders: its new split starts where the last checked window ended
    (retrain_products,) = (project / "build" / "retrain").iterdir()
    assert pd.read_parquet(retrain_products / "data" / "new.parquet")[TIME].min() >= pd.Timestamp("2013-10-22")
    assert (project / "reports" / "monitoring" / f"retrain-{retrain_products.name}" / "promotion.json").is_file()
    # the project's own build is left as it was (a rejected model never replaces the champion's data)
    assert pd.read_parquet(project / "build" / "data" / "new.parquet")[TIME].min() < pd.Timestamp("2013-10-02")
    state = project / "reports" / "monitoring" / "champion_build.json"
    if gate["kind"] == "promoted":
        recorded = json.loads(state.read_text())
        assert recorded["version"] == gate["model_version"] and recorded["products"].endswith(retrain_products.name)
    else:
        assert not state.exists()
    assert (project / "reports" / "monitoring" / "decisions.md").read_text().count("| retrain |") == 1

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # MLflow exports the last URI it was pointed at
    settings = settings_module.load(project, overrides=[*QUICK, *SAMPLE, "tracking.experiment=monitoring-test"])
    experiment_id = tracking.configure(settings, project)
    client = MlflowClient()
    monitor_runs = client.search_runs([experiment_id], "tags.`nbprod.task` = 'monitor'")
    standalone = [run for run in monitor_runs if "nbprod.parent" not in run.data.tags]
    assert len(standalone) == 1
    tags = standalone[0].data.tags
    assert tags["nbprod.monitor.decision"] == "retrain" and tags["nbprod.monitor.retrain_run"] == retrain["run_id"]
    assert tags["nbprod.monitor.gate"] == gate["kind"]
    assert client.get_run(retrain["run_id"]).data.tags["nbprod.monitor.run"] == standalone[0].info.run_id
    assert len(client.get_metric_history(standalone[0].info.run_id, "drift_share")) == 3

    again = nbprod(project, "monitor", "--data", str(batch), "--no-retrain", "--no-snapshot",
                   *sets("monitor.drift_share=0.2", "monitor.min_rows=20"))
    assert again.returncode == 0, again.stderr
    rerun = json.loads((project / "reports" / "monitoring" / "drift_history.json").read_text())
    assert len(rerun["windows"]) == 3 and rerun["events"][-1]["kind"] == "no_action"


def test_replay_through_a_real_server(sample_build, tmp_path):
    project = copy_of(sample_build, tmp_path)
    done = nbprod(project, "replay", "--start-server", "--weeks", "2", "--batch-size", "50", "--no-retrain",
                  "--no-snapshot",
                  *sets("monitor.min_rows=20"), timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "Week 1 (1 Oct to 8 Oct 2013)" in out and "Week 2 (8 Oct to 15 Oct 2013)" in out
    assert out.count("drift: ") == 2 and out.count("decision: ") == 2 and "served by v" in out
    from nbprod.serving.prediction_log import read_prediction_log

    log = read_prediction_log(project / "build" / "predictions")
    assert len(log) > 0 and log["client_request_id"].str.startswith("replay-").all()
    assert not log["request_id"].str.startswith("replay-").any()  # the join key is the service's own id
    history = json.loads((project / "reports" / "monitoring" / "drift_history.json").read_text())
    assert [w["start"][:10] for w in history["windows"]] == ["2013-10-01", "2013-10-08"]
    assert all(w["model_version"] and w["performance"] for w in history["windows"])
    assert len(history["events"]) == 2


def test_replay_says_clearly_when_the_service_is_not_there(sample_build):
    from nbprod.monitoring.replay import free_port

    project, _, _ = sample_build
    done = nbprod(project, "replay", "--url", f"http://127.0.0.1:{free_port()}", *sets(), timeout=120)
    assert done.returncode == 2
    assert "not reachable" in done.stderr and "--start-server" in done.stderr
