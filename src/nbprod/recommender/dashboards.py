"""What the recommender's two dashboards show: the model report and the drift report.

The notebooks (``notebooks/dashboards/*.ipynb`` of the recommender template) are thin: they call
these functions and :mod:`nbprod.dashboards.ui`. Everything is read from the project's products:

- the model report: ``evaluation.json`` (each candidate's and the popularity baseline's test figures,
  for known and cold-start users), the gate's ``promotion.json``, and the best candidate itself for a few
  example users next to their history;
- the drift report: ``{monitor.reports}/drift_history.json`` as :mod:`nbprod.recommender.monitoring`
  writes it (popularity shift, new-item share, cold-start share and hit rate per window, the events).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

#: The user groups of an evaluation, in the order shown, with their labels.
GROUPS = (("known", "known users"), ("cold", "cold-start users"), ("all", "all users"))
#: A window's figures shown over time (name in the window's ``recommender`` figures, label).
WINDOW_FIGURES = (("popularity_js", "popularity shift (Jensen-Shannon)"), ("new_item_share", "new-item share"),
                  ("cold_start_share", "cold-start share"), ("hit_rate", "hit rate"))


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON product, or None when it is not there yet."""
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


# -- the model report ----------------------------------------------------------------------------------

def metric_name(evaluation: Mapping[str, Any]) -> str:
    """The gate metric at k as ``evaluation.json`` names it (``ndcg@10``)."""
    metric = str(evaluation["metric"])
    return metric if "@" in metric else f"{metric}@{evaluation['k']}"


def metrics_frame(evaluation: Mapping[str, Any]) -> pd.DataFrame:
    """One row per (candidate or baseline, user group): users, the metrics at k, coverage, popularity bias,
    and the gate metric's difference to the baseline for the same group."""
    k, metric = int(evaluation["k"]), metric_name(evaluation)
    models = {**{name: entry["metrics"] for name, entry in evaluation["candidates"].items()},
              evaluation["baseline"]["name"]: evaluation["baseline"]["metrics"]}
    rows = []
    for name, result in models.items():
        for group, label in GROUPS:
            figures = result["groups"].get(group) or {}
            base = (evaluation["baseline"]["metrics"]["groups"].get(group) or {}).get(metric)
            value = figures.get(metric)
            rows.append({"model": name, "users": label, "count": figures.get("users", 0),
                         **{f"{m}@{k}": figures.get(f"{m}@{k}") for m in ("precision", "recall", "ndcg", "map")},
                         "coverage": figures.get("coverage"), "popularity bias": figures.get("popularity_bias"),
                         f"{metric} vs baseline": None if value is None or base is None else value - base})
    return pd.DataFrame(rows)


def model_headline(evaluation: Mapping[str, Any] | None, promotion: Mapping[str, Any] | None) -> tuple[str, str]:
    """The model report's headline and its tone (good, warn, bad)."""
    if evaluation is None:
        return "No build yet: run nbprod build to evaluate the candidates.", "warn"
    best, metric = evaluation["best"], metric_name(evaluation)
    groups = evaluation["candidates"][best]["metrics"]["groups"]
    base = evaluation["baseline"]["metrics"]["groups"]
    parts = [f"{label}: {_value(groups.get(group, {}).get(metric))} vs {_value(base.get(group, {}).get(metric))} "
             f"for the popularity baseline" for group, label in GROUPS[:2]]
    text = f"The best candidate is {best}; on the test period its {metric} for {'; for '.join(parts)}."
    if promotion is None:
        return text + " The gate has not decided yet.", "warn"
    version = (promotion.get("candidate") or {}).get("version")
    if promotion.get("decision") == "promoted":
        return f"Model v{version} ({best}) is serving. " + text, "good"
    serving = promotion.get("champion_after")
    return (f"v{version} was rejected ({promotion.get('summary', '')}); "
            + (f"v{serving} keeps serving. " if serving else "no model is serving. ") + text), "bad"


def _value(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.3f}"


def metrics_figure(frame: pd.DataFrame, metric: str) -> Any:
    """Bars of ``metric`` per model, known and cold-start users side by side."""
    from nbprod.plots.figure import new_figure

    figure = new_figure(8, 3.2)
    axes = figure.subplots()
    models = list(dict.fromkeys(frame["model"]))
    width = 0.38
    for offset, (label, colour) in enumerate(((GROUPS[0][1], "#4c72b0"), (GROUPS[1][1], "#dd8452"))):
        values = [frame[(frame["model"] == m) & (frame["users"] == label)][metric].fillna(0).iloc[0] for m in models]
        axes.bar([i + (offset - 0.5) * width for i in range(len(models))], values, width, label=label, color=colour)
    axes.set_xticks(range(len(models)), models, fontsize=8)
    axes.set_ylabel(metric)
    axes.legend(fontsize=8)
    return figure


