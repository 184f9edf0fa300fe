"""``nbprod monitor`` for a recommender: what was shown, what users did next, per window; retrain on k of n.

The service logs every ``POST /recommend`` answer in the prediction log, one row per item
shown (``user``, ``item``, ``rank``, ``path``; :mod:`nbprod.serving.recommend`). ``--labels``
gives the later interactions (``user``, ``item``, ``time``: the columns the settings name in
``data``, or those standard names). A request is one answer of the log: its user, its time
(the service's arrival time) and the items shown. Feedback is joined on the **user and a time
window** -- an interaction of the same user at most ``monitor.horizon`` after the request --,
never on the request id, which a client may choose (``X-Request-ID``).

Per window of request time (``monitor.window``), measured:

- ``hit_rate``: the share of requests with feedback (the user interacted within the horizon)
  where at least one item shown was interacted with (hit rate at the request's k);
- ``cold_start_share``: the share of requests answered by a fallback path (``fallback:*``);
- ``popularity_js``: the Jensen-Shannon distance (:func:`nbprod.drift.stats.jensen_shannon_distance`)
  between item popularity in the window's interactions and in the champion's training history;
- ``new_item_share``: the share of the window's interactions with items the training never saw.

A window *drifted* when one of these is past its limit (``monitor.popularity_drift``,
``monitor.new_item_share``, ``monitor.cold_start_share``; null: not checked). The decision is the
tabular monitor's own (:func:`nbprod.monitoring.trigger.decide`: k drifted of the last n voting
windows, or the hit rate below ``monitor.performance_floor``); retraining is a build of the
project (:func:`nbprod.monitoring.retrain.run`) on the interactions and the labels together, in
its own folders, whose ``promote`` task is the one gate with the recommender's evidence
(:mod:`nbprod.recommender.promote`). The pass is the tabular monitor's skeleton
(:func:`nbprod.monitoring.monitor.decided_pass`: the monitor lock, the alerts through
:mod:`nbprod.alerts`, the history events, the MLflow run tagged ``nbprod.task = monitor``), and the
command is ``nbprod monitor``'s own (:mod:`nbprod.monitoring.command`); windows and decisions go to
``{monitor.reports}/drift_history.json`` (the shape of :mod:`nbprod.monitoring.history`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from nbprod.monitoring.check import MonitorError

#: Where fixed-length windows are counted from (a Monday, so ``7D`` windows are calendar weeks).
WINDOW_ORIGIN = "2000-01-03"
#: The path prefix of an answer the collaborative part did not produce.
FALLBACK = "fallback:"
#: The checks a window's drift is made of: (name in the window, setting holding its limit).
CHECKS = (("popularity_js", "popularity_drift"), ("new_item_share", "new_item_share"),
          ("cold_start_share", "cold_start_share"))
#: The performance metric of a window.
METRIC = "hit_rate"


class RecommenderMonitorError(MonitorError, ValueError):
    """Cannot monitor: no build yet, or the log or labels lack what is needed (the message says what)."""


@dataclass
class Report:
    """One pass: the windows checked, the decision, the retraining outcome, where it is recorded."""

    source: str
    requests: int
    windows: list[dict[str, Any]]
    checked: list[dict[str, Any]]
    decision: Any
    retrain_enabled: bool
    history_path: Path
    notes: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    outcome: Any = None
    monitor_run_id: str | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.outcome is not None and not self.outcome.ok else 0


# -- inputs ------------------------------------------------------------------------------------------

def requests_from_log(log: pd.DataFrame) -> pd.DataFrame:
    """The answers of ``/recommend`` in a prediction log: one row per request with ``user``, ``time`` (naive UTC),
    ``path``, ``model_version`` and ``items`` (the list shown, in rank order)."""
    needed = ("user", "item", "rank", "path")
    missing = [name for name in needed if name not in log.columns]
    if missing:
        raise RecommenderMonitorError(f"the prediction log has no {', '.join(missing)} column(s): it holds no "
                                      "POST /recommend answers")
    rows = log.dropna(subset=["user", "item", "time"])
    if rows.empty:
        return pd.DataFrame({"user": [], "time": pd.to_datetime([]), "path": [], "model_version": [], "items": []})
    rows = rows.assign(time=_naive(rows["time"]), user=rows["user"].astype(str), item=rows["item"].astype(str))
    keys = ["user", "time", "request_id", "model_version", "path"]
    grouped = rows.sort_values("rank", kind="stable").groupby(keys, sort=False, dropna=False)["item"]
    out = grouped.agg(list).reset_index().rename(columns={"item": "items"})
    return out.drop(columns="request_id").sort_values("time", kind="stable").reset_index(drop=True)


def _naive(times: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(times, utc=True)
    return stamps.dt.tz_localize(None)


def interactions_from_labels(labels: pd.DataFrame, data: Mapping[str, Any]) -> pd.DataFrame:
    """``user``, ``item``, ``time`` of the later interactions: the columns ``data.user/item/time`` name, or
    those standard names; a :class:`RecommenderMonitorError` naming what is missing."""
    from nbprod.recommender.data import parse_times

    names = {}
    for key in ("user", "item", "time"):
        setting = data.get(key)
        name = setting if setting in labels.columns else key if key in labels.columns else None
        if name is None:
            raise RecommenderMonitorError(f"--labels needs a {key} column: {setting!r} (setting data.{key}) or "
                                          f"{key!r}; its columns: {', '.join(map(str, labels.columns[:12]))}")
        names[key] = name
    kept = labels.dropna(subset=list(names.values()))
    times = parse_times(kept[names["time"]])
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return pd.DataFrame({"user": kept[names["user"]].astype(str).to_numpy(),
                         "item": kept[names["item"]].astype(str).to_numpy(),
                         "time": times.to_numpy()}).sort_values("time", kind="stable").reset_index(drop=True)


# -- measures ----------------------------------------------------------------------------------------

def join_feedback(requests: pd.DataFrame, interactions: pd.DataFrame, horizon: pd.Timedelta) -> pd.DataFrame:
    """``requests`` with ``feedback`` (the user interacted within ``horizon`` after the request) and ``hit``
    (one of those interactions is an item shown). Joined on the user and the time window only."""
    out = requests.copy()
    out["feedback"] = False
    out["hit"] = False
    if out.empty or interactions.empty:
        return out
    by_user = {user: frame for user, frame in interactions.groupby("user", sort=False)}
    feedback, hit = [], []
    for user, at, items in zip(out["user"], out["time"], out["items"]):
        later = by_user.get(user)
        if later is None:
            feedback.append(False)
            hit.append(False)
            continue
        inside = later[(later["time"] >= at) & (later["time"] < at + horizon)]
        feedback.append(bool(len(inside)))
        hit.append(bool(inside["item"].isin(items).any()))
    out["feedback"] = feedback
    out["hit"] = hit
    return out


def popularity_js(reference: pd.Series, current: pd.Series) -> float | None:
    """Jensen-Shannon distance between two item popularity counts (indexed by item; union of items, an item
    absent from one side counts 0); None when ``current`` is empty."""
    from nbprod.drift.stats import jensen_shannon_distance

    if current.sum() <= 0 or reference.sum() <= 0:
        return None
    items = reference.index.union(current.index)
    return jensen_shannon_distance(reference.reindex(items, fill_value=0).to_numpy(dtype=float),
                                   current.reindex(items, fill_value=0).to_numpy(dtype=float))


def measure_window(requests: pd.DataFrame, interactions: pd.DataFrame, reference: pd.Series,
                   monitor: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of one window (its joined requests and its interactions), its checks and drift verdict."""
    labelled = requests[requests["feedback"]] if len(requests) else requests
    figures: dict[str, Any] = {
        "requests": int(len(requests)),
        "labelled_requests": int(len(labelled)),
        "hit_rate": float(labelled["hit"].mean()) if len(labelled) else None,
        "cold_start_share": (float(requests["path"].astype(str).str.startswith(FALLBACK).mean())
                             if len(requests) else None),
        "interactions": int(len(interactions)),
        "popularity_js": popularity_js(reference, interactions["item"].value_counts()),
        "new_item_share": (float((~interactions["item"].isin(reference.index)).mean())
                           if len(interactions) else None),
        "paths": {str(k): int(v) for k, v in requests["path"].value_counts().items()} if len(requests) else {},
    }
    columns = []
    for name, setting in CHECKS:
        limit, value = monitor.get(setting), figures[name]
        if limit is None:
            continue
        columns.append({"column": name, "value": value, "threshold": float(limit),
                        "drifted": None if value is None else bool(value > float(limit))})
    known = [c["drifted"] for c in columns if c["drifted"] is not None]
    drifted = any(known) if known else None
    figures["drift"] = {"drifted": drifted, "share": (sum(known) / len(known)) if known else None,
                        "n_drifted": int(sum(known)), "n_columns": len(columns), "columns": columns}
    return figures


