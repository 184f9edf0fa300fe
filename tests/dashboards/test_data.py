"""Fast tests of the dashboards' data, figure and display helpers (no MLflow, no kernel)."""

from __future__ import annotations

import base64
import inspect
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from nbprod.dashboards import command, context, drift_data, model_data, snapshot, task, ui
from nbprod.plots import dashboards as figures
from nbprod.plots.figure import new_figure

REPO = Path(__file__).resolve().parents[2]
MIN_ROWS = 200  # the windows of the synthetic history have about 300 rows


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


def another_projects_champion(folder: Path, model_name: str, alias: str) -> None:
    """A store in ``folder/mlflow.db`` (MLflow's default store when ``folder`` is the working directory) in which
    ``model_name`` has a version holding ``alias``: another project's champion."""
    from mlflow import MlflowClient

    folder.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model(model_name)
    version = client.create_model_version(model_name, source=(folder / "model").as_uri())
    client.set_registered_model_alias(model_name, alias, version.version)


def test_reading_a_project_without_a_store_creates_no_store(project, tmp_path, monkeypatch):
    ctx = context.load_context({"NBPROD_PROJECT": str(project)})
    # another project's store is MLflow's default one here (as in a checkout after `make run`): never read it
    another_projects_champion(tmp_path / "elsewhere", ctx.model_name, ctx.alias)
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    report = model_data.load_report(ctx)
    assert report.builds == [] and report.versions.empty and report.champion is None
    comparison = model_data.compare(report, None)
    assert comparison.champion_label is None and set(comparison.results) <= {model_data.BASELINE_LABEL}
    assert drift_data.serving_version(ctx) is None
    assert not (project / "mlflow.db").exists()  # a reader's page did not create an empty store


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
    others = [VERSIONS[0], FakeVersion("2", 1_700_100_000_000, {}, ("challenger",), "r2")]
    assert model_data.versions_table(others, None, "champion")["serving"].tolist() == [True, False]
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


@dataclass
class FakeRun:
    run_id: str
    tags: dict

    @property
    def info(self):
        return self

    @property
    def data(self):
        return self


class FakeClient:
    """Two builds: the champion's (b1, evaluate run e1) and a newer one (b2, e2) whose best was rejected."""

    runs = {"r1": FakeRun("r1", {"nbprod.parent": "b1", "nbprod.candidate": "linear-C=0.1"}),
            "e1": FakeRun("e1", {"nbprod.parent": "b1", "nbprod.task": "evaluate", "nbprod.best": "linear-C=0.1"}),
            "e2": FakeRun("e2", {"nbprod.parent": "b2", "nbprod.task": "evaluate", "nbprod.best": "hgb"})}

    def get_run(self, run_id):
        return self.runs[run_id]

    def search_runs(self, experiments, query, **_):
        return [run for run in self.runs.values()
                if f"'{run.tags.get('nbprod.parent')}'" in query and run.tags.get("nbprod.task") == "evaluate"]


def test_importance_is_the_serving_models_not_the_latest_builds(monkeypatch):
    monkeypatch.setattr(model_data, "importance", lambda run_id, client: pd.Series({f"from {run_id}": 1.0}))
    champion = model_data.versions_table(VERSIONS, None).iloc[0].to_dict()  # v1, run r1 of build b1
    found = model_data.champion_importance(FakeClient(), "0", champion)
    assert found.index.tolist() == ["from e1"]
    assert model_data.champion_importance(FakeClient(), "0", None).empty
    assert model_data.champion_importance(FakeClient(), "0", {**champion, "candidate": "other"}).empty
    assert "importance" not in {f.name for f in model_data.Comparison.__dataclass_fields__.values()}
    figure = figures.importance_bars(pd.Series({"a": 0.3}), "v1 linear, serving")
    assert figure.axes[0].get_title().startswith("What v1 linear, serving relies on most")


def test_version_timeline_does_not_join_scores_from_different_test_periods():
    figure = figures.version_timeline(model_data.versions_table(VERSIONS, None), "ROC AUC")
    axis = figure.axes[0]
    assert not [line for line in axis.get_lines() if len(line.get_xdata()) > 1]  # no line suggesting a trend
    assert "own build's test period" in axis.get_title()


