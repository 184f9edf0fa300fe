"""Static snapshots and the model report's MLflow reading, on the sample build (slow)."""

from __future__ import annotations

import re
from html import unescape

import pytest

import sample_build
from conftest import DASHBOARDS
from pages import external_loads

pytestmark = pytest.mark.slow


def test_snapshot_task_writes_both_dashboards_with_code_hidden(sample, monkeypatch, tmp_path):
    from nbprod.dashboards import task

    monkeypatch.setenv("MLFLOW_TRACKING_URI", sample.uri)
    for name in ("NBPROD_PROJECT", "NBPROD_SET", "NBPROD_ENV_FILE", "MLFLOW_EXPERIMENT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(sample.project)  # as in a build
    out = tmp_path / "dashboards"
    product = {"model_report": out / "model_report.html", "drift_report": out / "drift_report.html"}
    task.snapshots(product, {"evaluate": "x", "promote": "y", "monitor": "z"}, dashboards=str(DASHBOARDS),
                   products=str(sample.project / "build"), reports=str(sample.reports), target="late",
                   time_column="scheduled_departure", min_rows=str(sample_build.MIN_ROWS),
                   metric="roc_auc")  # as text, like Ploomber
    model = product["model_report"].read_text()
    drift = product["drift_report"].read_text()
    first = sample.summary["first"]["version"]
    assert re.search(rf'class="nbprod-headline good">Model v{first} \(.+\) is serving\. On [\d,]+ test rows', model)
    latest = sample.headline_window["drift"]
    assert (f"Model v{first} is serving; {latest['n_drifted']} of {latest['n_columns']} features drifted "
            "in the latest") in drift
    assert "Showing the latest build" in model and "Showing the window of the headline" in drift
    for html in (model, drift):
        assert "could not be shown" not in html
        assert "Pick a" not in html  # no picker in a snapshot
        assert str(sample.project) not in html  # paths relative to the project
        assert "nan)" not in html and "vnan" not in html
        assert html.count("<img") >= 3
        assert "from nbprod" not in html and "ui.selector" not in html and "def show_" not in html
        assert "hl-ipython3" not in html and "load_context(" not in html  # no code cell input in the page
        assert "Traceback" not in html and "widget-dropdown" not in html  # static: no pickers
        assert external_loads(html) == []  # opens offline
    assert not list(out.glob(".*.tmp"))  # written atomically, nothing left behind


def test_drift_snapshot_without_monitoring_shows_the_pipelines_check(sample, tmp_path):
    from nbprod.dashboards.snapshot import dashboard_env, write_snapshots

    empty = tmp_path / "empty-reports"
    no_monitoring = [f"reports={empty}", f"monitor.reports={empty / 'monitoring'}"]
    env = dashboard_env(sample.project, None, no_monitoring, sample.uri, base=sample.env())
    written = write_snapshots(DASHBOARDS, tmp_path / "out", env, names=["drift_report"])
    html = written["drift_report"].read_text()
    assert (sample.project / "build" / "monitoring" / "pipeline_drift.json").is_file()  # the monitor task's
    assert "from the pipeline's check of the held-back months; no live monitoring yet" in unescape(html)
    assert "features drifted in the latest" in html and html.count("<img") >= 2

    env = dashboard_env(sample.project, None, no_monitoring + [f"products={tmp_path / 'no-build'}"], sample.uri,
                        base=sample.env())
    html = write_snapshots(DASHBOARDS, tmp_path / "out2", env, names=["drift_report"])["drift_report"].read_text()
    assert "No monitoring data yet: no drift check has been recorded" in html
    assert "Traceback" not in html and not empty.exists()


def test_model_snapshot_of_an_empty_store_says_so_without_errors(sample, tmp_path):
    from nbprod.dashboards.snapshot import dashboard_env, write_snapshots

    env = dashboard_env(sample.project, None, [], f"sqlite:///{tmp_path / 'empty.db'}", base=sample.env())
    html = write_snapshots(DASHBOARDS, tmp_path / "out", env, names=["model_report"])["model_report"].read_text()
    assert "No model is serving yet: no version holds the" in html
    assert "No build found in the MLflow store yet" in html and "Traceback" not in html
    assert not (tmp_path / "empty.db").exists()  # reading did not create the store


def test_a_failing_dashboard_shows_a_plain_message(sample, tmp_path):
    from nbprod.dashboards.snapshot import dashboard_env, write_snapshots

    env = dashboard_env(sample.project, None, ["products=["], sample.uri, base=sample.env())  # unusable settings
    for name in ("model_report", "drift_report"):
        html = write_snapshots(DASHBOARDS, tmp_path / name, env, names=[name])[name].read_text()
        assert "could not be shown:" in html and "Traceback" not in html


def test_model_report_reads_builds_versions_and_scores_on_one_holdout(sample, monkeypatch):
    from nbprod.dashboards import context, model_data

    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    ctx = context.load_context({"NBPROD_PROJECT": str(sample.project), "MLFLOW_TRACKING_URI": sample.uri})
    report = model_data.load_report(ctx)
    assert len(report.builds) == 1 and report.builds[0].best
    assert report.versions["version"].tolist() == [1, 2]
    assert report.versions["decision"].tolist() == ["promoted", "rejected"]
    assert report.champion["version"] == 1 and report.has_holdout
    comparison = model_data.compare(report, report.builds[0])
    assert not comparison.notes
    labels = list(comparison.results)
    assert labels[0] == comparison.champion_label and labels[-1] == model_data.BASELINE_LABEL
    assert len(labels) == 1 + 4  # the champion (one of the build's 4 candidates) + 3 others + baseline
    assert comparison.results[labels[0]]["roc_auc"] > comparison.results[model_data.BASELINE_LABEL]["roc_auc"]
    assert not report.importance.empty  # the serving model's (v1 is its build's best)
    headline = model_data.champion_summary(report, comparison)
    assert headline.startswith("Model v1 (") and "v2 rejected" in headline
