"""``nbprod monitor --data`` on the data shapes real batches come in, against the shared sample build (copied):
a batch without a time column, an integer ``year`` window column."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from project_copy import QUICK, SAMPLE

pytestmark = pytest.mark.slow

TIME = "scheduled_departure"
EXPERIMENT = "monitor-shapes-test"


def copy_of(sample_build, tmp_path):
    project, _, _ = sample_build
    target = tmp_path / "project"
    shutil.copytree(project, target, ignore=shutil.ignore_patterns("predictions", "monitoring"))
    return target


def nbprod(project, *args, timeout=600):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "NBPROD_"))}
    return subprocess.run([sys.executable, "-m", "nbprod.cli", *args, "--project", str(project)],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=project)


def monitor(project, batch, *extra):
    sets = [item for text in (*QUICK, *SAMPLE, f"tracking.experiment={EXPERIMENT}", "monitor.min_rows=20", *extra)
            for item in ("--set", text)]
    return nbprod(project, "monitor", "--data", str(batch), "--no-retrain", "--no-snapshot", *sets)


def history(project):
    return json.loads((project / "reports" / "monitoring" / "drift_history.json").read_text())


def monitor_run(project, settings_overrides=()):
    from mlflow import MlflowClient

    from nbprod import settings as settings_module, tracking

    settings = settings_module.load(project, overrides=[*QUICK, *SAMPLE, f"tracking.experiment={EXPERIMENT}",
                                                        *settings_overrides])
    experiment_id = tracking.configure(settings, project)
    client = MlflowClient()
    (run,) = client.search_runs([experiment_id], "tags.`nbprod.task` = 'monitor'", max_results=1,
                                order_by=["attributes.start_time DESC"])
    return client, run


def test_a_batch_without_a_time_column_is_one_window_or_windows_of_rows(sample_build, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    project = copy_of(sample_build, tmp_path)
    new = pd.read_parquet(project / "build" / "data" / "new.parquet")
    batch = tmp_path / "batch.csv"
    new.drop(columns=[TIME, "late"]).to_csv(batch, index=False)

    done = monitor(project, batch)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "file order" in done.stdout and "Decision:" in done.stdout
    (window,) = history(project)["windows"]
    assert window["rows"] == len(new) and window["drift"]["share"] is not None

    done = monitor(project, batch, "monitor.window=500rows")
    assert done.returncode == 0, done.stderr[-3000:]
    windows = history(project)["windows"]
    assert [w["rows"] for w in windows[1:]] == [min(500, len(new) - i) for i in range(0, len(new), 500)]
    client, run = monitor_run(project)
    stamps = [metric.timestamp for metric in client.get_metric_history(run.info.run_id, "window_rows")]
    assert len(stamps) == len(windows) and all(stamp > 0 for stamp in stamps)


def test_an_integer_year_window_column_gives_yearly_windows_logged_at_their_time(sample_build, tmp_path,
                                                                                 monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    project = copy_of(sample_build, tmp_path)
    new = pd.read_parquet(project / "build" / "data" / "new.parquet")
    batch = tmp_path / "years.csv"
    rows = new.drop(columns=[TIME, "late"]).assign(year=new[TIME].dt.year)
    rows.loc[rows.index[: len(rows) // 3], "year"] = 2014  # a second period
    rows.to_csv(batch, index=False)

    done = monitor(project, batch, "monitor.window_column=year")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    windows = history(project)["windows"]
    assert [(w["start"], w["end"]) for w in windows] == [("2013-01-01T00:00:00", "2014-01-01T00:00:00"),
                                                         ("2014-01-01T00:00:00", "2015-01-01T00:00:00")]
    assert [w["rows"] for w in windows] == [len(rows) - len(rows) // 3, len(rows) // 3]
    client, run = monitor_run(project)
    stamps = [metric.timestamp for metric in client.get_metric_history(run.info.run_id, "window_rows")]
    assert sorted(stamps) == [int(pd.Timestamp("2013-01-01").timestamp() * 1000),
                              int(pd.Timestamp("2014-01-01").timestamp() * 1000)]

    not_a_time = monitor(project, batch, "monitor.window_column=carrier")
    assert not_a_time.returncode == 2 and "column 'carrier' is not a time" in not_a_time.stderr
    assert "Traceback" not in not_a_time.stderr