def test_confusion_matrix_names_the_classes_after_the_target():
    y, predicted = np.array([0, 1, 1, 0, 1]), np.array([0, 1, 0, 0, 1])
    name = "v12 hgb (learning_rate=0.1, max_leaf_nodes=31), serving"
    figure = figures.confusion(y, predicted, name, 0.31, "late")
    axis = figure.axes[0]
    assert [t.get_text() for t in axis.get_xticklabels()] == ["not late", "late"]
    assert [t.get_text() for t in axis.get_yticklabels()] == ["not late", "late"]
    assert "\n" in axis.get_title() and axis.get_title().replace("\n", " ") == f"{name} (threshold 0.31)"
    assert figures.class_names("delayed") == ("not delayed", "delayed")



def test_confusion_matrix_keeps_both_classes_when_only_one_occurs():
    figure = figures.confusion(np.array([False, False, False]), np.array([0, 0, 0]), "v1", 0.5, "late")
    axis = figure.axes[0]
    assert [t.get_text() for t in axis.get_xticklabels()] == ["not late", "late"]
    counts = sorted(text.get_text() for text in axis.texts)
    assert counts == ["0", "0", "0", "3"]

# -- drift data -----------------------------------------------------------------------------------


def test_missing_or_broken_history_is_not_an_error(tmp_path):
    missing = drift_data.read_history(tmp_path / "none.json")
    assert missing.empty and missing.problem.startswith("no monitoring data yet")
    text, tone = drift_data.headline(missing, "4", MIN_ROWS)
    assert text.startswith("Model v4 is serving. No monitoring data yet: no drift check has been recorded")
    assert tone == "info"
    assert drift_data.windows_frame(missing, MIN_ROWS).empty and drift_data.events_frame(missing).empty
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert "could not be read" in drift_data.read_history(broken).problem
    broken.write_text('{"windows": []}')
    text, _ = drift_data.headline(drift_data.read_history(broken), None, MIN_ROWS)
    assert text.startswith("No model is serving yet. No monitoring data yet:")


def test_history_frames_from_the_drift_library(project, synthetic_history):
    history = drift_data.read_history(project / "reports" / "monitoring" / "drift_history.json")
    assert history.problem is None and len(history.windows) == 3
    windows = drift_data.windows_frame(history, MIN_ROWS)
    assert windows["n_columns"].tolist() == [4, 4, 4] and windows["votes"].all()
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
    text, tone = drift_data.headline(history, "4", MIN_ROWS)
    assert text.startswith(f"Model v4 is serving; {last['drift']['n_drifted']} of 4 features drifted in the latest "
                           f"window (15 Feb to 22 Feb 2020, {last['rows']:,} predictions).")
    assert "Last action on" in text and "a retrained model was promoted (v4)" in text
    assert "too few" not in text and "pipeline" not in text
    assert tone in ("bad", "warn")


def _with(history: dict, path: Path, windows: list | None = None, events: list | None = None) -> drift_data.History:
    changed = {**history, "windows": history["windows"] + (windows or []), "events": history["events"] + (events or [])}
    path.write_text(json.dumps(changed))
    return drift_data.read_history(path)


def test_drift_headline_never_shows_a_missing_version_as_nan(project, synthetic_history, tmp_path):
    retrain = {"time": "2020-02-23T01:00:00", "kind": "retrain", "reason": "drifted", "window": "2020-02-15T00:00:00",
               "run_id": None, "model_version": None}
    history = _with(synthetic_history, tmp_path / "h.json", events=[retrain])
    assert pd.isna(drift_data.events_frame(history)["model_version"].iloc[-1])  # pandas stores None as NaN
    text, _ = drift_data.headline(history, "4", MIN_ROWS)
    assert text.endswith("Last action on 22 Feb 2020: retraining started.") and "nan" not in text
    assert drift_data.version_text(float("nan")) == drift_data.version_text(None) == drift_data.version_text("") == ""
    assert drift_data.version_text(7) == "v7"
    no_version = _with({**synthetic_history, "windows": [{**w, "model_version": None}
                                                          for w in synthetic_history["windows"]]}, tmp_path / "n.json")
    assert drift_data.windows_frame(no_version, MIN_ROWS)["model_version"].isna().all()
    assert drift_data.headline(no_version, float("nan"), MIN_ROWS)[0].startswith("No model is serving yet;")