def window_entries(requests: pd.DataFrame, interactions: pd.DataFrame, reference: pd.Series,
                   monitor: Mapping[str, Any], expected: float | None = None) -> list[dict[str, Any]]:
    """Every window of request time (and of interaction time: a window with interactions and no request still
    shows popularity drift), in the history's shape."""
    from nbprod.monitoring import windows

    horizon = pd.Timedelta(monitor["horizon"])
    joined = join_feedback(requests, interactions, horizon)
    both = pd.concat([joined.assign(_side="request"), interactions.assign(_side="interaction")],
                     ignore_index=True)
    sliced, _ = windows.slice_windows(both, "time", monitor["window"], WINDOW_ORIGIN)
    entries = []
    for window in sliced:
        frame = window.frame
        shown = frame[frame["_side"] == "request"]
        later = frame[frame["_side"] == "interaction"]
        figures = measure_window(shown, later, reference, monitor)
        versions = sorted({str(v) for v in shown.get("model_version", pd.Series(dtype=str)).dropna()})
        entry = {"start": windows.iso(window.start), "end": windows.iso(window.end), "rows": figures["requests"],
                 "model_version": ", ".join(versions) or None, "drift": figures.pop("drift"),
                 "performance": ({"metric": METRIC, "value": figures["hit_rate"], "reference": expected}
                                 if figures["hit_rate"] is not None else None),
                 "recommender": figures}
        entries.append(entry)
    return entries


