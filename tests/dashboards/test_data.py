"""Fast tests of the dashboards' data, figure and display helpers (no MLflow, no kernel)."""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from nbprod.dashboards import command, context, drift_data, figures, model_data, snapshot, task, ui


# -- context ------------------------------------------------------------------------------------


def test_context_resolves_project_settings_and_store_from_the_environment(project, tmp_path):
    ctx = context.load_context({"NBPROD_PROJECT": str(project), "NBPROD_SET": "reports=elsewhere; seed=7; monitor.reports=mon"})
    assert ctx.project == project.resolve()
    assert ctx.settings["seed"] == 7 and ctx.reports == project.resolve() / "elsewhere"
    assert ctx.products == project.resolve() / "build"
    assert ctx.tracking_uri == f"sqlite:///{project.resolve() / 'mlflow.db'}"  # relative SQLite made absolute
    assert ctx.drift_history_path == project.resolve() / "mon" / "drift_history.json"
    assert ctx.window_column == ctx.time_column == "scheduled_departure"
    assert not ctx.static and ctx.experiment_id is None

    other = tmp_path / "other.yaml"
    other.write_text((project / "env.yaml").read_text().replace("target: late", "target: delayed"))
    ctx = context.load_context({"NBPROD_PROJECT": str(project), "NBPROD_ENV_FILE": str(other),
                                "MLFLOW_TRACKING_URI": "sqlite:////x/y.db", "MLFLOW_EXPERIMENT_ID": "5",
                                "NBPROD_DASHBOARD_STATIC": "1"})
    assert ctx.target == "delayed" and ctx.tracking_uri == "sqlite:////x/y.db"
    assert ctx.experiment_id == "5" and ctx.static


def test_context_finds_the_project_above_the_working_directory(project):
    folder = project / "notebooks" / "dashboards"
    folder.mkdir(parents=True)
    assert context.load_context({}, cwd=folder).project == project.resolve()


def test_parse_set_and_static_flag():
    assert context.parse_set(" a=1; b.c=x ;;") == ["a=1", "b.c=x"]
    assert context.parse_set(None) == []
    assert context.is_static({"NBPROD_DASHBOARD_STATIC": "yes"})
    assert not context.is_static({"NBPROD_DASHBOARD_STATIC": "0"}) and not context.is_static({})


# -- model data -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeVersion:
    version: str
    created_ms: int | None
    tags: dict = field(default_factory=dict)
    aliases: tuple = ()
    run_id: str | None = None


def gate_tags(decision: str, value: float, failed: tuple[str, ...] = ()) -> dict:
    reasons = [{"check": check, "passed": check not in failed, "detail": f"{check} detail"}
               for check in ("metric", "size", "memory", "latency", "schema")]
    return {"nbprod.gate.decision": decision, "nbprod.gate.reasons": json.dumps(reasons),
            "nbprod.candidate": "linear-C=0.1", "nbprod.metric": "roc_auc", "nbprod.metric.roc_auc": str(value),
            "nbprod.threshold": "0.3"}


VERSIONS = [
    FakeVersion("1", 1_700_000_000_000, gate_tags("promoted", 0.70), ("champion",), "r1"),
    FakeVersion("2", 1_700_100_000_000, gate_tags("rejected", 0.64, ("metric", "latency")), (), "r2"),
    FakeVersion("3", None, {"nbprod.candidate": "hgb-max_leaf_nodes=31"}, (), None),
]


def test_friendly_names_keep_only_the_parameters_that_differ():
    names = model_data.friendly_names(["hgb-learning_rate=0.1-max_leaf_nodes=31",
                                       "hgb-learning_rate=0.1-max_leaf_nodes=63", "linear-C=0.1", "odd-name"])
    assert names == {"hgb-learning_rate=0.1-max_leaf_nodes=31": "hgb (max_leaf_nodes=31)",
                     "hgb-learning_rate=0.1-max_leaf_nodes=63": "hgb (max_leaf_nodes=63)",
                     "linear-C=0.1": "linear", "odd-name": "odd-name"}
    assert model_data.split_name("a-b=1-c=x") == ("a", {"b": "1", "c": "x"})