def test_windows_too_small_to_vote_do_not_make_the_headline(project, synthetic_history, tmp_path):
    last = synthetic_history["windows"][-1]
    small = {**last, "start": "2020-02-22T00:00:00", "end": "2020-02-29T00:00:00", "rows": 13,
             "drift": {**last["drift"], "n_drifted": 4, "share": 1.0, "drifted": True}}
    history = _with(synthetic_history, tmp_path / "h.json", windows=[small])
    windows = drift_data.windows_frame(history, MIN_ROWS)
    assert windows["votes"].tolist() == [True, True, True, False]
    assert drift_data.headline_window(windows) == 2
    text, _ = drift_data.headline(history, "4", MIN_ROWS)
    assert f"{last['drift']['n_drifted']} of 4 features drifted in the latest full window (15 Feb to 22 Feb 2020, " \
           f"{last['rows']:,} predictions)" in text
    assert "The newest window (22 Feb to 29 Feb 2020) has 13 rows so far: too few to judge (at least 200 needed)." in text
    assert "4 of 4" not in text
    option = drift_data.window_option(next(windows.iloc[[3]].itertuples()), MIN_ROWS)
    assert option.endswith("13 rows: too few to judge (at least 200 needed))")
    text, tone = drift_data.headline(history, "4", 10_000)  # no window is large enough
    assert "no window has enough rows to judge drift yet" in text and tone == "info"
    figure = figures.drift_over_time(windows, drift_data.events_frame(history), 0.5)
    grey = [c for c in figure.axes[0].collections if c.get_label() == "too few rows to judge"]
    assert len(grey) == 1 and grey[0].get_offsets().shape[0] == 1
    red = [c for c in figure.axes[0].collections if c.get_label() == "window flagged as drifting"]
    assert all(len(c.get_offsets()) < 4 for c in red)  # the small window is not red


def test_drift_report_falls_back_to_the_pipeline_check(project, synthetic_history):
    ctx = context.load_context({"NBPROD_PROJECT": str(project)})
    live = ctx.drift_history_path
    assert drift_data.read_drift(ctx).source == drift_data.MONITORING
    ctx.pipeline_drift_path.parent.mkdir(parents=True)
    live.rename(ctx.pipeline_drift_path)
    history = drift_data.read_drift(ctx)
    assert history.source == drift_data.PIPELINE and len(history.windows) == 3
    text, _ = drift_data.headline(history, "4", MIN_ROWS)
    assert "from the pipeline's check of the held-back months; no live monitoring yet" in text
    ctx.pipeline_drift_path.unlink()
    missing = drift_data.read_drift(ctx)
    assert missing.empty and "reports/monitoring/drift_history.json" in missing.problem
    assert str(project) not in missing.problem  # named relative to the project


def test_events_are_placed_at_the_end_of_their_window_like_the_drift_dots(project, synthetic_history):
    history = drift_data.read_history(project / "reports" / "monitoring" / "drift_history.json")
    windows, events = drift_data.windows_frame(history, MIN_ROWS), drift_data.events_frame(history)
    retrain = events[events["kind"] == "retrain"].iloc[0]
    window = next(w for w in synthetic_history["windows"]
                  if w["start"] == next(e for e in synthetic_history["events"] if e["kind"] == "retrain")["window"])
    assert retrain["at"] == pd.Timestamp(window["end"])
    figure = figures.drift_over_time(windows, events, 0.5)
    import matplotlib.dates as mdates

    lines = [line for line in figure.axes[0].get_lines() if line.get_linestyle() == ":"]
    dots = set(mdates.date2num(windows["end"]))
    assert lines and all(mdates.date2num(line.get_xdata()[0]) in dots for line in lines)


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
    assert len(reference) == 1500 and path == "build/data/train.parquet"  # shown relative to the project
    assert "(build/data/new.parquet)" in source and str(project) not in source


def test_window_rows_prefer_the_prediction_log(project, synthetic_history):
    from nbprod.serving.prediction_log import PredictionLogWriter

    ctx = context.load_context({"NBPROD_PROJECT": str(project), "NBPROD_SET": "data.time_column=when;data.target=y"})
    writer = PredictionLogWriter(ctx.prediction_log, flush_rows=10_000, flush_seconds=60)
    arrived = pd.Timestamp("2020-02-09T12:00:00", tz="UTC").timestamp()
    writer.append(["x", "colour"], {"x": [1.0, 2.0, 3.0], "colour": ["red", "red", "blue"]}, [1, 0, 1],
                  np.array([[0.2, 0.8], [0.7, 0.3], [0.1, 0.9]]), "m", "3", "req", arrived)
    writer.close()
    rows, source = drift_data.window_rows(ctx, synthetic_history["windows"][1], ["x", "colour"])
    assert len(rows) == 3 and "prediction log" in source and str(project) not in source


# -- figures and display --------------------------------------------------------------------------