def reference_popularity(history: pd.DataFrame) -> pd.Series:
    """Item popularity (interactions per item) of the training history."""
    return history["item"].astype(str).value_counts()


# -- the pass ----------------------------------------------------------------------------------------

def _champion(project: Any, notes: list[str]) -> str | None:
    try:
        from nbprod.registry.client import Registry

        return Registry(project.model_name, project.tracking_uri()).alias_version(project.alias)
    except Exception:  # noqa: BLE001 - no registry: the measures without a champion
        notes.append("no registry: the champion is unknown")
        return None


def reference_history(project: Any, version: str | None) -> Path:
    """The training history of the champion's build (a retraining build's when it made the champion)."""
    from nbprod.monitoring import builds

    path = builds.for_champion(project, version).product("prepare", "history")
    if not path.is_file():
        raise RecommenderMonitorError(f"no training history at {project.shown(path)}: run nbprod build first")
    return path


def run_pass(project: Any, log: pd.DataFrame, labels: pd.DataFrame | None, source: str, *,
             labels_source: str | None = None, retrain_overrides: Sequence[str] = (),
             say: Callable[[str], None] = print, track: bool = True) -> Report:
    """Measure the windows, decide, record, and retrain when the rule fires (see the module docstring)."""
    from nbprod.monitoring.monitor import decided_pass

    settings = project.settings
    notes: list[str] = []
    requests = requests_from_log(log)
    interactions = (interactions_from_labels(labels, settings["data"]) if labels is not None
                    else pd.DataFrame({"user": [], "item": [], "time": pd.to_datetime([])}))
    version = _champion(project, notes)
    reference_path = reference_history(project, version)
    reference = reference_popularity(pd.read_parquet(reference_path, columns=["item"]))
    if labels is None:
        notes.append("no --labels: hit rate, popularity drift and new-item share are not measured")
    source += f" with interactions from {labels_source}" if labels_source else ""

    def decide() -> tuple[Report, dict[str, Any]]:
        return decide_and_record(project, requests, interactions, reference, reference_path, source, notes, track)

    def retraining(report: Report, first: dict[str, Any]) -> None:
        retrain(project, report, first, labels, retrain_overrides, say)

    return decided_pass(project, decide, retraining)


