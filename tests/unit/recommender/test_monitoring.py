"""A recommender's monitoring (:mod:`nbprod.recommender.monitoring`): answers read back from a real prediction
log, feedback joined on user and time (never on the client's request id), the window figures and the k-of-n
decision; and ``nbprod monitor --labels`` on a project written by ``nbprod new --template recommender``."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pandas as pd
import pytest
from alert_receiver import Receiver

from nbprod import cli
from nbprod.monitoring import trigger
from nbprod.recommender import monitoring
from nbprod.serving import recommend
from nbprod.serving.prediction_log import PredictionLogWriter, read_prediction_log

MONITOR = {"window": "7D", "horizon": "3D", "min_rows": 2, "trigger_k": 2, "trigger_n": 3,
           "popularity_drift": 0.5, "new_item_share": 0.3, "cold_start_share": None}
#: Mondays: the windows are calendar weeks (counted from monitoring.WINDOW_ORIGIN).
WEEK1, WEEK2 = pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-08")


def write_log(folder, answers) -> pd.DataFrame:
    """The service's own log writer, fed as ``/recommend`` feeds it: (user, items, path, request id, when)."""
    writer = PredictionLogWriter(folder, 1000, 60.0)
    for user, items, path, request_id, at in answers:
        request = recommend.RecommendRequest(user, len(items))
        found = SimpleNamespace(items=items, scores=[1.0 / (n + 1) for n in range(len(items))], path=path)
        columns, scores = recommend.log_entry(request, found)
        writer.append(recommend.LOG_COLUMNS, columns, scores, None, "movies", "3", request_id,
                      (at - pd.Timestamp("1970-01-01")).total_seconds())
    writer.close()
    return read_prediction_log(folder)


def test_answers_come_back_one_per_request_and_feedback_joins_on_user_and_time_not_request_id(tmp_path):
    # two users sent the same client-chosen X-Request-ID: each answer stays theirs
    log = write_log(tmp_path / "log", [("a", ["x", "y"], "collaborative", "same", WEEK1),
                                       ("b", ["z", "w"], "fallback:global", "same", WEEK1)])
    requests = monitoring.requests_from_log(log)
    assert sorted(map(tuple, requests[["user", "path"]].to_numpy())) == [("a", "collaborative"),
                                                                          ("b", "fallback:global")]
    assert requests.set_index("user").loc["a", "items"] == ["x", "y"]
    later = pd.DataFrame({"user": ["a", "b", "b"], "item": ["y", "y", "z"],
                          "time": [WEEK1 + pd.Timedelta(days=1), WEEK1 + pd.Timedelta(days=1),
                                   WEEK1 + pd.Timedelta(days=5)]})  # b's z comes after the 3-day horizon
    joined = monitoring.join_feedback(requests, later, pd.Timedelta("3D")).set_index("user")
    assert joined.loc["a", ["feedback", "hit"]].tolist() == [True, True]
    assert joined.loc["b", ["feedback", "hit"]].tolist() == [True, False]  # y was shown to a, not to b


def test_window_figures_and_their_drift_verdict():
    reference = pd.Series({"x": 50, "y": 30, "z": 20})
    requests = pd.DataFrame({"user": ["a", "b", "c", "d"], "time": [WEEK1] * 4,
                             "path": ["collaborative", "fallback:global", "fallback:segment", "collaborative"],
                             "model_version": ["3"] * 4, "items": [["x"], ["y"], ["z"], ["x"]]})
    same = pd.DataFrame({"user": ["a", "b"] * 5, "item": ["x"] * 5 + ["y"] * 3 + ["z"] * 2,
                         "time": [WEEK1 + pd.Timedelta(hours=1)] * 10})
    shifted = same.assign(item=["new1"] * 6 + ["z"] * 4)
    entries = monitoring.window_entries(requests, same, reference, MONITOR)
    [entry] = entries
    figures = entry["recommender"]
    assert (entry["start"], entry["end"], entry["rows"]) == ("2024-01-01T00:00:00", "2024-01-08T00:00:00", 4)
    assert figures["cold_start_share"] == 0.5 and figures["new_item_share"] == 0.0
    assert figures["popularity_js"] == pytest.approx(0.0, abs=1e-9)
    assert figures["hit_rate"] == 1.0 and figures["labelled_requests"] == 2  # a saw x, b saw y: both hit
    assert entry["drift"]["drifted"] is False and entry["performance"]["metric"] == "hit_rate"
    [moved] = monitoring.window_entries(requests, shifted, reference, MONITOR)
    assert moved["recommender"]["new_item_share"] == 0.6 and moved["recommender"]["popularity_js"] > 0.5
    assert moved["drift"]["drifted"] is True
    assert {c["column"] for c in moved["drift"]["columns"] if c["drifted"]} == {"popularity_js", "new_item_share"}


