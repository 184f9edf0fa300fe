"""The drift report's data: ``{monitor.reports}/drift_history.json`` and the rows of a window.

Before ``nbprod monitor`` ever ran there is no such history; :func:`read_drift`
then reads the build's own check (``{products}/monitoring/pipeline_drift.json``,
written by the pipeline's ``monitor`` task in the same shape) and marks it so the
page can say where the figures come from.

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

import contextlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from nbprod.drift.profiles import PVALUE_METHODS  # drift when ``p_value < threshold``

#: Event kinds, in plain words.
EVENT_WORDS = {
    "retrain": "retraining started",
    "no_action": "checked, no action needed",
    "promoted": "a retrained model was promoted",
    "rejected": "a retrained model was rejected by the gate",
}
#: Where a history came from: ``nbprod monitor`` (live) or the pipeline's ``monitor`` task.
MONITORING, PIPELINE = "monitoring", "pipeline"
PIPELINE_WORDS = "from the pipeline's check of the held-back months; no live monitoring yet"


@dataclass
class History:
    """The drift history, or why there is none (``problem``)."""

    path: Path
    data: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None
    source: str = MONITORING

    @property
    def windows(self) -> list[dict[str, Any]]:
        return list(self.data.get("windows") or [])

    @property
    def events(self) -> list[dict[str, Any]]:
        return list(self.data.get("events") or [])

    @property
    def empty(self) -> bool:
        return not self.windows


def read_history(path: Path, shown: str | None = None) -> History:
    """Read the history; a missing, unreadable or malformed file gives an empty one with ``problem`` set.

    ``shown``: the path as the messages name it (default: ``path``).
    """
    path = Path(path)
    name = shown or str(path)
    if not path.is_file():
        return History(path, problem=f"no monitoring data yet: no drift check has been recorded (expected in {name})")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        return History(path, problem=f"the monitoring history {name} could not be read: {error}")
    if not isinstance(data, Mapping) or not isinstance(data.get("windows", []), list):
        return History(path, problem=f"the monitoring history {name} is not in the expected format")
    history = History(path, dict(data))
    if history.empty:
        history.problem = f"no monitoring data yet: {name} has no window"
    return history


def read_drift(context: Any) -> History:
    """The monitoring history; when ``nbprod monitor`` never wrote one, the pipeline's drift check
    (``source`` :data:`PIPELINE`) if the build has it."""
    live = context.drift_history_path
    if not live.is_file() and context.pipeline_drift_path.is_file():
        history = read_history(context.pipeline_drift_path, context.shown(context.pipeline_drift_path))
        history.source = PIPELINE
        return history
    return read_history(live, context.shown(live))


def version_text(value: Any) -> str:
    """``"v7"`` for a model version; ``""`` when there is none (None, NaN, empty)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)) or str(value).strip() == "":
        return ""
    return f"v{value}"


def _version(value: Any) -> str | None:
    text = version_text(value)
    return text[1:] if text else None


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


def windows_frame(history: History, min_rows: int) -> pd.DataFrame:
    """One row per window: dates, rows, version, counts and share of drifted features, quality, and
    ``votes``: whether the window counts (at least ``min_rows`` rows and a drift result)."""
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
            "model_version": _version(window.get("model_version")),
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
    frame = pd.DataFrame(rows, columns=columns)
    return frame.assign(votes=(frame["rows"] >= int(min_rows)) & frame["drifted"].notna())