def test_versions_table_reads_the_gate_tags():
    table = model_data.versions_table(VERSIONS, None)
    assert table["version"].tolist() == [1, 2, 3]
    assert table["decision"].tolist() == ["promoted", "rejected", ""]
    assert table["serving"].tolist() == [True, False, False]
    assert table.loc[0, "why"] == "passed all 5 checks"
    assert table.loc[1, "why"] == "metric: metric detail; latency: latency detail"
    assert table.loc[1, "plain"] == "it was not better than the model serving and it answered too slowly"
    assert table.loc[1, "metric_value"] == pytest.approx(0.64) and table.loc[0, "threshold"] == 0.3
    assert table.loc[2, "why"] == "not judged by the gate" and pd.isna(table.loc[2, "created"])
    latest = model_data.latest_decision(table)
    assert latest["version"] == 2
    history = model_data.history_table(table)
    assert history.index.tolist() == ["v3", "v2", "v1"]
    assert history.loc["v3", "gate decision"] == "not judged" and history.loc["v1", "serving now"] == "yes"
    reasons = model_data.reasons_table(table.loc[1, "reasons"])
    assert reasons.loc["metric", "result"] == "failed" and reasons.loc["size", "result"] == "passed"


def test_parse_reasons_tolerates_missing_and_broken_tags():
    assert model_data.parse_reasons(None) == []
    assert model_data.parse_reasons("not json")[0]["passed"] is False
    assert model_data.reason_summary("rejected", []) == "rejected"


def test_headline_in_plain_words_with_numbers():
    performance = model_data.plain_performance("classification", "late", {"roc_auc": 0.7031},
                                               {"roc_auc": 0.5}, recall=0.81, precision=0.2)
    assert performance == ("it catches 81% of the cases that were late, and 20% of the cases it flags really were "
                           "late; it ranks a late case above a non-late one 70% of the time (ROC AUC 0.703; "
                           "a blind guess scores 0.50)")
    table = model_data.versions_table(VERSIONS[:2], None)
    text = model_data.headline({"version": "1", "candidate": "linear"}, performance,
                               {"rows": 1556, "period": "1 Sep 2013 to 30 Sep 2013"},
                               model_data.latest_decision(table))
    assert text.startswith("Model v1 (linear) is serving. On 1,556 test rows from 1 Sep 2013 to 30 Sep 2013, it ")
    assert text.endswith("Latest gate decision: v2 rejected on 16 Nov 2023, because it was not better than the "
                         "model serving and it answered too slowly.")
    assert model_data.headline(None, "", {"rows": 0}, None) == (
        "No model is serving yet: no version holds the 'champion' alias. "
        "The promotion gate has not judged any version yet.")
    regression = model_data.plain_performance("regression", "price", {"mae": 12.345}, {"mae": 20.0})
    assert regression == ("its predictions of price are off by 12.3 on average (MAE), against 20 when always "
                          "predicting the training average")


def test_confusion_rates_period_and_metrics_table():
    recall, precision = model_data.confusion_rates(np.array([1, 1, 0, 0]), np.array([0.9, 0.2, 0.8, 0.1]), 0.5)
    assert (recall, precision) == (0.5, 0.5)
    assert np.isnan(model_data.confusion_rates(np.array([0, 0]), np.array([0.1, 0.2]), 0.5)[0])
    assert model_data.period_text(pd.Series(pd.to_datetime(["2013-09-30", "2013-09-01"]))) == \
        "1 Sep 2013 to 30 Sep 2013"
    assert model_data.period_text(pd.Series([], dtype="datetime64[ns]")) == ""
    table = model_data.metrics_table({"a": {"roc_auc": 0.7, "f1": 0.3}, "b": {"roc_auc": 0.6}}, "classification")
    assert list(table.columns)[:3] == ["ROC AUC", "PR AUC", "F1"] and table.index.tolist() == ["a", "b"]
    assert np.isnan(table.loc["b", "F1"])


# -- drift data -----------------------------------------------------------------------------------


def test_missing_or_broken_history_is_not_an_error(tmp_path):
    missing = drift_data.read_history(tmp_path / "none.json")
    assert missing.empty and missing.problem.startswith("no monitoring data yet")
    text, tone = drift_data.headline(missing, "4")
    assert text.startswith("Model v4 is serving. No monitoring data yet: no drift check has been recorded")
    assert tone == "info"
    assert drift_data.windows_frame(missing).empty and drift_data.events_frame(missing).empty
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert "could not be read" in drift_data.read_history(broken).problem
    broken.write_text('{"windows": []}')
    text, _ = drift_data.headline(drift_data.read_history(broken), None)
    assert text.startswith("No model is serving yet. No monitoring data yet:")