def decide_and_record(project: Any, requests: pd.DataFrame, interactions: pd.DataFrame, reference: pd.Series,
                      reference_path: Path, source: str, notes: list[str], track: bool
                      ) -> tuple[Report, dict[str, Any]]:
    """Check the new windows, decide with the k-of-n rule and record the decision (history, MLflow run); the
    report and the decision's event. Run under the monitor lock (:func:`run_pass`)."""
    from nbprod.monitoring import history, trigger
    from nbprod.monitoring.monitor import decision_event

    monitor = project.settings["monitor"]
    checked = window_entries(requests, interactions, reference, monitor)
    path = project.drift_history
    state = history.read(path)
    merged = dict(sorted(history.recorded(state).items()))
    merged.update({(w["start"], w["end"]): w for w in checked})
    votes = [trigger.Vote.from_window(w) for _, w in sorted(merged.items())]
    rules = trigger.Rules(int(monitor["trigger_k"]), int(monitor["trigger_n"]), int(monitor["min_rows"]),
                          monitor.get("performance_floor"), None)
    decision = trigger.decide(votes, rules, since=history.last_retrain_window(state))
    if not len(requests) and not len(interactions):
        decision = trigger.Decision(False, f"no data: {source} has no /recommend answers", None)
    report = Report(source, int(len(requests)), [w for _, w in sorted(merged.items())], checked, decision,
                    bool(monitor["retrain"]), path, notes)
    report.monitor_run_id = start_run(project, report) if track else None
    first = decision_event(report)
    report.events.append(first)

    def record(data: dict[str, Any]) -> None:
        data["reference"] = {"path": str(reference_path), "rows": int(reference.sum()), "items": int(len(reference))}
        history.merge_windows(data, checked)
        data["events"].append(first)

    history.update(path, record)
    return report, first


def refreshed_source(project: Any, labels: pd.DataFrame | None, folder: Path) -> tuple[list[str], str]:
    """A ``data.source=`` override holding the interactions and the labels together (written under ``folder``),
    when the labels carry the data's columns; else no override. And a note saying which."""
    data = project.settings["data"]
    columns = [c for c in (data["user"], data["item"], data["time"], data.get("weight"),
                           *data.get("user_attributes", []), *data.get("item_attributes", [])) if c]
    if labels is None or any(c not in labels.columns for c in (data["user"], data["item"], data["time"])):
        return [], "the retraining build reads data.source as it is (the labels lack its columns)"
    from nbprod.recommender.data import parse_times, read_source

    source = data["source"]
    original = read_source(source if source == "movielens" else str(project.path(source)))
    parts = [frame[[c for c in columns if c in frame.columns]] for frame in (original, labels)]
    for number, part in enumerate(parts):  # one type per column: ids as text, times as datetimes
        parts[number] = part.assign(**{data["user"]: part[data["user"]].astype(str),
                                       data["item"]: part[data["item"]].astype(str),
                                       data["time"]: parse_times(part[data["time"]])})
    combined = pd.concat(parts, ignore_index=True)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "interactions.parquet"
    combined.to_parquet(path, index=False)
    return [f'data.source="{path.as_posix()}"'], (f"the retraining build reads {len(original)} interaction(s) of "
                                                 f"data.source and {len(labels)} of the labels ({path})")


