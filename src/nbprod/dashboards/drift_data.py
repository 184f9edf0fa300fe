"""The drift report's data: ``{monitor.reports}/drift_history.json`` and the rows of a window.

The history (written by monitoring) holds the reference, one entry per window
(its rows, the model version serving, the drift library's dataset result and the
model's quality when the outcome is known) and the events (retraining and its
outcome). Missing or unreadable history is not an error: :func:`read_history`
says why and the dashboard shows "no monitoring data yet".

The rows of a window, for the distribution plots, come from the service's
prediction log (:func:`nbprod.serving.prediction_log.read_prediction_log`) when
it has rows in the window's time range, else from the build's ``new`` split
filtered on the time column (the data monitoring replays); :func:`window_rows`
says which.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

#: Methods whose threshold applies to a p-value (drift when ``p_value < threshold``).
PVALUE_METHODS = frozenset({"ks", "chisquare"})
#: Event kinds, in plain words.
EVENT_WORDS = {
    "retrain": "retraining started",
    "no_action": "checked, no action needed",
    "promoted": "a retrained model was promoted",
    "rejected": "a retrained model was rejected by the gate",
}


@dataclass
class History:
    """The drift history, or why there is none (``problem``)."""

    path: Path
    data: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None

    @property
    def windows(self) -> list[dict[str, Any]]:
        return list(self.data.get("windows") or [])

    @property
    def events(self) -> list[dict[str, Any]]:
        return list(self.data.get("events") or [])

    @property
    def empty(self) -> bool:
        return not self.windows


def read_history(path: Path) -> History:
    """Read the history; a missing, unreadable or malformed file gives an empty one with ``problem`` set."""
    path = Path(path)
    if not path.is_file():
        return History(path, problem=f"no monitoring data yet: {path} does not exist")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        return History(path, problem=f"the monitoring history {path} could not be read: {error}")
    if not isinstance(data, Mapping) or not isinstance(data.get("windows", []), list):
        return History(path, problem=f"the monitoring history {path} is not in the expected format")
    history = History(path, dict(data))
    if history.empty:
        history.problem = f"no monitoring data yet: {path} has no window"
    return history


def _stamp(value: Any) -> pd.Timestamp:
    """A naive (UTC) timestamp, NaT when missing or unreadable."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        return pd.NaT
    if stamp is pd.NaT or pd.isna(stamp):
        return pd.NaT
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return number


def window_label(start: Any, end: Any) -> str:
    """``"1 Oct to 8 Oct 2013"`` (the end is exclusive; shown as is)."""
    low, high = _stamp(start), _stamp(end)
    if pd.isna(low) or pd.isna(high):
        return f"{start} to {end}"
    same_year = low.year == high.year
    first = f"{low.day} {low:%b}" + ("" if same_year else f" {low.year}")
    if low.hour or low.minute or high.hour or high.minute:
        first = f"{first} {low:%H:%M}"
        return f"{first} to {high.day} {high:%b %Y %H:%M}"
    return f"{first} to {high.day} {high:%b %Y}"


def windows_frame(history: History) -> pd.DataFrame:
    """One row per window: dates, rows, version, counts and share of drifted features, quality."""
    rows = []
    for index, window in enumerate(history.windows):
        drift = window.get("drift") or {}
        performance = window.get("performance") or {}
        rows.append({
            "window": index,
            "start": _stamp(window.get("start")),
            "end": _stamp(window.get("end")),
            "label": window_label(window.get("start"), window.get("end")),
            "rows": int(window.get("rows") or drift.get("n_rows_current") or 0),
            "model_version": None if window.get("model_version") is None else str(window["model_version"]),
            "n_columns": int(drift.get("n_columns") or 0),
            "n_drifted": int(drift.get("n_drifted") or 0),
            "share": _number(drift.get("share")),
            "drift_share": _number(drift.get("drift_share")),
            "drifted": drift.get("drifted"),
            "status": drift.get("status", "ok"),
            "performance_metric": performance.get("metric"),
            "performance_value": _number(performance.get("value", performance.get("current"))),
            "performance_reference": _number(performance.get("reference")),
        })
    columns = ["window", "start", "end", "label", "rows", "model_version", "n_columns", "n_drifted", "share",
               "drift_share", "drifted", "status", "performance_metric", "performance_value",
               "performance_reference"]
    return pd.DataFrame(rows, columns=columns)