def test_history_frames_from_the_drift_library(project, synthetic_history):
    history = drift_data.read_history(project / "reports" / "monitoring" / "drift_history.json")
    assert history.problem is None and len(history.windows) == 3
    windows = drift_data.windows_frame(history)
    assert windows["n_columns"].tolist() == [4, 4, 4]
    assert windows.loc[0, "label"] == "1 Feb to 8 Feb 2020"
    assert windows.loc[2, "n_drifted"] >= 2 and windows.loc[2, "share"] == windows.loc[2, "n_drifted"] / 4
    assert windows["rows"].sum() == 900
    events = drift_data.events_frame(history)
    assert "retrain" in events["kind"].tolist() and "promoted" in events["kind"].tolist()
    columns = drift_data.columns_frame(history.windows[2])
    drifted = columns["drifted"].fillna(False).astype(bool).tolist()
    assert drifted == sorted(drifted, reverse=True)  # drifted features first
    assert {"x", "colour"} <= set(columns.loc[columns["drifted"] == True, "column"])  # noqa: E712
    readable = drift_data.readable_columns(columns)
    assert {"drifted", "test", "statistic", "threshold"} <= set(readable.columns)
    summary = drift_data.window_summary(history.windows[2])
    assert summary.startswith(f"{windows.loc[2, 'n_drifted']} of 4 features drifted: ")


def test_drift_headline_numbers(project, synthetic_history):
    history = drift_data.read_history(project / "reports" / "monitoring" / "drift_history.json")
    last = synthetic_history["windows"][-1]
    text, tone = drift_data.headline(history, "4")
    assert text.startswith(f"Model v4 is serving; {last['drift']['n_drifted']} of 4 features drifted in the latest "
                           f"window (15 Feb to 22 Feb 2020, {last['rows']:,} predictions).")
    assert "Last action on" in text and "a retrained model was promoted (v4)" in text
    assert tone in ("bad", "warn")
    text, _ = drift_data.headline(history, "4", index=0)
    assert "in the window (1 Feb to 8 Feb 2020" in text


def test_severity_puts_distances_and_pvalues_on_one_scale():
    assert drift_data.severity("wasserstein", 0.2, 0.1, None) == pytest.approx(2.0)
    assert drift_data.severity("ks", 1.0, 0.05, 0.05) == pytest.approx(1.0)
    assert drift_data.severity("chisquare", 9.0, 0.05, 0.0025) == pytest.approx(2.0)
    assert drift_data.severity("chisquare", float("inf"), 0.05, 0.0) == float("inf")
    assert np.isnan(drift_data.severity(None, None, None, None))


def test_window_rows_fall_back_to_the_new_split(project, synthetic_history):
    ctx = context.load_context({"NBPROD_PROJECT": str(project), "NBPROD_SET": "data.time_column=when;data.target=y"})
    window = synthetic_history["windows"][1]
    rows, source = drift_data.window_rows(ctx, window, ["x", "colour", "nope"])
    assert list(rows.columns) == ["x", "colour"] and len(rows) == window["rows"]
    assert "new-data split" in source
    reference, path = drift_data.reference_rows(ctx, drift_data.read_history(ctx.drift_history_path), ["x"])
    assert len(reference) == 1500 and path.endswith("train.parquet")


def test_window_rows_prefer_the_prediction_log(project, synthetic_history):
    from nbprod.serving.prediction_log import PredictionLogWriter

    ctx = context.load_context({"NBPROD_PROJECT": str(project), "NBPROD_SET": "data.time_column=when;data.target=y"})
    writer = PredictionLogWriter(ctx.prediction_log, flush_rows=10_000, flush_seconds=60)
    arrived = pd.Timestamp("2020-02-09T12:00:00", tz="UTC").timestamp()
    writer.append(["x", "colour"], {"x": [1.0, 2.0, 3.0], "colour": ["red", "red", "blue"]}, [1, 0, 1],
                  np.array([[0.2, 0.8], [0.7, 0.3], [0.1, 0.9]]), "m", "3", "req", arrived)
    writer.close()
    rows, source = drift_data.window_rows(ctx, synthetic_history["windows"][1], ["x", "colour"])
    assert len(rows) == 3 and "prediction log" in source


# -- figures and display --------------------------------------------------------------------------


def _png(figure: Figure) -> bytes:
    assert isinstance(figure, Figure)
    data = ui.figure_png(figure, dpi=40)
    assert data.startswith(b"\x89PNG")
    return data


