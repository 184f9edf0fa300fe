"""The recommender's dashboards (:mod:`nbprod.recommender.dashboards`): what they compute on tiny real data, and
the tiny project the dashboards' snapshot and browser tests share (tests/dashboards/test_recommender_dashboards.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from nbprod import cli
from nbprod.recommender import dashboards, evaluation, monitoring, split
from nbprod.recommender.estimator import Recommender

from .synthetic import synthetic_interactions

MONITOR = {"window": "7D", "horizon": "3D", "popularity_drift": 0.5, "new_item_share": 0.3,
           "cold_start_share": None}


def evaluation_document(tmp_path, k: int = 5) -> dict:
    """``evaluation.json`` as the evaluate task writes it, for two real candidates on synthetic interactions."""
    frame = synthetic_interactions()
    returning = frame[frame["user"].isin([f"u{n}" for n in range(10)])].groupby("user").head(2)  # known users
    frame = pd.concat([frame, returning.assign(time=frame["time"].max() + pd.Timedelta(days=1))], ignore_index=True)
    parts = split.split_frame(frame, split.cuts(frame, None, None, 0.6, 0.8))
    history = pd.concat([parts["train"], parts["valid"]], ignore_index=True)
    history.to_parquet(tmp_path / "history.parquet")
    parts["test"].to_parquet(tmp_path / "test.parquet")
    index, results = {}, {}
    for name, kind, params in (("popularity", "popularity", {}), ("item_knn", "item_knn", {"neighbours": 5})):
        model = Recommender(kind, params, segment="country", min_segment_users=2).fit(history)
        results[name] = evaluation.evaluate(model, history, parts["test"], k, "country")
        index[name] = {"kind": kind, "params": params, "valid": results[name], "model_uri": f"runs:/none/{name}",
                       "run_id": "none"}
    baseline = evaluation.evaluate(Recommender("popularity").fit(history), history, parts["test"], k)
    return evaluation.document(k, f"ndcg@{k}", "country", index, results, baseline,
                               str(tmp_path / "history.parquet"), str(tmp_path / "test.parquet"))


def drift_history() -> dict:
    """Two monitored weeks: the first as at training, the second all new items."""
    reference = pd.Series({"x": 6, "y": 4})
    windows = []
    for week, item in ((pd.Timestamp("2024-01-01"), "y"), (pd.Timestamp("2024-01-08"), "new")):
        requests = pd.DataFrame({"user": ["a", "b"], "time": [week] * 2, "path": ["collaborative", "fallback:global"],
                                 "model_version": ["4"] * 2, "items": [["y"], ["x"]]})
        later = pd.DataFrame({"user": ["a", "b"], "item": [item, "x"], "time": [week + pd.Timedelta(hours=1)] * 2})
        windows += monitoring.window_entries(requests, later, reference, MONITOR)
    return {"reference": None, "windows": windows,
            "events": [{"time": "2024-01-15T00:00:00", "kind": "no_action", "reason": "the data drifted in 1 of the "
                        "last 2 windows (rule: retrain at 2 of 3)", "window": "2024-01-08T00:00:00", "run_id": None,
                        "model_version": None}]}


def test_the_model_report_compares_known_and_cold_start_users_with_the_baseline(tmp_path):
    document = evaluation_document(tmp_path)
    frame = dashboards.metrics_frame(document)
    assert list(dict.fromkeys(frame["model"])) == ["popularity", "item_knn", "popularity (global top)"]
    assert set(frame["users"]) == {"known users", "cold-start users", "all users"}
    cold = frame[(frame["model"] == "item_knn") & (frame["users"] == "cold-start users")].iloc[0]
    base = document["baseline"]["metrics"]["groups"]["cold"]["ndcg@5"]
    assert cold["ndcg@5 vs baseline"] == pytest.approx(cold["ndcg@5"] - base)
    assert 0 < cold["coverage"] <= 1
    text, tone = dashboards.model_headline(document, {"decision": "promoted", "candidate": {"version": "7"}})
    assert text.startswith(f"Model v7 ({document['best']}) is serving.") and tone == "good"
    assert "for cold-start users:" in text and "for the popularity baseline" in text
    assert dashboards.model_headline(None, None)[1] == "warn"
    assert dashboards.metrics_figure(frame, "ndcg@5").axes


def test_the_drift_report_shows_each_window_and_the_last_action():
    history = drift_history()
    frame = dashboards.windows_frame(history)
    assert frame["drifted"].tolist() == [False, True]
    assert frame["new_item_share"].tolist() == [0.0, 0.5] and frame["cold_start_share"].tolist() == [0.5, 0.5]
    text, tone = dashboards.drift_headline(history)
    assert text.startswith("Latest window from 2024-01-08 (2 requests, model v4)") and tone == "bad"
    assert "new-item share 0.500" in text and "Last action: no_action" in text
    assert dashboards.drift_headline({"windows": []})[1] == "warn"
    assert dashboards.events_frame(history)["kind"].tolist() == ["no_action"]
    assert len(dashboards.drift_figure(frame, MONITOR).axes) == 2


def write_project(folder: Path, data: Path) -> Path:
    """A project written by ``nbprod new --template recommender`` with an evaluation (its holdout in ``data``)
    and two monitored weeks, as a build and ``nbprod monitor`` leave them (no MLflow store)."""
    assert cli.main(["new", str(folder), "--template", "recommender"]) == 0
    (folder / "build").mkdir()
    (folder / "build" / "evaluation.json").write_text(json.dumps(evaluation_document(data)))
    (folder / "reports" / "monitoring").mkdir(parents=True)
    (folder / "reports" / "monitoring" / "drift_history.json").write_text(json.dumps(drift_history()))
    return folder