def events_frame(history: History) -> pd.DataFrame:
    """One row per event; ``at`` is the window time it refers to (else its own time), for the timeline."""
    rows = []
    for event in history.events:
        at = _stamp(event.get("window"))
        if pd.isna(at):
            at = _stamp(event.get("time"))
        rows.append({
            "at": at, "time": _stamp(event.get("time")), "kind": str(event.get("kind", "")),
            "what": EVENT_WORDS.get(str(event.get("kind")), str(event.get("kind", ""))),
            "reason": event.get("reason") or "",
            "model_version": None if event.get("model_version") is None else str(event["model_version"]),
            "run_id": event.get("run_id") or "",
        })
    return pd.DataFrame(rows, columns=["at", "time", "kind", "what", "reason", "model_version", "run_id"])


def severity(method: str | None, statistic: Any, threshold: Any, p_value: Any) -> float:
    """How far a column is from its alarm threshold, on one scale: 1 at the threshold, above 1 drifting.

    Distance methods: ``statistic / threshold``; p-value tests: ``log(p) / log(threshold)``.
    """
    threshold = _number(threshold)
    if method in PVALUE_METHODS:
        p = _number(p_value)
        if p == 0:
            return float("inf")
        if not (math.isfinite(p) and 0 < threshold < 1):
            return float("nan")
        return math.log(p) / math.log(threshold)
    value = _number(statistic)
    if not (math.isfinite(value) and threshold > 0):
        return float("inf") if value == float("inf") else float("nan")
    return value / threshold


def columns_frame(window: Mapping[str, Any]) -> pd.DataFrame:
    """The window's per-feature results, drifted features first, then by :func:`severity`."""
    drift = window.get("drift") or {}
    rows = []
    for column in drift.get("columns") or []:
        method = column.get("method")
        rows.append({
            "column": column.get("column"),
            "kind": column.get("kind"),
            "method": method or "",
            "statistic": _number(column.get("statistic")),
            "threshold": _number(column.get("threshold")),
            "p_value": _number(column.get("p_value")),
            "drifted": column.get("drifted"),
            "severity": severity(method, column.get("statistic"), column.get("threshold"), column.get("p_value")),
            "psi": _number(column.get("psi")),
            "missing_reference": _number(column.get("missing_rate_reference")),
            "missing_current": _number(column.get("missing_rate_current")),
            "unseen_share": _number(column.get("unseen_share")),
            "status": column.get("status", "ok"),
            "pvalue_method": method in PVALUE_METHODS,
        })
    columns = ["column", "kind", "method", "statistic", "threshold", "p_value", "drifted", "severity", "psi",
               "missing_reference", "missing_current", "unseen_share", "status", "pvalue_method"]
    frame = pd.DataFrame(rows, columns=columns)
    if frame.empty:
        return frame
    order = frame.assign(_d=frame["drifted"].fillna(False).astype(bool),
                         _s=frame["severity"].fillna(-np.inf)).sort_values(["_d", "_s"], ascending=False)
    return order.drop(columns=["_d", "_s"]).reset_index(drop=True)


#: Column statuses without a statistic, in plain words.
STATUS_WORDS = {
    "missing_column": "column missing from this window",
    "no_current_values": "no values in this window",
    "no_reference_values": "no values in the training data",
    "no_values": "no values on either side",
    "not_in_reference": "not in the training data",
    "empty": "empty window",
}


def readable_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The per-feature table as shown to a reader: plain headers, the essential columns."""
    shown = pd.DataFrame({
        "feature": frame["column"],
        "drifted": frame["drifted"].map({True: "yes", False: "no"}).fillna("–"),
        "test": frame["method"].replace("", "–"),
        "statistic": frame["statistic"],
        "threshold": frame["threshold"],
        "p-value": frame["p_value"],
        "missing now": frame["missing_current"],
        "missing before": frame["missing_reference"],
        "new categories": frame["unseen_share"],
        "note": frame["status"].map(STATUS_WORDS).fillna(""),
    })
    return shown.set_index("feature")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def headline(history: History, serving_version: str | None, index: int = -1) -> tuple[str, str]:
    """The drift report's headline and tone (``good``, ``warn``, ``bad`` or ``info``) for window ``index``."""
    serving = f"Model v{serving_version} is serving" if serving_version else "No model is serving yet"
    if history.empty:
        problem = history.problem or f"no monitoring data yet: {history.path} has no window"
        if problem.startswith("no monitoring data yet: ") and not history.path.is_file():
            problem = f"no monitoring data yet: no drift check has been recorded (expected in {history.path})"
        return f"{serving}. {problem[0].upper()}{problem[1:]}.", "info"
    windows = windows_frame(history)
    row = windows.iloc[index]
    latest = index in (-1, len(windows) - 1)
    where = "the latest window" if latest else "the window"
    text = f"{serving}; {row['n_drifted']} of {_plural(row['n_columns'], 'feature')} drifted in {where} " \
           f"({row['label']}, {row['rows']:,} predictions)."
    if row["drifted"]:
        text += f" That is past the alarm level of {row['drift_share']:.0%} of features."
    if math.isfinite(row["performance_value"]):
        from nbprod.dashboards.model_data import METRIC_LABELS

        metric = METRIC_LABELS.get(str(row["performance_metric"]), str(row["performance_metric"]))
        text += f" Model quality ({metric}) on that window: {row['performance_value']:.3f}"
        if math.isfinite(row["performance_reference"]):
            text += f" (expected {row['performance_reference']:.3f})"
        text += "."
    events = events_frame(history)
    acted = events[events["kind"] != "no_action"]
    if not acted.empty:
        last = acted.iloc[-1]
        when = last["at"] if not pd.isna(last["at"]) else last["time"]
        version = f" (v{last['model_version']})" if last["model_version"] else ""
        date = "" if pd.isna(when) else f" on {when:%-d %b %Y}"
        text += f" Last action{date}: {last['what']}{version}."
    tone = "bad" if row["drifted"] else ("warn" if row["n_drifted"] else "good")
    return text, tone