def examples(evaluation: Mapping[str, Any], users: int = 5, label: str | None = None,
             evaluation_file: str | Path | None = None) -> pd.DataFrame:
    """The best candidate's recommendations for a few known users and one cold-start user, next to their
    history (loads the model from its MLflow URI: call after :func:`nbprod.dashboards.context.connect`).

    ``evaluation_file``: where ``evaluation`` was read from, whose folder its holdout paths are relative to.
    """
    from nbprod.recommender import evaluation as evaluation_module
    from nbprod.recommender.pyfunc import load_recommender

    files = (evaluation_module.holdout_files(evaluation, evaluation_file) if evaluation_file is not None
             else evaluation["holdout"])
    history = pd.read_parquet(files["history"])
    test = pd.read_parquet(files["test"])
    model = load_recommender(evaluation["candidates"][evaluation["best"]]["model_uri"])
    chosen = evaluation_module.known_users(history, test, users)
    cold = [user for user in pd.unique(test["user"]) if user not in set(history["user"])][:1]
    return evaluation_module.examples(model, history, test, [*chosen, *cold], int(evaluation["k"]), label)


# -- the drift report ----------------------------------------------------------------------------------

def windows_frame(history: Mapping[str, Any] | None) -> pd.DataFrame:
    """One row per monitored window: its start, requests, figures, whether it drifted, the model version."""
    rows = []
    for window in (history or {}).get("windows") or []:
        figures = window.get("recommender") or {}
        rows.append({"start": pd.Timestamp(window["start"]), "requests": int(window.get("rows") or 0),
                     **{name: figures.get(name) for name, _ in WINDOW_FIGURES},
                     "drifted": (window.get("drift") or {}).get("drifted"),
                     "model version": window.get("model_version")})
    columns = ["start", "requests", *(name for name, _ in WINDOW_FIGURES), "drifted", "model version"]
    return pd.DataFrame(rows, columns=columns).astype({name: float for name, _ in WINDOW_FIGURES})


def drift_headline(history: Mapping[str, Any] | None) -> tuple[str, str]:
    """The drift report's headline (the latest window and the last action) and its tone."""
    frame = windows_frame(history)
    if frame.empty:
        return ("Nothing monitored yet: nbprod monitor --labels FILE joins later interactions to what "
                "/recommend showed."), "warn"
    latest = frame.iloc[-1]
    figures = ", ".join(f"{label} {_value(None if pd.isna(latest[name]) else latest[name])}"
                        for name, label in WINDOW_FIGURES)
    text = (f"Latest window from {latest['start']:%Y-%m-%d} ({int(latest['requests']):,} requests"
            f"{', model v' + str(latest['model version']) if latest['model version'] else ''}): {figures}; "
            f"{'it drifted' if latest['drifted'] else 'no drift'}.")
    events = (history or {}).get("events") or []
    if events:
        text += f" Last action: {events[-1]['kind']} -- {events[-1]['reason']}"
    return text, "bad" if latest["drifted"] else "good"


def events_frame(history: Mapping[str, Any] | None) -> pd.DataFrame:
    """The monitoring decisions, newest first."""
    events = (history or {}).get("events") or []
    frame = pd.DataFrame(events, columns=["time", "kind", "window", "model_version", "reason"])
    return frame.iloc[::-1].reset_index(drop=True)


def drift_figure(frame: pd.DataFrame, limits: Mapping[str, Any]) -> Any:
    """The popularity shift and the new-item and cold-start shares over time (dashed: their limits), and the
    hit rate of the labelled requests."""
    from nbprod.plots.figure import new_figure

    figure = new_figure(8, 5)
    top, bottom = figure.subplots(2, 1, sharex=True)
    for (name, label), colour in zip(WINDOW_FIGURES[:3], ("#c44e52", "#8172b3", "#dd8452")):
        top.plot(frame["start"], frame[name], marker="o", label=label, color=colour)
        limit = limits.get({"popularity_js": "popularity_drift"}.get(name, name))
        if limit is not None:
            top.axhline(float(limit), linestyle="--", linewidth=1, color=colour)
    top.set_ylim(0, 1)
    top.legend(fontsize=8)
    bottom.plot(frame["start"], frame["hit_rate"], marker="o", color="#4c72b0")
    bottom.set_ylabel("hit rate")
    bottom.set_ylim(0, 1)
    figure.autofmt_xdate()
    return figure


def snapshots(project: Path, target: Path | None = None, env_file: Path | None = None,
              overrides: tuple[str, ...] = ()) -> dict[str, Path]:
    """Static HTML of both dashboards (``{reports}/dashboards`` by default), as the tabular snapshots
    (``nbprod dashboard --snapshot`` does the same)."""
    from nbprod.dashboards.context import dashboards_folder
    from nbprod.dashboards.snapshot import dashboard_env, write_snapshots
    from nbprod.project import Project

    catalog = Project.load(Path(project), env_file, list(overrides))
    env = dashboard_env(Path(project), env_file, overrides, catalog.tracking_uri(), static=True)
    return write_snapshots(dashboards_folder(Path(project)), target or catalog.dashboard_snapshots, env)