def retrain(project: Any, report: Report, first: dict[str, Any], labels: pd.DataFrame | None,
            extra: Sequence[str], say: Callable[[str], None]) -> None:
    """A build on the refreshed interactions in its own folders; its promote task is the recommender gate."""
    from nbprod.monitoring import builds
    from nbprod.monitoring import retrain as retraining
    from nbprod.monitoring.monitor import record_retraining

    stamp = time.strftime("%Y%m%dT%H%M%S")
    folders = builds.retrain_folders(project.settings, stamp)
    products = project.path(str(project.with_overrides(folders).settings["products"]))
    given = [text.split("=", 1)[0].strip() for text in extra]
    source, note = ([], "data.source as given") if "data.source" in given else refreshed_source(
        project, labels, products / "data")
    overrides = [*(o for o in folders if o.split("=", 1)[0] not in given), *source, *extra]
    report.notes.append(note)
    say(f"retraining started: nbprod build {' '.join('--set ' + o for o in overrides)}")
    build_log = report.history_path.parent / f"retrain-{stamp}.log"
    outcome = retraining.run(project, overrides, build_log)
    if outcome.decision == "promoted" and outcome.model_version:
        builds.record_champion(project, outcome.model_version, project.with_overrides(overrides).settings["products"],
                               outcome.parent_run_id, outcome.champion_metrics)
    report.outcome = outcome
    report.notes.append(f"retraining build output: {build_log}")
    first["run_id"] = outcome.parent_run_id
    first["reason"] = f"{report.decision.reason}; retraining build with {', '.join(overrides)}"
    record_retraining(report, first, outcome)


# -- MLflow ------------------------------------------------------------------------------------------

def start_run(project: Any, report: Report) -> str:
    """The pass's MLflow run (:func:`nbprod.monitoring.monitor.start_run`) with each window's figures as metrics
    stepped by window."""
    from mlflow.entities import Metric

    from nbprod.monitoring import monitor

    now_ms = int(time.time() * 1000)
    metrics = []
    for step, window in enumerate(report.windows):
        stamp = monitor.metric_time(window["start"], now_ms)
        figures = window.get("recommender") or {}
        for name in ("requests", "hit_rate", "cold_start_share", "popularity_js", "new_item_share"):
            if figures.get(name) is not None:
                metrics.append(Metric(f"window_{name}", float(figures[name]), stamp, step))
    return monitor.start_run(project, report, metrics, {"windows": len(report.windows), "requests": report.requests})


# -- the command (nbprod.monitoring.command runs it) -----------------------------------------------------

def describe(report: Report, quiet: bool = False) -> list[str]:
    """The pass in plain lines (``quiet``: the decision only)."""
    from nbprod.monitoring.command import decision_lines

    if quiet:
        return decision_lines(report)
    lines = [f"Monitored {report.requests} /recommend answer(s) from {report.source}."]
    lines += [f"  note: {note}" for note in report.notes]
    for window in report.windows:
        figures = window.get("recommender") or {}
        drift = window.get("drift") or {}
        flag = "DRIFT" if drift.get("drifted") else ("-" if drift.get("drifted") is None else "ok")
        lines.append(f"  {window['start'][:10]} .. {window['end'][:10]}  {window['rows']:>6} requests  "
                     f"hit rate {_shown(figures.get('hit_rate'))}  cold start {_shown(figures.get('cold_start_share'))}"
                     f"  popularity JS {_shown(figures.get('popularity_js'))}  new items "
                     f"{_shown(figures.get('new_item_share'))}  {flag}")
    return lines + decision_lines(report) + [f"Recorded in {report.history_path} and MLflow run {report.monitor_run_id}."]


def _shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def monitor_pass(args: Any, project: Any) -> Report:
    """``nbprod monitor``'s pass on a recommender project: its prediction log joined to ``--labels``."""
    from nbprod.monitoring.monitor import read_rows
    from nbprod.serving.prediction_log import read_prediction_log

    if args.data or args.label_key:
        raise RecommenderMonitorError("--data and --label-key are for tabular projects: a recommender is "
                                      "monitored on its prediction log, joined to --labels on user and time")
    log = read_prediction_log(project.prediction_log, args.since, args.until)
    labels = read_rows(project.path(args.labels)) if args.labels else None
    return run_pass(project, log, labels, f"the prediction log {project.shown(project.prediction_log)}",
                    labels_source=args.labels, retrain_overrides=args.retrain_set,
                    say=lambda text: print(text, flush=True))