def window_summary(window: Mapping[str, Any], top: int = 6) -> str:
    """``"3 of 22 features drifted: dep_time, carrier, origin."`` for one window."""
    frame = columns_frame(window)
    drifted = frame[frame["drifted"].fillna(False).astype(bool)]["column"].tolist()
    counted = (window.get("drift") or {}).get("n_columns", len(frame))
    if not drifted:
        return f"None of the {counted} features drifted in this window."
    more = f" and {len(drifted) - top} more" if len(drifted) > top else ""
    return f"{len(drifted)} of {counted} features drifted: {', '.join(drifted[:top])}{more}."


# -- rows ---------------------------------------------------------------------------------------


def _between(frame: pd.DataFrame, column: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    stamps = pd.to_datetime(frame[column])
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return frame[(stamps >= start) & (stamps < end)]


def window_rows(context: Any, window: Mapping[str, Any], columns: list[str] | None = None,
                max_rows: int = 50_000, seed: int = 0) -> tuple[pd.DataFrame, str]:
    """The window's input rows and where they came from (sampled down to ``max_rows``).

    Rows are placed in windows like monitoring places them (``monitor.window_column``:
    the data's time column when the rows have it, else the request time).
    """
    start, end = _stamp(window.get("start")), _stamp(window.get("end"))
    column = context.window_column
    frame = pd.DataFrame()
    source = ""
    try:
        from nbprod.serving.prediction_log import read_prediction_log

        log = read_prediction_log(context.prediction_log)
        if len(log):
            by = column if column and column in log.columns else "time"
            frame = _between(log, by, start, end)
            source = f"the prediction log ({context.prediction_log})"
    except Exception:  # noqa: BLE001 - no log or an older log format: fall back to the new split
        frame = pd.DataFrame()
    if frame.empty:
        path = context.split_path("new")
        time_column = context.time_column
        if path.is_file() and time_column:
            frame = _between(pd.read_parquet(path), time_column, start, end)
            source = (f"the build's new-data split ({path}), rows with {time_column} in the window "
                      "(the prediction log has no rows in it)")
        else:
            source = "nowhere: neither the prediction log nor the new-data split has rows for this window"
    if columns is not None:
        frame = frame[[c for c in columns if c in frame.columns]]
    if len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=seed)
    return frame, source


def reference_rows(context: Any, history: History, columns: list[str] | None = None,
                   max_rows: int = 50_000, seed: int = 0) -> tuple[pd.DataFrame, str]:
    """The reference rows (the history's reference file, else the train split), sampled down."""
    candidates = []
    recorded = (history.data.get("reference") or {}).get("path")
    if recorded:
        path = Path(recorded)
        candidates.append(path if path.is_absolute() else context.project / path)
    candidates.append(context.split_path("train"))
    for path in candidates:
        if path.is_file():
            frame = pd.read_parquet(path, columns=None)
            if columns is not None:
                frame = frame[[c for c in columns if c in frame.columns]]
            if len(frame) > max_rows:
                frame = frame.sample(n=max_rows, random_state=seed)
            return frame, str(path)
    return pd.DataFrame(), "not found"


def serving_version(context: Any) -> str | None:
    """The version the alias points to now (None when the model or alias does not exist, or MLflow fails)."""
    try:
        from nbprod.dashboards.context import connect
        from nbprod.registry.client import Registry

        connect(context)
        return Registry(context.model_name).alias_version(context.alias)
    except Exception:  # noqa: BLE001 - the drift report does not need MLflow to be readable
        return None