def _png(figure: Figure) -> bytes:
    assert isinstance(figure, Figure)
    data = ui.figure_png(figure, dpi=40)
    assert data.startswith(b"\x89PNG")
    return data


def test_figures_draw(project, synthetic_history):
    history = drift_data.read_history(project / "reports" / "monitoring" / "drift_history.json")
    windows, events = drift_data.windows_frame(history, MIN_ROWS), drift_data.events_frame(history)
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


def test_static_selector_renders_the_default_only_and_says_so(monkeypatch):
    shown = []
    monkeypatch.setattr(ui, "_display", lambda obj: shown.append(getattr(obj, "data", obj)))
    seen = []
    assert ui.selector("Pick:", [("one", 1), ("two", 2)], 2, seen.append, static=True, hint="Pick a window.",
                       static_hint="Showing the latest window.") is None
    assert seen == [2]
    assert shown == ['<p class="nbprod-note">Showing the latest window.</p>']  # no "Pick" without a picker
    shown.clear()
    ui.selector("Pick:", [("three", 3)], 3, _draw, static=True)
    [page] = shown
    assert "window 3" in page and "This view could not be shown: KeyError" in page  # no traceback in a snapshot


def _draw(value):
    ui.note(f"window {value}")
    if value == 3:
        raise KeyError("window 3")
    figure = new_figure(2, 1)
    figure.add_subplot().plot([0, 1], [value, 1])
    ui.figure(figure)
    ui.table(pd.DataFrame({"x": [value]}))


def test_live_selector_draws_into_an_html_widget_and_redraws_on_change(monkeypatch):
    shown = []
    monkeypatch.setattr(ui, "_display", shown.append)
    box = ui.selector("Pick:", [("one", 1), ("two", 2), ("three", 3)], 2, _draw, hint="Pick a window.")
    dropdown, content = box.children
    assert [getattr(obj, "data", obj) for obj in shown] == ['<p class="nbprod-note">Pick a window.</p>', box]
    assert type(content).__name__ == "HTML"  # no Output widget: its outputs would go back to the kernel
    assert '<p class="nbprod-note">window 2</p>' in content.value
    png = re.search(r'<img class="nbprod-figure" alt="figure" src="data:image/png;base64,([^"]+)">', content.value)
    assert base64.b64decode(png.group(1)).startswith(b"\x89PNG")
    assert '<table class="nbprod-table">' in content.value
    dropdown.value = 1
    assert "window 1" in content.value and "window 2" not in content.value
    dropdown.value = 3  # a failing view: a plain message in the widget, no traceback
    assert content.value.endswith("This view could not be shown: KeyError: &#x27;window 3&#x27;</div>")
    assert len(shown) == 2  # nothing was displayed outside the widget


def test_capture_collects_fragments_and_nests():
    with ui.captured() as outer:
        ui.note("a")
        with ui.captured() as inner:
            ui.heading("b")
        ui.headline("c", "good")
    assert outer == ['<p class="nbprod-note">a</p>', '<div class="nbprod-headline good">c</div>']
    assert inner == ["<h3>b</h3>"]
    assert ui._CAPTURES == []


def test_notebooks_only_ask_to_pick_where_there_is_a_picker():
    for name in ("model_report", "drift_report"):
        notebook = json.loads((REPO / "notebooks" / "dashboards" / f"{name}.ipynb").read_text())
        markdown = "".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown")
        assert "Pick" not in markdown  # a static snapshot shows Markdown but no picker
        assert all(not c.get("outputs") for c in notebook["cells"] if c["cell_type"] == "code")


def test_failure_is_a_plain_message(monkeypatch):
    shown = []
    monkeypatch.setattr(ui, "_display", lambda obj: shown.append(obj.data))
    ui.failure("The model report", ValueError("no store"))
    assert shown == ['<div class="nbprod-headline bad">The model report could not be shown: ValueError: no store</div>']


# -- command, task, snapshot ----------------------------------------------------------------------