def test_the_tabular_k_of_n_rule_decides_on_recommender_windows():
    reference = pd.Series({"x": 10})
    windows = []
    for week, item in ((WEEK1, "new"), (WEEK2, "new")):
        requests = pd.DataFrame({"user": ["a", "b"], "time": [week] * 2, "path": ["collaborative"] * 2,
                                 "model_version": ["3"] * 2, "items": [["x"], ["x"]]})
        later = pd.DataFrame({"user": ["a"], "item": [item], "time": [week + pd.Timedelta(hours=2)]})
        windows += monitoring.window_entries(requests, later, reference, MONITOR)
    votes = [trigger.Vote.from_window(w) for w in windows]
    decision = trigger.decide(votes, trigger.Rules(2, 3, 2))
    assert decision.retrain and decision.trigger == "drift" and decision.window == "2024-01-08T00:00:00"
    floor = trigger.decide(votes[:1], trigger.Rules(2, 3, 2, performance_floor=0.5))
    assert floor.retrain and floor.trigger == "performance" and "hit_rate 0.000" in floor.reason


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A recommender project written by ``nbprod new``, its training history as a build leaves it, and two weeks
    of ``/recommend`` answers in its prediction log (no build: no registry, no champion)."""
    for name in [name for name in __import__("os").environ if name.startswith("MLFLOW_")]:
        monkeypatch.delenv(name)
    folder = tmp_path / "movies"
    assert cli.main(["new", str(folder), "--template", "recommender"]) == 0
    (folder / "build" / "data").mkdir(parents=True)
    pd.DataFrame({"user": [f"u{n % 7}" for n in range(60)], "item": [f"{n % 6}" for n in range(60)],
                  "time": WEEK1 - pd.Timedelta(days=30)}).to_parquet(folder / "build" / "data" / "history.parquet")
    answers = [(f"u{n}", ["0", "1", "2"], "collaborative" if n < 4 else "fallback:global", f"r{n}",
                week + pd.Timedelta(hours=n)) for week in (WEEK1, WEEK2) for n in range(6)]
    write_log(folder / "build" / "predictions", answers)
    monkeypatch.chdir(folder)
    return folder


@pytest.mark.slow
def test_nbprod_monitor_labels_records_each_week_and_the_decision_in_history_and_mlflow(project, capsys,
                                                                                      monkeypatch):
    # the later interactions in the data's own column names: week 1 as at training, week 2 all new items
    labels = pd.DataFrame({"userId": [f"u{n}" for n in range(6)] * 2,
                           "movieId": ["0", "1", "2", "0", "5", "3"] + ["new"] * 6,
                           "timestamp": [int((week + pd.Timedelta(hours=n + 1) - pd.Timestamp("1970-01-01"))
                                             .total_seconds()) for week in (WEEK1, WEEK2) for n in range(6)]})
    labels.to_csv(project / "later.csv", index=False)
    with Receiver() as hook:  # the team's webhook, alerted through nbprod.alerts as the tabular monitor does
        monkeypatch.setenv("TEST_RECOMMENDER_ALERT_URL", hook.url)
        assert cli.main(["monitor", "--labels", "later.csv", "--no-retrain", "--no-snapshot",
                         "--set", "monitor.min_rows=3", "--set", "monitor.trigger_k=1",
                         "--set", "alerts.webhooks=[{url_env: TEST_RECOMMENDER_ALERT_URL, format: slack}]"]) == 0
    (alert,) = hook.bodies  # retraining is off: no "retraining started"
    assert alert["text"].startswith("*Dataset drift*: the data drifted in 1 of the last") and "runs:/" in alert["text"]
    out = capsys.readouterr().out
    assert "Monitored 12 /recommend answer(s)" in out and "retrain due (record only" in out
    data = json.loads((project / "reports" / "monitoring" / "drift_history.json").read_text())
    first, second = data["windows"]
    assert first["recommender"]["hit_rate"] == pytest.approx(4 / 6)  # u4 (5) and u5 (3) not shown
    assert first["recommender"]["cold_start_share"] == pytest.approx(2 / 6) and first["drift"]["drifted"] is False
    assert second["recommender"]["new_item_share"] == 1.0 and second["drift"]["drifted"] is True
    assert data["events"][-1]["kind"] == "no_action" and data["events"][-1]["window"] == second["start"]
    assert (project / "reports" / "monitoring" / "decisions.md").is_file()

    from nbprod.tracking import client_for, tags

    client = client_for(f"sqlite:///{project / 'mlflow.db'}")
    [run] = client.search_runs([client.get_experiment_by_name("movies").experiment_id],
                               tags.equals(tags.TASK, "monitor"))
    assert run.data.tags[tags.MONITOR_RETRAIN_DUE] == "true" and run.data.tags[tags.MONITOR_TRIGGER] == "drift"
    assert [m.value for m in client.get_metric_history(run.info.run_id, "window_new_item_share")] == [0.0, 1.0]

    # the same pass with retraining on: one build (the pipeline, whose promote task is the recommender gate) in
    # its own folders, on the data and the labels together. The build itself is the sampled build of
    # tests/scaffold/test_new_recommender.py; here it is the retrain module's runner answering as the gate did.
    from nbprod.monitoring import retrain

    calls = []

    def gate_promotes(catalog, overrides, log_path=None, timeout_s=None):
        calls.append(list(overrides))
        return retrain.Outcome(True, list(overrides), "parent123", "promoted", "2", None,
                               "promoted: ndcg@10 0.31 vs popularity baseline 0.25", {"ndcg@10": 0.31})

    monkeypatch.setattr(retrain, "run", gate_promotes)
    assert cli.main(["monitor", "--labels", "later.csv", "--no-snapshot", "--set", "monitor.min_rows=3",
                     "--set", "monitor.trigger_k=1"]) == 0
    out = capsys.readouterr().out
    assert "gate PROMOTED v2" in out
    [overrides] = calls
    assert overrides[0].startswith('products="build/retrain/') and overrides[1].startswith('reports="reports/')
    source = overrides[2].split("=", 1)[1].strip('"')
    assert overrides[2].startswith("data.source=") and source.endswith("/data/interactions.parquet")
    assert len(pd.read_parquet(source)) == 100_004 + len(labels)  # MovieLens and the later interactions
    data = json.loads((project / "reports" / "monitoring" / "drift_history.json").read_text())
    retrained, promoted = data["events"][-2:]
    assert (retrained["kind"], retrained["run_id"]) == ("retrain", "parent123")
    assert (promoted["kind"], promoted["model_version"]) == ("promoted", "2")
    assert "promotion gate" in promoted["reason"]
    champion = json.loads((project / "reports" / "monitoring" / "champion_build.json").read_text())
    assert champion["version"] == "2" and champion["products"].startswith("build/retrain/")
    latest = client.search_runs([run.info.experiment_id], tags.equals(tags.TASK, "monitor"),
                                order_by=["attributes.start_time DESC"])[0]
    assert latest.data.tags[tags.MONITOR_GATE] == "promoted" and latest.data.tags[tags.MONITOR_MODEL_VERSION] == "2"
    assert latest.data.tags[tags.MONITOR_RETRAIN_RUN] == "parent123"


def test_a_log_without_recommend_answers_or_unusable_labels_is_a_one_line_error(project, capsys):
    pd.DataFrame({"who": ["a"]}).to_csv(project / "bad.csv", index=False)
    assert cli.main(["monitor", "--labels", "bad.csv", "--no-retrain"]) == 2
    error = capsys.readouterr().err
    assert "--labels needs a user column: 'userId' (setting data.user)" in error and error.count("\n") == 1
    assert cli.main(["monitor", "--data", "bad.csv"]) == 2
    assert "for tabular projects" in capsys.readouterr().err


def test_refreshed_source_holds_the_data_and_the_labels(tmp_path):
    source = tmp_path / "clicks.csv"
    pd.DataFrame({"visitor": ["a", "b"], "product": ["x", "y"], "at": ["2024-01-01", "2024-01-02"]}).to_csv(
        source, index=False)
    folder = tmp_path / "shop"
    assert cli.main(["new", str(folder), "--template", "recommender", "--data", str(source), "--user", "visitor",
                     "--item", "product", "--time", "at"]) == 0
    from nbprod.project import Project

    labels = pd.DataFrame({"visitor": ["c"], "product": ["z"], "at": ["2024-02-01"]})
    overrides, note = monitoring.refreshed_source(Project.load(folder), labels, tmp_path / "out")
    assert overrides == [f'data.source="{(tmp_path / "out" / "interactions.parquet").as_posix()}"']
    assert pd.read_parquet(tmp_path / "out" / "interactions.parquet")["visitor"].tolist() == ["a", "b", "c"]
    assert "2 interaction(s) of data.source and 1 of the labels" in note
    assert monitoring.refreshed_source(Project.load(folder), labels.rename(columns={"at": "when"}),
                                       tmp_path / "o2")[0] == []
