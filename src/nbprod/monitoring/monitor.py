"""One monitoring pass: rows -> windows -> drift per window -> decision -> (retraining) -> records.

Used by ``nbprod monitor`` and by the replay demo. Every pass records its decision,
with the reason, in the drift history (``{monitor.reports}/drift_history.json`` and
``decisions.md``) and in MLflow (a run tagged ``nbprod.task=monitor``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from nbprod import alerts, locks
from nbprod.monitoring import builds, check, history, trigger, windows as windows_module
from nbprod.project import Project
from nbprod.tracking.tags import (
    MONITOR_BUILD_OK, MONITOR_DECISION, MONITOR_EVENTS, MONITOR_GATE, MONITOR_MODEL_VERSION,
    MONITOR_REASON, MONITOR_RETRAIN_DUE, MONITOR_RETRAIN_OVERRIDES, MONITOR_RETRAIN_RUN, MONITOR_RUN,
    MONITOR_SOURCE, MONITOR_TRIGGER, MONITOR_WINDOW, TASK, metric as tag_metric,
)

#: Seconds a pass waits for another one (holding the monitor lock from reading the history to recording its
#: decision) before giving up.
MONITOR_LOCK_WAIT = 900.0


@dataclass
class Report:
    """What a pass saw and did."""

    source: str
    rows: int
    windows: list[dict[str, Any]]            # every window of the rows (recorded or checked now)
    checked: list[dict[str, Any]]            # the windows checked in this pass (new or grown)
    decision: trigger.Decision
    events: list[dict[str, Any]] = field(default_factory=list)
    outcome: Any = None                      # retrain.Outcome when a retraining build ran
    monitor_run_id: str | None = None
    window_column: str | None = None
    rows_without_time: int = 0
    retrain_enabled: bool = True
    history_path: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.outcome is not None and not self.outcome.ok else 0


def read_rows(path: Path) -> pd.DataFrame:
    """A CSV or Parquet batch of new data (a missing, empty or unreadable file is a :class:`MonitorError`)."""
    from nbprod.data.sources import DataSourceError, read_table

    try:
        return read_table(Path(path))
    except DataSourceError as error:
        raise check.MonitorError(str(error)) from None


#: The prediction log's column of the client's X-Request-ID: never a key labels are joined on.
CLIENT_ID = "client_request_id"


def attach_labels(rows: pd.DataFrame, labels: pd.DataFrame, target: str, key: Sequence[str] | None = None
                  ) -> tuple[pd.DataFrame, list[str]]:
    """``rows`` with the true ``target`` from ``labels`` joined on ``key``; and the key used.

    Default key: ``request_id`` and ``row`` (prediction log rows) when both sides have
    them, else ``request_id``, else every column the two share besides the target.
    Never ``client_request_id``: a client's ``X-Request-ID`` is whatever the client sent
    (two clients may send the same), so labels joined on it could land on others' rows.
    """
    if target not in labels.columns:
        raise check.MonitorError(f"the labels have no {target!r} column (data.target)")
    if key:
        key = list(key)
        if CLIENT_ID in key:
            raise check.MonitorError(f"labels cannot be joined on {CLIENT_ID!r} (the client's X-Request-ID, not "
                                     "unique): join on request_id and row, the service's ids in each response")
    elif {"request_id", "row"} <= set(rows.columns) & set(labels.columns):
        key = ["request_id", "row"]
    elif "request_id" in rows.columns and "request_id" in labels.columns:
        key = ["request_id"]
    else:
        key = [c for c in labels.columns if c in rows.columns and c not in (target, CLIENT_ID)]
    missing = [c for c in key if c not in rows.columns or c not in labels.columns]
    if not key or missing:
        raise check.MonitorError(f"cannot join the labels to the rows: no shared key column "
                                 f"({', '.join(missing) or 'none in common'}); use --label-key")
    right = labels[[*key, target]].drop_duplicates(key, keep="last")
    for column in key:  # join on text: ids read from CSV may be numbers
        right[column] = right[column].astype(str)
    left = rows.assign(**{column: rows[column].astype(str) for column in key})
    merged = left.drop(columns=[target], errors="ignore").merge(
        right.rename(columns={target: "__label"}), on=key, how="left", validate="many_to_one")
    label = merged.pop("__label")
    if target in rows.columns:
        label = label.where(label.notna(), rows[target].to_numpy())
    result = rows.copy()
    result[target] = label.to_numpy()
    return result, key


class ModelScorer:
    """Scores raw rows with a model (None when the rows lack one of its input columns): a binary
    classifier's positive-class probability, a multiclass one's probability matrix (in
    ``labels.classes`` order), a regressor's prediction. ``threshold``: a binary model's decision
    threshold (accuracy and F1 of its scores are computed at it; None: the drift library's cut)."""

    def __init__(self, model: Any, task: str, labels: Any = None, threshold: float | None = None) -> None:
        from nbprod.model.features import feature_contract
        from nbprod.model.labels import ClassLabels, is_classification

        self.model, self.task, self.threshold = model, task, threshold
        self.names = feature_contract(model).names
        self.labels = (labels or ClassLabels.from_model(model)) if is_classification(task) else None

    def __call__(self, frame: pd.DataFrame) -> Any:
        if any(name not in frame.columns for name in self.names):
            return None
        if self.labels is None:
            return self.model.predict(frame[self.names])
        probabilities = self.model.predict_proba(frame[self.names])
        return self.labels.positive_scores(probabilities) if self.labels.binary else probabilities


def model_scorer(model: Any, task: str, labels: Any = None) -> Callable[[pd.DataFrame], Any]:
    """A :class:`ModelScorer` of ``model`` (``labels``: its classes and positive class; default from the model)."""
    return ModelScorer(model, task, labels)


def registered_scorer(model_name: str, version: str, task: str, tracking_uri: str | None = None) -> ModelScorer:
    """A scorer of a registered version, with the positive class its ``nbprod.positive_class`` tag names."""
    from nbprod.model.labels import ClassLabels, is_classification
    from nbprod.registry.client import Registry
    from nbprod.tracking.tags import THRESHOLD as THRESHOLD_TAG

    registry = Registry(model_name, tracking_uri)
    model = registry.load(version)
    tags = registry.version(version).tags
    if not is_classification(task):
        return ModelScorer(model, task)
    threshold = tags.get(THRESHOLD_TAG)
    return ModelScorer(model, task, ClassLabels.from_tags(model.classes_, tags),
                       float(threshold) if threshold is not None else None)


def champion_scorer(project: Project, version: str) -> tuple[Any, str]:
    """A function scoring raw rows with the champion ``version``, and a note."""
    scorer = registered_scorer(project.model_name, version, project.task, project.tracking_uri())
    return scorer, f"scored with the champion v{version}"


def champion_reference(project: Project, metric: str, version: str | None) -> float | None:
    """What the champion is expected to score: as the gate last measured it after a retraining, else its
    recorded test metric (version tag), else the build's evaluation."""
    remeasured = builds.champion_metric(project, version, metric)
    if remeasured is not None:
        return remeasured
    if version is not None:
        try:
            from nbprod.registry.client import Registry

            tag = Registry(project.model_name, project.tracking_uri()).version(version).tags.get(tag_metric(metric))
            if tag is not None:
                return float(tag)
        except Exception:  # noqa: BLE001
            pass
    return check.reference_metric(project, metric)


class LocalRows:
    """Rows held in this process, cut into windows and checked here: what a pass monitors by default.

    Another engine gives a pass an object with the same members (``len``, :attr:`columns`, :meth:`labelled`,
    :meth:`slice`, :meth:`check`) whose windows are read and checked elsewhere (the Dask engine:
    :class:`nbprod.monitoring.cluster.ClusterRows`)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def __len__(self) -> int:
        return int(len(self.frame))

    @property
    def columns(self) -> list[str]:
        """The rows' columns."""
        return list(self.frame.columns)

    def labelled(self, target: str) -> bool:
        """Whether some row has a value of ``target``."""
        return target in self.frame.columns and bool(self.frame[target].notna().any())

    def logged_scores(self) -> bool:
        """Whether the rows carry the model's logged output (``probability`` or ``prediction``)."""
        return "probability" in self.frame.columns or "prediction" in self.frame.columns

    def slice(self, settings: Mapping[str, Any], reference_columns: Sequence[str], notes: list[str],
              now: Any = None) -> tuple[str | None, list[windows_module.Window], int]:
        """The window column, the windows, the rows without a time (see :func:`_slice_rows`)."""
        return _slice_rows(self.frame, settings, reference_columns, notes, now)

    def check(self, slices: Sequence[Any], reference: Any, settings: Mapping[str, Any], **options: Any
              ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """History entries of ``slices``: :func:`nbprod.monitoring.check.check_windows`."""
        return check.check_windows(slices, reference, settings, **options)


def run_pass(project: Project, rows: pd.DataFrame | LocalRows, source: str, *,
             retrain_overrides: Sequence[str] = (), track: bool = True, log=print,
             on_decision: Callable[[Report], None] | None = None) -> Report:
    """Monitor ``rows`` of :class:`~nbprod.project.Project` ``project``: check new windows, decide, maybe
    retrain, record everything.

    From reading the drift history to recording the decision the pass holds the project's monitor
    lock (:attr:`~nbprod.project.Project.monitor_lock`, waiting up to :data:`MONITOR_LOCK_WAIT`
    seconds for another pass): two passes at once start at most one retraining, the second seeing
    the first's ``retrain`` event. The retraining build itself runs after the lock is released.

    ``on_decision`` is called with the report once the decision is recorded, before a
    retraining build starts (the replay demo narrates the week there). ``rows``: a frame, or an object
    like :class:`LocalRows` whose windows are checked elsewhere.
    """
    rows = LocalRows(rows) if isinstance(rows, pd.DataFrame) else rows
    notes: list[str] = []
    base, version = project, None
    if track:
        from nbprod import tracking

        tracking.configure(project.settings, project.root)
        version = _champion_version(project, notes)
        project = builds.for_champion(project, version)
    reference = check.load_reference(project)
    merged: dict = {}

    def decide() -> tuple[Report, dict[str, Any]]:
        report, found, first = _check_and_decide(project, rows, source, reference, version, notes, track)
        merged.update(found)
        return report, first

    def retrain(report: Report, first: dict[str, Any]) -> None:
        window = report.decision.window
        end = merged.get(next((key for key in merged if key[0] == window), None), {}).get("end")
        _retrain(base, report, first, end, retrain_overrides, log)

    return decided_pass(project, decide, retrain, on_decision)


def decided_pass(project: Project, decide: Callable[[], tuple[Any, dict[str, Any]]],
                 retrain: Callable[[Any, dict[str, Any]], None],
                 on_decision: Callable[[Any], None] | None = None) -> Any:
    """The skeleton of a monitoring pass, for every kind of project.

    ``decide()`` reads the drift history, checks the new windows, decides with the k-of-n rule and
    records the decision, returning the report (``source``, ``decision``, ``retrain_enabled``,
    ``monitor_run_id``, ``outcome``, ``events``) and the decision's history event. It runs holding
    the project's monitor lock (:attr:`~nbprod.project.Project.monitor_lock`, waiting up to
    :data:`MONITOR_LOCK_WAIT` seconds for another pass): two passes at once start at most one
    retraining. The decision is alerted (:func:`nbprod.alerts.decision_events`) before the lock is
    released; then ``on_decision(report)``; then, when retraining is due and allowed,
    ``retrain(report, event)`` outside the lock and its outcome alerted
    (:func:`nbprod.alerts.retrain_events`); last the pass's MLflow run is finished (:func:`finish_run`).
    """
    with locks.hold(project.monitor_lock, "nbprod monitor", wait=MONITOR_LOCK_WAIT):
        report, first = decide()
        alerts.send_all(project.settings, alerts.decision_events(report.decision, report.retrain_enabled,
                                                                 report.source, report.monitor_run_id))
    if on_decision is not None:
        on_decision(report)
    if report.decision.retrain and report.retrain_enabled:
        retrain(report, first)
        alerts.send_all(project.settings, alerts.retrain_events(report.outcome))
    finish_run(project, report.monitor_run_id, report)
    return report


def _check_and_decide(project: Project, rows: LocalRows, source: str, reference: Any, version: str | None,
                      notes: list[str], track: bool) -> tuple[Report, dict, dict[str, Any]]:
    """Read the drift history, check the new windows, decide and record the decision (under the monitor lock:
    a concurrent pass reads the history only after this decision, a retraining included, is in it)."""
    settings = project.settings
    path = project.drift_history
    state = history.read(path)
    column, slices, without_time = rows.slice(settings, reference.columns, notes, file_order_start(state))
    scorer, metric_reference = _champion_scoring(project, rows, version, notes) if track else (None, None)
    predicted_reference = _predicted_reference(project, reference, version, scorer) if track else None
    recorded = history.recorded(state)
    checked, entries = rows.check(slices, reference, settings, recorded=recorded, scorer=scorer,
                                  reference_value=metric_reference,
                                  model_version=None if "model_version" in rows.columns else version,
                                  predicted_reference=predicted_reference)
    notes.extend(replaced_window_notes(recorded, checked))
    merged, decision = _decide(settings, state, rows, source, column, slices, checked)
    monitor = settings["monitor"]
    report = Report(source=source, rows=int(len(rows)), windows=entries, checked=checked, decision=decision,
                    window_column=column, rows_without_time=without_time, retrain_enabled=bool(monitor["retrain"]),
                    history_path=path, notes=notes)
    report.monitor_run_id = _start_mlflow_run(project, report, merged) if track else None
    first = decision_event(report)
    report.events.append(first)

    def record(data: dict[str, Any]) -> None:
        data["reference"] = reference.to_dict()
        history.merge_windows(data, checked)
        data["events"].append(first)

    history.update(path, record)
    return report, merged, first


def replaced_window_notes(recorded: Mapping[tuple[str, str], Mapping[str, Any]],
                          checked: Sequence[Mapping[str, Any]]) -> list[str]:
    """A note for each window checked again on a different number of rows than it was recorded with.

    A window is checked on the rows one input holds for it, so a batch holding part of an
    already recorded week replaces that week's entry rather than adding to it.
    """
    notes = []
    for entry in checked:
        known = recorded.get((str(entry["start"]), str(entry["end"])))
        if known is not None and int(known.get("rows") or 0) != int(entry["rows"]):
            notes.append(f"window {str(entry['start'])[:10]} .. {str(entry['end'])[:10]} was recorded with "
                         f"{int(known.get('rows') or 0)} row(s) and is now checked on the {int(entry['rows'])} "
                         "this input holds for it (a window is checked on one input's rows: give a window's "
                         "rows together)")
    return notes


def file_order_start(state: Mapping[str, Any]) -> pd.Timestamp:
    """Where this pass's windows in file order are keyed: now, or after the latest recorded window if that is later
    (two passes in the same second never share a key)."""
    now = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
    ends = [windows_module.naive_utc([w.get("end")]).iloc[0] for w in state.get("windows") or []]
    latest = max((end for end in ends if not pd.isna(end)), default=None)
    return now if latest is None or latest <= now else pd.Timestamp(latest)


def _slice_rows(rows: pd.DataFrame, settings: Mapping[str, Any], reference_columns: Sequence[str],
                notes: list[str], now: Any = None) -> tuple[str | None, list[windows_module.Window], int]:
    """The window column, the rows cut into windows, and how many rows had no time (noted, as are absent columns);
    windows in file order are keyed from ``now``."""
    if not len(rows):
        return None, [], 0
    monitor = settings["monitor"]
    column = windows_module.resolve_column(monitor["window_column"], settings["data"]["time_column"], rows.columns)
    slices, without_time = windows_module.slice_windows(rows, column, monitor["window"], settings["split"]["new_start"],
                                                        now=now)
    notes.extend(slice_notes(column, len(slices), without_time, rows.columns, reference_columns, monitor))
    return column, slices, without_time


def slice_notes(column: str | None, windows: int, without_time: int, columns: Sequence[str],
                reference_columns: Sequence[str], monitor: Mapping[str, Any]) -> list[str]:
    """The notes on how rows were cut: rows without a time, windows in file order, monitored columns absent."""
    notes = [f"{without_time} row(s) without a {column} were left out"] if without_time else []
    if column is None:
        notes.append(f"no time places the rows (monitor.window_column {monitor['window_column']}, monitor.window "
                     f"{monitor['window']}): {windows} window(s) of rows in file order, recorded at this "
                     "pass's time")
    absent = [c for c in reference_columns if c not in columns]
    if absent:
        notes.append(f"column(s) missing from the rows (count as drifted): {', '.join(absent)}")
    return notes


def _champion_version(project: Project, notes: list[str]) -> str | None:
    """The version the alias points at (None, noted, when there is none or no registry)."""
    try:
        from nbprod.registry.client import Registry

        version = Registry(project.model_name, project.tracking_uri()).alias_version(project.alias)
    except Exception:  # noqa: BLE001 - no registry: drift only
        version = None
    if version is None:
        notes.append("no champion yet: drift checked, performance skipped")
    return version


def _predicted_reference(project: Project, reference: check.Reference, version: str | None, scorer: Any) -> Any:
    """The classes a multiclass champion predicts on the reference rows (None for any other model)."""
    from nbprod.model.labels import decode_tag, is_classification
    from nbprod.tracking.tags import CLASSES as CLASSES_TAG
    from nbprod.registry.client import Registry

    if version is None or not is_classification(project.task):
        return None
    if scorer is None:
        try:
            tags = Registry(project.model_name, project.tracking_uri()).version(version).tags
        except Exception:  # noqa: BLE001 - no registry: no prediction drift
            return None
        if len(decode_tag(tags.get(CLASSES_TAG)) or ()) <= 2:
            return None
        scorer = registered_scorer(project.model_name, version, project.task, project.tracking_uri())
    return check.reference_predictions(reference.path, scorer)


def _champion_scoring(project: Project, rows: LocalRows, version: str | None,
                      notes: list[str]) -> tuple[Any, float | None]:
    """For labelled rows: a scorer when the rows carry no logged scores, and the champion's expected metric."""
    if not len(rows) or not rows.labelled(project.target):
        return None, None
    scorer = None
    if not rows.logged_scores() and version is not None:
        scorer, note = champion_scorer(project, version)
        notes.append(note)
    return scorer, champion_reference(project, check.window_metric_name(project.settings), version)


def _decide(settings: Mapping[str, Any], state: Mapping[str, Any], rows: LocalRows, source: str,
            column: str | None, slices: Sequence[Any], checked: Sequence[Mapping[str, Any]]
            ) -> tuple[dict[tuple, Mapping[str, Any]], trigger.Decision]:
    """Every window (recorded in ``state`` and checked now) by ``(start, end)``, and the k-of-n decision."""
    merged = dict(sorted(history.recorded(state).items()))
    merged.update({(w["start"], w["end"]): w for w in checked})
    votes = [trigger.Vote.from_window(w) for _, w in sorted(merged.items())]
    decision = trigger.decide(votes, trigger.Rules.from_settings(settings["monitor"]),
                              since=history.last_retrain_window(state))
    if not len(rows):
        decision = trigger.Decision(False, f"no data: {source} has no rows", None)
    elif not slices:
        decision = trigger.Decision(False, f"no data: none of the {len(rows)} rows has a {column}", None)
    return merged, decision


def decision_event(report: Any) -> dict[str, Any]:
    """The history event of the decision: retrain, or no action (with why)."""
    decision, run_id = report.decision, report.monitor_run_id
    if decision.retrain and not report.retrain_enabled:
        return history.event("no_action", f"retraining is due ({decision.reason}) but monitor.retrain is false: "
                                          "recorded only", decision.window, run_id)
    if decision.retrain:
        return history.event("retrain", f"{decision.reason}; retraining started", decision.window, None)
    return history.event("no_action", decision.reason, decision.window, run_id)


def _retrain(project: Project, report: Report, first: dict[str, Any], end: Any,
             retrain_overrides: Sequence[str], log: Callable[[str], None]) -> None:
    """Build on the refreshed window; record the build on ``first`` and the gate's verdict as a second event."""
    from nbprod.monitoring import retrain

    settings = project.settings
    decision, path = report.decision, report.history_path
    stamp = time.strftime("%Y%m%dT%H%M%S")
    overrides = retrain.retrain_overrides(settings, end, report.window_column == settings["data"]["time_column"],
                                          retrain_overrides)
    if not any(text.split("=", 1)[0].strip() in ("products", "reports") for text in retrain_overrides):
        overrides += builds.retrain_folders(settings, stamp)
    log(f"retraining started: nbprod build {' '.join('--set ' + o for o in overrides) or '(current settings)'}")
    build_log = path.parent / f"retrain-{stamp}.log"
    outcome = retrain.run(project, overrides, build_log)
    if outcome.decision == "promoted" and outcome.model_version:
        products = project.with_overrides(overrides).settings["products"]
        builds.record_champion(project, outcome.model_version, products, outcome.parent_run_id,
                               outcome.champion_metrics)
    elif outcome.decision == "rejected" and outcome.champion:
        builds.record_champion(project, outcome.champion, builds.champion_products(project, outcome.champion),
                               outcome.parent_run_id, outcome.champion_metrics)
    report.notes.append(f"retraining build output: {build_log}")
    report.outcome = outcome
    first["run_id"] = outcome.parent_run_id
    first["reason"] = f"{decision.reason}; retraining build " + (
        f"with {', '.join(overrides)}" if overrides else "with the current settings")
    record_retraining(report, first, outcome)


def record_retraining(report: Any, first: dict[str, Any], outcome: Any) -> None:
    """The retraining build's ``outcome`` in the drift history: the ``retrain`` event ``first`` (updated with the
    build's run) and the gate's verdict as a second event (:func:`gate_event`); a build without one adds
    its reason to ``first``."""
    second = gate_event(outcome, report.decision.window)
    if second is None:
        first["reason"] += f" ({outcome.reason})"
    else:
        report.events.append(second)

    def record_outcome(data: dict[str, Any]) -> None:
        for item in reversed(data["events"]):
            if item["time"] == first["time"] and item["kind"] == "retrain" and item["window"] == first["window"]:
                item.update(first)
                break
        if second:
            data["events"].append(second)

    history.update(report.history_path, record_outcome)


def gate_event(outcome: Any, window: str | None) -> dict[str, Any] | None:
    """The gate's verdict on a retraining build as an event (None when the build ran without one)."""
    if outcome.decision in ("promoted", "rejected"):
        return history.event(outcome.decision, f"promotion gate: {outcome.reason}", window,
                             outcome.parent_run_id, outcome.model_version)
    if not outcome.ok:
        return history.event("rejected", f"no new model: {outcome.reason}; the champion is unchanged",
                             window, outcome.parent_run_id, None)
    return None


def _start_mlflow_run(project: Project, report: Report, windows: Mapping[tuple, Mapping]) -> str | None:
    """A run tagged ``nbprod.task=monitor``: drift share per window, drifted windows, the decision."""
    from mlflow.entities import Metric

    now_ms = int(time.time() * 1000)
    metrics = []
    for step, (_, window) in enumerate(sorted(windows.items())):
        drift = window.get("drift") or {}
        stamp = metric_time(window["start"], now_ms)
        if drift.get("share") is not None:
            metrics.append(Metric("drift_share", float(drift["share"]), stamp, step))
        metrics.append(Metric("window_rows", float(window.get("rows") or 0), stamp, step))
        value = (window.get("performance") or {}).get("value")
        if value is not None:
            metrics.append(Metric(f"window_{window['performance']['metric']}", float(value), stamp, step))
    return start_run(project, report, metrics, {"windows": len(windows), "rows": report.rows})


def start_run(project: Project, report: Any, window_metrics: Sequence[Any], totals: Mapping[str, float]) -> str:
    """A pass's MLflow run, for every kind of project: tagged ``nbprod.task=monitor`` with the decision, its
    ``window_metrics`` (MLflow ``Metric``s stepped by window), ``totals`` and the decision's counts as
    metrics, the ``monitor`` settings as params."""
    from mlflow.entities import Metric, Param

    from nbprod import tracking

    settings = project.settings
    experiment_id = tracking.configure(settings, project.root)
    client = tracking.client_for(project.tracking_uri())
    decision = report.decision
    tags = {TASK: "monitor", MONITOR_DECISION: decision.kind,
            MONITOR_RETRAIN_DUE: str(decision.retrain).lower(),
            MONITOR_REASON: decision.reason[:5000], MONITOR_WINDOW: decision.window or "",
            MONITOR_TRIGGER: decision.trigger or "", MONITOR_SOURCE: report.source[:5000]}
    run = client.create_run(experiment_id, run_name=f"monitor {time.strftime('%Y-%m-%d %H:%M:%S')}", tags=tags)
    now_ms = int(time.time() * 1000)
    counts = {**totals, "windows_checked": len(report.checked), "voting_windows": len(decision.voting),
              "drifted_windows": len(decision.drifted), "retrain": decision.retrain}
    metrics = [*window_metrics, *(Metric(name, float(value), now_ms, 0) for name, value in counts.items())]
    params = [Param(f"monitor.{key}", str(value)[:6000]) for key, value in settings["monitor"].items()]
    for start in range(0, len(metrics), 900):
        client.log_batch(run.info.run_id, metrics=metrics[start:start + 900],
                         params=params if start == 0 else [], tags=[])
    return run.info.run_id


def metric_time(start: Any, now_ms: int) -> int:
    """A window's MLflow metric time: its start in ms since 1970, or ``now_ms`` when that is before 1970 or unknown."""
    stamp = windows_module.naive_utc([start]).iloc[0]
    if pd.isna(stamp):
        return now_ms
    milliseconds = int((stamp - pd.Timestamp("1970-01-01")) // pd.Timedelta(milliseconds=1))
    return milliseconds if milliseconds >= 0 else now_ms


def finish_run(project: Project, run_id: str | None, report: Any) -> None:
    """A pass's MLflow run ``run_id`` finished: the retraining's tags (and on the build's run, a link back), the
    events; nothing when the pass was not tracked (None)."""
    if run_id is None:
        return
    from nbprod.tracking import client_for

    client = client_for(project.tracking_uri())
    outcome = report.outcome
    if outcome is not None:
        client.set_tag(run_id, MONITOR_RETRAIN_OVERRIDES, "; ".join(outcome.overrides)[:5000])
        client.set_tag(run_id, MONITOR_BUILD_OK, str(outcome.ok).lower())
        if outcome.parent_run_id:
            client.set_tag(run_id, MONITOR_RETRAIN_RUN, outcome.parent_run_id)
            try:
                client.set_tag(outcome.parent_run_id, MONITOR_RUN, run_id)
                client.set_tag(outcome.parent_run_id, MONITOR_REASON, report.decision.reason[:5000])
            except Exception:  # noqa: BLE001 - the link is a convenience
                pass
        client.set_tag(run_id, MONITOR_GATE, outcome.decision or "not run")
        if outcome.model_version:
            client.set_tag(run_id, MONITOR_MODEL_VERSION, outcome.model_version)
        client.log_metric(run_id, "promoted", float(outcome.decision == "promoted"))
    client.set_tag(run_id, MONITOR_EVENTS, "; ".join(f"{e['kind']}: {e['reason']}"
                                                                for e in report.events)[:5000])
    client.set_terminated(run_id, "FINISHED")