def events_frame(history: History) -> pd.DataFrame:
    """One row per event; ``at`` is the end of the window it refers to (else its own time), the
    time line's position of that window's result.

    Monitoring names a window by its start; an event naming a window's end stays there.
    """
    ends = {_stamp(w.get("start")): _stamp(w.get("end")) for w in history.windows}
    rows = []
    for event in history.events:
        at = _stamp(event.get("window"))
        at = ends.get(at, at) if not pd.isna(at) else at
        if pd.isna(at):
            at = _stamp(event.get("time"))
        rows.append({
            "at": at, "time": _stamp(event.get("time")), "kind": str(event.get("kind", "")),
            "what": EVENT_WORDS.get(str(event.get("kind")), str(event.get("kind", ""))),
            "reason": event.get("reason") or "",
            "model_version": _version(event.get("model_version")),
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


def headline_window(windows: pd.DataFrame) -> int | None:
    """The row of :func:`windows_frame` the headline reports: the latest window that votes (None: none)."""
    voting = windows.index[windows["votes"].astype(bool)]
    return None if voting.empty else int(voting[-1])


def _last_action(history: History) -> str:
    events = events_frame(history)
    acted = events[events["kind"] != "no_action"]
    if acted.empty:
        return ""
    last = acted.iloc[-1]
    when = last["at"] if not pd.isna(last["at"]) else last["time"]
    version = version_text(last["model_version"])
    date = "" if pd.isna(when) else f" on {when:%-d %b %Y}"
    return f" Last action{date}: {last['what']}" + (f" ({version})." if version else ".")


def not_judged(rows: int, min_rows: int) -> str:
    """Why a window does not vote: too few rows, or no verdict from its drift check."""
    if rows < min_rows:
        return f"too few to judge (at least {min_rows:,} needed)"
    return "not judged (its drift check gave no verdict)"


def headline(history: History, serving_version: str | None, min_rows: int) -> tuple[str, str]:
    """The drift report's headline and tone (``good``, ``warn``, ``bad`` or ``info``).

    It reports the latest window with at least ``min_rows`` rows (the windows that
    vote, as monitoring counts them); a newer, smaller window is mentioned apart.
    """
    version = version_text(serving_version)
    serving = f"Model {version} is serving" if version else "No model is serving yet"
    source = f" (Drift figures {PIPELINE_WORDS}.)" if history.source == PIPELINE else ""
    if history.empty:
        problem = history.problem or "no monitoring data yet"
        return f"{serving}. {problem[0].upper()}{problem[1:]}.", "info"
    windows = windows_frame(history, min_rows)
    index = headline_window(windows)
    newest = windows.iloc[-1]
    partial = ""
    if not newest["votes"] and (index is None or index < len(windows) - 1):
        partial = (f" The newest window ({newest['label']}) has {_plural(newest['rows'], 'row')} so far: "
                   f"{not_judged(newest['rows'], min_rows)}.")
    if index is None:
        return f"{serving}; no window has enough rows to judge drift yet.{partial}{_last_action(history)}{source}", "info"
    row = windows.iloc[index]
    where = "the latest full window" if partial else "the latest window"
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
    text += partial + _last_action(history) + source
    tone = "bad" if row["drifted"] else ("warn" if row["n_drifted"] else "good")
    return text, tone


def window_option(row: Any, min_rows: int) -> str:
    """A window picker's label: ``"1 Oct to 8 Oct 2013 (3 of 21 drifted)"``, small windows marked."""
    if not row.votes:
        return f"{row.label} ({_plural(row.rows, 'row')}: {not_judged(row.rows, min_rows)})"
    return f"{row.label} ({row.n_drifted} of {row.n_columns} drifted)"


def window_summary(window: Mapping[str, Any], top: int = 6) -> str:
    """``"3 of 22 features drifted: dep_time, carrier, origin."`` for one window."""
    frame = columns_frame(window)
    drifted = frame[frame["drifted"].fillna(False).astype(bool)]["column"].tolist()
    counted = (window.get("drift") or {}).get("n_columns", len(frame))
    if not drifted:
        return f"None of the {counted} features drifted in this window."
    more = f" and {len(drifted) - top} more" if len(drifted) > top else ""
    return f"{len(drifted)} of {counted} features drifted: {', '.join(drifted[:top])}{more}."


def prediction_shares(window: Mapping[str, Any]) -> pd.DataFrame | None:
    """The share of each predicted class in the reference rows and in the window (rows: classes, most
    frequent first; columns ``reference``, ``window``), when monitoring recorded the window's
    ``prediction_drift`` (a multiclass model); None otherwise."""
    found = window.get("prediction_drift")
    if not isinstance(found, Mapping):
        return None
    reference = pd.Series(found.get("reference_shares") or {}, dtype=float)
    current = pd.Series(found.get("shares") or {}, dtype=float)
    frame = pd.DataFrame({"reference": reference, "window": current}).fillna(0.0)
    order = frame.sum(axis=1).sort_values(ascending=False).index
    return frame.loc[order].rename_axis("predicted class")


def prediction_summary(window: Mapping[str, Any]) -> str:
    """Whether the predicted class distribution moved, in one sentence with its distance and threshold."""
    found = window.get("prediction_drift") or {}
    statistic, threshold = _number(found.get("statistic")), _number(found.get("threshold"))
    if not np.isfinite(statistic):
        return "The predicted classes could not be compared in this window."
    verdict = "moved" if found.get("drifted") else "did not move"
    measure = f"Jensen–Shannon distance {statistic:.3f}" + (f", threshold {threshold:.2f}"
                                                            if np.isfinite(threshold) else "")
    return f"The share of each predicted class {verdict} against the training data ({measure})."


# -- rows ---------------------------------------------------------------------------------------


def _between(frame: pd.DataFrame, column: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    from nbprod.data.times import read_times

    stamps = read_times(frame[column], column).stamps  # dates, dates as text or integer periods, as monitoring does
    return frame[((stamps >= start) & (stamps < end)).to_numpy()]


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
            source = f"the prediction log ({context.shown(context.prediction_log)})"
    except Exception:  # noqa: BLE001 - no log or an older log format: fall back to the new split
        frame = pd.DataFrame()
    if frame.empty:
        path = context.split_path("new")
        time_column = context.time_column
        if path.is_file() and time_column:
            wanted = None if columns is None else list(dict.fromkeys([*columns, time_column]))
            frame = _between(_read_columns(path, wanted), time_column, start, end)
            source = (f"the build's new-data split ({context.shown(path)}), rows with {time_column} in the window "
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
            frame = _read_columns(path, columns)
            if len(frame) > max_rows:
                frame = frame.sample(n=max_rows, random_state=seed)
            return frame, context.shown(path)
    return pd.DataFrame(), "not found"


def _read_columns(path: Path, columns: list[str] | None) -> pd.DataFrame:
    """The Parquet file's ``columns`` that it has (all when None), without reading the others."""
    if columns is None:
        return pd.read_parquet(path)
    import pyarrow.parquet as pq

    present = set(pq.read_schema(path).names)
    return pd.read_parquet(path, columns=[c for c in columns if c in present])


def sqlite_alias_version(uri: str, model_name: str, alias: str) -> str | None:
    """The alias's version read straight from an MLflow SQLite store (read-only, milliseconds instead of
    the seconds importing MLflow takes); raises LookupError when the store cannot answer that way."""
    import sqlite3

    prefix = "sqlite:///"
    path = Path(uri[len(prefix):]) if uri.startswith(prefix) else None
    if path is None or not path.is_file():
        raise LookupError(f"not an existing SQLite store: {uri}")
    try:
        with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as connection:
            found = connection.execute("SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?",
                                       (model_name, alias)).fetchall()
    except sqlite3.Error as error:
        raise LookupError(f"the store {uri} has no readable alias table: {error}") from None
    if len(found) > 1:
        raise LookupError(f"alias {alias!r} of {model_name!r} is ambiguous in {uri}")
    return str(found[0][0]) if found else None


def serving_version(context: Any) -> str | None:
    """The version the alias points to now in the project's store (None when there is no store, model or
    alias, or MLflow fails): never another store, such as MLflow's default one in the working directory."""
    from nbprod.tracking import missing_store

    if missing_store(context.tracking_uri) is not None:
        return None
    try:
        return sqlite_alias_version(context.tracking_uri, context.model_name, context.alias)
    except LookupError:
        pass
    try:
        from nbprod.registry.client import Registry

        return Registry(context.model_name, context.tracking_uri).alias_version(context.alias)
    except Exception:  # noqa: BLE001 - the drift report does not need MLflow to be readable
        return None
