"""The drift history file and one monitoring pass on small synthetic data (no MLflow): edge cases, no duplicates."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from nbprod.project import Project
from nbprod.monitoring import history
from nbprod.monitoring.monitor import attach_labels, run_pass
from project_copy import REPO


@pytest.fixture
def project(tmp_path):
    """Settings pointing at a tiny synthetic build (train split) in ``tmp_path``."""
    rng = np.random.default_rng(0)
    n = 3000
    train = pd.DataFrame({
        "scheduled_departure": pd.date_range("2013-01-01", periods=n, freq="h"),
        "temp": rng.normal(40, 10, n), "distance": rng.normal(1000, 300, n),
        "origin": rng.choice(["EWR", "JFK", "LGA"], n), "late": rng.integers(0, 2, n),
    })
    (tmp_path / "build" / "data").mkdir(parents=True)
    train.to_parquet(tmp_path / "build" / "data" / "train.parquet")
    catalog = Project.load(REPO, overrides=[
        f"products={tmp_path / 'build'}", f"monitor.reports={tmp_path / 'monitoring'}", "monitor.min_rows=50",
        "monitor.retrain=false"])
    return tmp_path, catalog


def rows(start, n, temp=40.0, seed=1, hours=1, distance=1000.0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "scheduled_departure": pd.date_range(start, periods=n, freq=f"{hours}h"),
        "temp": rng.normal(temp, 10, n), "distance": rng.normal(distance, 300, n),
        "origin": rng.choice(["EWR", "JFK", "LGA"], n),
    })


def read(tmp_path):
    return json.loads((tmp_path / "monitoring" / "drift_history.json").read_text())


def test_history_shape_and_rerun_does_not_duplicate_windows(project):
    tmp_path, catalog = project
    data = pd.concat([rows("2013-10-01", 24 * 14, temp=75, distance=1500), rows("2013-10-15", 24 * 7, temp=40, seed=2)])
    first = run_pass(catalog, data, "test rows", track=False)
    recorded = read(tmp_path)
    assert set(recorded) == {"reference", "windows", "events"}
    assert recorded["reference"]["rows"] == 3000 and recorded["reference"]["path"].endswith("train.parquet")
    assert [w["start"] for w in recorded["windows"]] == ["2013-10-01T00:00:00", "2013-10-08T00:00:00",
                                                         "2013-10-15T00:00:00"]
    window = recorded["windows"][0]
    assert set(window) == {"start", "end", "rows", "model_version", "drift", "performance"}
    assert window["end"] == "2013-10-08T00:00:00" and window["rows"] == 168
    assert window["drift"]["drifted"] is True and "temp" in [c["column"] for c in window["drift"]["columns"]
                                                             if c["drifted"]]
    assert recorded["windows"][2]["drift"]["drifted"] is False
    event = recorded["events"][0]
    assert set(event) == {"time", "kind", "reason", "window", "run_id", "model_version"}
    # 2 of the last 3 drifted: due, but monitor.retrain is false -> recorded only
    assert first.decision.retrain and event["kind"] == "no_action" and "monitor.retrain is false" in event["reason"]

    second = run_pass(catalog, data, "test rows", track=False)
    again = read(tmp_path)
    assert len(again["windows"]) == 3 and len(again["events"]) == 2
    assert second.checked == []  # nothing new: the recorded windows are kept as they were
    grown = pd.concat([data, rows("2013-10-21", 10, seed=3)])
    third = run_pass(catalog, grown, "test rows", track=False)
    assert [w["start"] for w in third.checked] == ["2013-10-15T00:00:00"]
    assert len(read(tmp_path)["windows"]) == 3 and read(tmp_path)["windows"][2]["rows"] == 178
    decisions = (tmp_path / "monitoring" / "decisions.md").read_text()
    assert decisions.count("| no_action |") == 3 and "2013-10-15T00:00:00" in decisions


def test_a_batch_with_part_of_a_recorded_week_replaces_it_and_says_so(project):
    tmp_path, catalog = project
    run_pass(catalog, rows("2013-10-01", 24 * 7), "whole week", track=False)
    part = run_pass(catalog, rows("2013-10-01", 24 * 3, seed=4), "first three days", track=False)
    assert read(tmp_path)["windows"][0]["rows"] == 72
    [note] = [text for text in part.notes if "recorded with" in text]
    assert note.startswith("window 2013-10-01 .. 2013-10-08 was recorded with 168 row(s)") and "72" in note
    unchanged = run_pass(catalog, rows("2013-10-01", 24 * 3, seed=4), "the same again", track=False)
    assert not [text for text in unchanged.notes if "recorded with" in text]


def test_empty_log_is_no_data(project):
    from nbprod.serving.prediction_log import empty_log_frame

    tmp_path, catalog = project
    report = run_pass(catalog, empty_log_frame(), "the empty log", track=False)
    assert not report.decision.retrain and report.decision.reason.startswith("no data")
    recorded = read(tmp_path)
    assert recorded["windows"] == [] and recorded["events"][0]["kind"] == "no_action"


def test_one_row_window_all_rows_in_one_window_and_a_missing_column(project):
    tmp_path, catalog = project
    one = run_pass(catalog, rows("2013-10-02", 1), "one row", track=False)
    assert one.windows[0]["rows"] == 1 and not one.decision.retrain and "enough rows" in one.decision.reason
    lacking = rows("2013-10-29", 100, hours=1).drop(columns=["distance"])
    report = run_pass(catalog, lacking, "no distance", track=False)
    assert len(report.windows) == 1 and report.windows[0]["rows"] == 100
    distance = next(c for c in report.windows[0]["drift"]["columns"] if c["column"] == "distance")
    assert distance["status"] == "missing_column" and distance["drifted"] is True
    assert any("distance" in note for note in report.notes)


def test_rows_without_the_time_column_use_the_request_time(project):
    tmp_path, catalog = project
    data = rows("2013-10-01", 60).drop(columns=["scheduled_departure"])
    data.insert(0, "time", pd.Timestamp("2026-01-05T10:00", tz="UTC"))
    report = run_pass(catalog, data, "log without a data time", track=False)
    assert report.window_column == "time" and len(report.windows) == 1


def test_labels_join_on_request_id_and_row_and_give_performance(project):
    tmp_path, catalog = project
    data = rows("2013-10-01", 200)
    data["request_id"] = [f"r{i // 10}" for i in range(200)]
    data["row"] = [i % 10 for i in range(200)]
    rng = np.random.default_rng(5)
    truth = rng.integers(0, 2, 200)
    data["probability"] = np.clip(truth * 0.3 + rng.uniform(0, 0.7, 200), 0, 1)
    labels = pd.DataFrame({"request_id": data["request_id"], "row": data["row"].astype(str), "late": truth})
    joined, key = attach_labels(data, labels.sample(frac=1, random_state=0), "late")
    assert key == ["request_id", "row"] and (joined["late"].to_numpy() == truth).all()
    report = run_pass(catalog, joined, "labelled", track=False)
    performance = report.windows[0]["performance"]
    assert performance["metric"] == "roc_auc" and 0.6 < performance["value"] <= 1
    with pytest.raises(Exception, match="late"):
        attach_labels(data, labels.drop(columns=["late"]), "late")


def test_merge_windows_replaces_by_start_and_end():
    data = history.empty()
    history.merge_windows(data, [{"start": "a", "end": "b", "rows": 1}, {"start": "b", "end": "c", "rows": 1}])
    history.merge_windows(data, [{"start": "a", "end": "b", "rows": 5}])
    assert sorted((w["start"], w["rows"]) for w in data["windows"]) == [("a", 5), ("b", 1)]
    with pytest.raises(ValueError):
        history.event("maybe", "no such kind")
    data["events"] = [history.event("retrain", "x", "2013-10-08T00:00:00"), history.event("no_action", "y", "z")]
    assert history.last_retrain_window(data) == "2013-10-08T00:00:00"


def test_no_champion_yet_checks_drift_and_skips_performance(project, monkeypatch):
    from mlflow import MlflowClient

    tmp_path, catalog = project
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    data = rows("2013-10-01", 100)
    data["late"] = np.random.default_rng(0).integers(0, 2, 100)  # labels, but no model to score them
    report = run_pass(catalog, data, "labelled rows, empty registry")
    assert "no champion yet: drift checked, performance skipped" in report.notes
    assert report.windows[0]["performance"] is None and report.windows[0]["drift"]["status"] == "ok"
    run = MlflowClient().get_run(report.monitor_run_id)
    assert run.data.tags["nbprod.task"] == "monitor" and run.data.tags["nbprod.monitor.decision"] == "no_action"
    assert run.info.status == "FINISHED" and run.data.metrics["windows"] == 1
    assert read(tmp_path)["events"][0]["run_id"] == report.monitor_run_id


def test_on_decision_sees_the_recorded_decision(project):
    tmp_path, catalog = project
    data = pd.concat([rows("2013-10-01", 24 * 14, temp=75, distance=1500)])
    seen = []

    def on_decision(report):
        seen.append((report.decision.retrain, report.outcome, read(tmp_path)["events"][-1]["kind"]))

    report = run_pass(catalog, data, "test rows", track=False, on_decision=on_decision)
    assert seen == [(True, None, "no_action")] and report.decision.retrain


def test_the_champions_build_is_the_reference_only_while_it_is_champion(project):
    from nbprod.monitoring import builds

    tmp_path, catalog = project
    settings = catalog.settings
    assert builds.champion_products(catalog, "3") == settings["products"]  # nothing recorded
    folder = tmp_path / "build" / "retrain" / "20131022T000000"
    (folder / "data").mkdir(parents=True)
    builds.record_champion(catalog, "3", str(folder), "run-1", {"roc_auc": 0.69})
    assert builds.champion_products(catalog, "3") == str(folder)
    # the quality the gate last measured is what the windows are expected to reach, for that version only
    assert builds.champion_metric(catalog, "3", "roc_auc") == 0.69
    assert builds.champion_metric(catalog, "4", "roc_auc") is None
    assert builds.champion_metric(catalog, "3", "rmse") is None
    assert builds.for_champion(catalog, "3").split("train") == folder / "data" / "train.parquet"
    assert builds.champion_products(catalog, "4") == settings["products"]  # another champion since
    assert builds.champion_products(catalog, None) == settings["products"]
    overrides = builds.retrain_folders({"products": "build", "monitor": {"reports": "reports/monitoring"}}, "X")
    assert overrides == ['products="build/retrain/X"', 'reports="reports/monitoring/retrain-X"']


@pytest.mark.parametrize("name, content, message", [
    ("empty.csv", b"", "is empty (0 bytes)"),
    ("binary.csv", bytes(range(256)) * 4, "could not be parsed"),
    ("header.csv", b"temp,distance\n", "has no rows"),
    ("batch.xlsx", b"x", "unknown format"),
    ("missing.csv", None, "does not exist"),
])
def test_unreadable_batches_are_monitor_errors_naming_the_file(tmp_path, name, content, message):
    from nbprod.monitoring.check import MonitorError
    from nbprod.monitoring.monitor import read_rows

    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(MonitorError, match=re.escape(message)) as error:
        read_rows(path)
    assert str(path) in str(error.value)


def test_the_logs_description_names_the_time_bounds(tmp_path):
    import argparse

    from nbprod.monitoring.command import load_rows

    catalog = Project.load(REPO, overrides=[f"serve.prediction_log={tmp_path / 'log'}"])
    args = argparse.Namespace(data=None, since="2030-01-01", until="2030-02-01")
    rows, source = load_rows(args, catalog)
    assert rows.empty
    assert source == f"the prediction log {tmp_path / 'log'} (requests since 2030-01-01 and before 2030-02-01)"
    args = argparse.Namespace(data=None, since=None, until=None)
    assert load_rows(args, catalog)[1] == f"the prediction log {tmp_path / 'log'}"


def test_a_batch_without_a_time_column_is_one_window_or_windows_of_rows(project):
    tmp_path, catalog = project
    batch = rows("2013-10-01", 250).drop(columns=["scheduled_departure"])
    report = run_pass(catalog, batch, "no-time.csv", track=False)
    assert report.window_column is None and [w["rows"] for w in report.windows] == [250]
    assert any("file order" in note for note in report.notes)
    report = run_pass(catalog.with_overrides(["monitor.window=100rows"]), batch, "no-time.csv", track=False)
    assert [w["rows"] for w in report.windows] == [100, 100, 50]
    assert report.decision.reason and len(read(tmp_path)["windows"]) == 4  # one pass after the other: new windows


def test_an_integer_year_window_column_gives_one_window_per_year(project):
    tmp_path, catalog = project
    batch = pd.concat([rows("2013-10-01", 120).assign(year=2013), rows("2014-10-01", 80, seed=2).assign(year=2014)])
    report = run_pass(catalog.with_overrides(["monitor.window_column=year"]), batch, "years.csv", track=False)
    assert [(w["start"], w["end"], w["rows"]) for w in report.windows] == [
        ("2013-01-01T00:00:00", "2014-01-01T00:00:00", 120), ("2014-01-01T00:00:00", "2015-01-01T00:00:00", 80)]


def test_metric_times_are_the_window_start_or_the_pass_time_never_negative():
    from nbprod.monitoring.monitor import metric_time

    assert metric_time("2013-01-01T00:00:00", 5) == 1356998400000
    assert metric_time("1950-01-01T00:00:00", 5) == 5 and metric_time("garbage", 5) == 5


def test_a_project_without_a_time_column_monitors_its_batches_in_file_order(project):
    tmp_path, catalog = project
    # random split: the reference's scheduled_departure is just a column
    report = run_pass(catalog.with_overrides(["data.time_column=null"]), rows("2013-10-01", 300), "batch.csv", track=False)
    assert report.window_column is None and [w["rows"] for w in report.windows] == [300]
    assert report.decision.reason


def test_two_passes_at_once_start_at_most_one_retraining(project, monkeypatch):
    """Both passes are started together and, without the monitor lock, both would read the history before
    either recorded its decision (a barrier makes them meet there); with it the second reads the first's
    ``retrain`` event and does not retrain the same windows again."""
    import threading

    from nbprod.monitoring import monitor

    tmp_path, catalog = project
    catalog = catalog.with_overrides(["monitor.retrain=true"])
    data = pd.concat([rows("2013-10-01", 24 * 14, temp=75, distance=1500), rows("2013-10-15", 24 * 7, temp=40, seed=2)])
    started = []
    monkeypatch.setattr(monitor, "_retrain", lambda *args, **kwargs: started.append(args[1].decision.window))
    meet, real_read = threading.Barrier(2), history.read

    def read_together(path):
        try:
            meet.wait(timeout=2)  # the second pass waits on the lock instead: the barrier times out
        except threading.BrokenBarrierError:
            pass
        return real_read(path)

    monkeypatch.setattr(history, "read", read_together)
    reports = []
    passes = [threading.Thread(target=lambda: reports.append(run_pass(catalog, data, "rows", track=False)))
              for _ in range(2)]
    for thread in passes:
        thread.start()
    for thread in passes:
        thread.join(60)
    assert len(reports) == 2 and len(started) == 1
    assert [event["kind"] for event in read(tmp_path)["events"]] == ["retrain", "no_action"]


def test_labels_are_never_joined_on_the_clients_request_id():
    from nbprod.monitoring.check import MonitorError

    log = pd.DataFrame({"client_request_id": ["same", "same"], "distance": [1.0, 2.0]})  # two clients, one id
    labels = pd.DataFrame({"client_request_id": ["same"], "distance": [1.0], "late": [1]})
    _, key = attach_labels(log, labels, "late")
    assert key == ["distance"]
    with pytest.raises(MonitorError, match="client_request_id"):
        attach_labels(log, labels, "late", ["client_request_id"])