def test_voila_command_serves_on_loopback():
    line = command.voila_command(Path("/x/dashboards"), 9001, no_browser=True, python="py")
    assert line[:4] == ["py", "-m", "nbprod.dashboards.voila_server", "/x/dashboards"]  # Voila, guarded
    assert "--Voila.ip=127.0.0.1" in line and "--port=9001" in line and "--no-browser" in line
    assert "--show_tracebacks=False" in line  # readers see the dashboards' plain messages, not tracebacks
    # closed pages' kernels are culled (Voila's unload shutdown is refused), open pages keep theirs
    assert f"--MappingKernelManager.cull_idle_timeout={command.KERNEL_IDLE_SECONDS}" in line
    assert "--MappingKernelManager.cull_connected=False" in line
    assert f"--CappedKernelManager.max_kernels={command.MAX_KERNELS}" in line
    assert "--GuardedVoila.allowed_hosts=127.0.0.1" in line  # the bound address passes the Host check
    import argparse

    parser = argparse.ArgumentParser()
    command.configure(parser)
    args = parser.parse_args([])
    assert args.port == command.DEFAULT_PORT == 8866 and not args.no_browser and not args.snapshot


def test_task_overrides_round_trip_through_the_settings_parser():
    from nbprod.settings import parse_override

    from nbprod import settings as settings_module

    # Ploomber hands the params over as text: "50" must come back a number, "yes" stay text
    found = task.overrides(products="/a b/build", reports=task.KEEP, target="yes", time_column="None",
                           model_name="m", min_rows="50")
    parsed = dict((".".join(key), value) for key, value in map(parse_override, found))
    assert parsed == {"products": "/a b/build", "data.target": "yes", "data.time_column": None,
                      "registry.model_name": "m", "monitor.min_rows": 50}
    settings = settings_module.load(REPO, overrides=found)  # what the dashboards load: no type error
    assert settings["monitor"]["min_rows"] == 50 and settings["data"]["target"] == "yes"
    with pytest.raises(TypeError):
        task.overrides(unknown="x")


def test_ploomber_sees_the_snapshot_tasks_upstream():
    from ploomber.static_analysis.python import PythonCallableExtractor

    assert PythonCallableExtractor(inspect.getsource(task.snapshots)).extract_upstream() == {"evaluate", "promote",
                                                                                           "monitor"}
    import yaml

    spec = next(t for t in yaml.safe_load((REPO / "pipeline.yaml").read_text())["tasks"] if t.get("name") == "dashboards")
    assert spec["source"] == "nbprod.dashboards.task.snapshots"  # so it runs after monitor
    assert set(spec["params"]) - {"dashboards", "project"} <= set(task.SETTINGS)
    assert spec["params"]["min_rows"] == "{{monitor.min_rows}}"
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



def test_holdout_score_uses_the_scores_the_evaluate_task_saved(tmp_path, monkeypatch):
    from nbprod.dashboards.model_data import ModelReport, holdout_score

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'empty.db'}")
    saved = pd.DataFrame({"run-1": [0.2, 0.8, 0.6]})
    report = ModelReport(None, None, [], pd.DataFrame(), None, "roc_auc", pd.DataFrame({"x": [1, 2, 3]}),
                         np.array([0, 1, 1]), "", saved_scores=saved)
    assert holdout_score(report, "runs:/run-1/model", "run-1").tolist() == [0.2, 0.8, 0.6]
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException):  # not saved: the model itself is loaded (and here it does not exist)
        holdout_score(report, "runs:/run-2/model", "run-2")


def test_only_builds_that_evaluated_candidates_are_listed(tmp_path):
    import time as clock

    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("builds", artifact_location=(tmp_path / "artifacts").as_uri())

    def build(best: str | None) -> str:
        parent = client.create_run(experiment, tags={"nbprod.build": "true"}).info.run_id
        if best is not None:
            client.create_run(experiment, tags={"nbprod.parent": parent, "nbprod.task": "evaluate",
                                                "nbprod.best": best})
        clock.sleep(0.01)  # distinct start times
        return parent

    full = build("hgb")
    build(None)  # a later build that re-ran only the dashboards, or failed before evaluate
    assert [(b.run_id, b.best) for b in model_data.list_builds(client, experiment)] == [(full, "hgb")]


def test_why_a_window_does_not_vote_and_pvalue_methods_include_goodness_of_fit():
    assert drift_data.not_judged(13, 200) == "too few to judge (at least 200 needed)"
    assert drift_data.not_judged(500, 100) == "not judged (its drift check gave no verdict)"
    assert drift_data.severity("chisquare_gof", 3.0, 0.05, 0.2) == drift_data.severity("chisquare", 3.0, 0.05, 0.2)
    assert drift_data.severity("chisquare_gof", 3.0, 0.05, 0.2) < 1  # p = 0.2 is not drifting


def test_plain_performance_says_nothing_of_an_unknown_error():
    assert model_data.plain_performance("regression", "delay", {"mae": float("nan")}, {"mae": 3.0}) == ""