def test_figures_draw(project, synthetic_history):
    history = drift_data.read_history(project / "reports" / "monitoring" / "drift_history.json")
    windows, events = drift_data.windows_frame(history), drift_data.events_frame(history)
    _png(figures.drift_over_time(windows, events, 0.5))
    columns = drift_data.columns_frame(history.windows[2])
    tests = columns.assign(method=["ks", "chisquare"] + columns["method"].tolist()[2:],
                           p_value=[1e-6, 0.2] + columns["p_value"].tolist()[2:])
    tests["pvalue_method"] = tests["method"].isin(drift_data.PVALUE_METHODS)
    _png(figures.drift_bars(tests))
    _png(figures.drift_bars(columns.iloc[0:0]))
    train, new = pd.read_parquet(project / "build/data/train.parquet"), pd.read_parquet(project / "build/data/new.parquet")
    _png(figures.distributions(train, new, ["x", "colour"], {"x": "numeric", "colour": "categorical"}))
    _png(figures.metric_bars({"v1 a, serving": 0.7, "b": 0.6, "naive baseline": 0.5}, "ROC AUC", True,
                             "v1 a, serving"))
    _png(figures.importance_bars(pd.Series({"a": 0.3, "b": 0.1})))
    _png(figures.version_timeline(model_data.versions_table(VERSIONS, None), "ROC AUC"))
    _png(figures.version_timeline(model_data.versions_table([], None), "ROC AUC"))


def test_tables_and_headline_are_escaped():
    frame = pd.DataFrame({"name": ["<b>x</b>"], "value": [0.123456], "count": [1234], "flag": [True]},
                         index=pd.Index(["row"], name="model"))
    html = ui.table_html(frame, highlight=["row"])
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "0.123" in html and "1,234" in html and "yes" in html
    assert '<tr class="hl">' in html
    assert ui.headline_html("a < b", "bad") == '<div class="nbprod-headline bad">a &lt; b</div>'


def test_static_selector_renders_the_default_only():
    seen = []
    assert ui.selector("Pick:", [("one", 1), ("two", 2)], 2, seen.append, static=True) is None
    assert seen == [2]


# -- command, task, snapshot ----------------------------------------------------------------------


def test_voila_command_serves_on_loopback():
    line = command.voila_command(Path("/x/dashboards"), 9001, no_browser=True, python="py")
    assert line[:4] == ["py", "-m", "voila", "/x/dashboards"]
    assert "--Voila.ip=127.0.0.1" in line and "--port=9001" in line and "--no-browser" in line
    assert "--show_tracebacks=True" in line
    import argparse

    parser = argparse.ArgumentParser()
    command.configure(parser)
    args = parser.parse_args([])
    assert args.port == command.DEFAULT_PORT == 8866 and not args.no_browser and not args.snapshot


def test_task_overrides_round_trip_through_the_settings_parser():
    from nbprod.settings import parse_override

    found = task.overrides(products="/a b/build", reports=task.KEEP, target="late", time_column=None,
                           model_name="m")
    parsed = dict((".".join(key), value) for key, value in map(parse_override, found))
    assert parsed == {"products": "/a b/build", "data.target": "late", "data.time_column": None,
                      "registry.model_name": "m"}
    with pytest.raises(TypeError):
        task.overrides(unknown="x")


def test_ploomber_sees_the_snapshot_tasks_upstream():
    from ploomber.static_analysis.python import PythonCallableExtractor

    assert PythonCallableExtractor(inspect.getsource(task.snapshots)).extract_upstream() == {"evaluate", "promote"}
    assert PythonCallableExtractor(inspect.getsource(task.snapshots_after_evaluate)).extract_upstream() == {"evaluate"}


def test_snapshot_html_hides_code_and_noise():
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    notebook = new_notebook(cells=[
        new_markdown_cell("# Title"),
        new_code_cell("secret_code = 1", outputs=[
            new_output("stream", name="stderr", text="a warning"),
            new_output("display_data", data={"text/html": '<div class="nbprod-headline">Hello 42</div>'}),
        ]),
    ])
    assert snapshot.errors(notebook) == []
    snapshot._strip_noise(notebook)
    html = snapshot.to_html(nbformat.from_dict(notebook), "Report")
    assert "Hello 42" in html and "<title>Report</title>" in html
    assert "secret_code" not in html and "a warning" not in html
    notebook.cells[1].outputs.append(new_output("error", ename="ValueError", evalue="bad", traceback=[]))
    assert snapshot.errors(notebook) == ["ValueError: bad"]


def test_dashboard_env_points_at_the_project(tmp_path):
    env = snapshot.dashboard_env(tmp_path, None, ["a=1", "b=2"], "sqlite:////s.db",
                                 base={"NBPROD_ENV_FILE": "x", "KEEP": "1"}, static=True)
    assert env["NBPROD_PROJECT"] == str(tmp_path.resolve()) and "NBPROD_ENV_FILE" not in env
    assert env["NBPROD_SET"] == "a=1;b=2" and env["MLFLOW_TRACKING_URI"] == "sqlite:////s.db"
    assert env["NBPROD_DASHBOARD_STATIC"] == "1" and env["KEEP"] == "1"
