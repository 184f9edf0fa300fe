"""What the monitoring notebook (the ``monitor`` DAG task) computes and shows.

The reference is the train split, the current data the ``new`` split held back by
prepare (the later months). The same windows, detector and k-of-n rule as
``nbprod monitor``; the notebook only says what monitoring *would* decide (it never
starts a build) and writes its own history file in the drift history's shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from nbprod.plots.figure import new_figure

from nbprod.monitoring import check, history, trigger, windows as windows_module
from nbprod.tracking.tags import MONITOR_DECISION, MONITOR_NO_DATA, MONITOR_REASON


@dataclass
class PipelineCheck:
    """The whole new split against the reference, window by window, and the decision."""

    overall: Any                       # DatasetDrift of the whole current data (None when empty)
    windows: list[dict[str, Any]]
    decision: trigger.Decision
    reference_rows: int
    current_rows: int
    columns: list[str] = field(default_factory=list)

    @property
    def no_data(self) -> bool:
        return self.current_rows == 0


def settings_for(*, target: str, task: str, time_column: str | None, drift_share: float,
                 ignore_columns: Sequence[str], performance_metric: str, metric: str) -> dict[str, Any]:
    """The part of the settings the check functions read."""
    return {"data": {"target": target, "task": task, "time_column": time_column},
            "monitor": {"drift_share": float(drift_share), "ignore_columns": list(ignore_columns or []),
                        "performance_metric": performance_metric},
            "evaluate": {"metric": metric}}


def run_check(reference: pd.DataFrame, current: pd.DataFrame, *, target: str, task: str, time_column: str | None,
              window: str, origin: Any, drift_share: float, ignore_columns: Sequence[str], min_rows: int,
              trigger_k: int, trigger_n: int, performance_floor: float | None, performance_drop: float | None,
              performance_metric: str, metric: str, scorer: Callable[[pd.DataFrame], Any] | None = None,
              reference_value: float | None = None, model_version: str | None = None) -> PipelineCheck:
    """Drift of ``current`` against ``reference``: overall and per window; the k-of-n decision.

    A multiclass ``scorer`` (see :class:`nbprod.monitoring.monitor.ModelScorer`) also gives each
    window the drift of its predicted class distribution against the reference's.
    """
    settings = settings_for(target=target, task=task, time_column=time_column, drift_share=drift_share,
                            ignore_columns=ignore_columns, performance_metric=performance_metric, metric=metric)
    columns = check.monitored_columns(reference.columns, settings)
    ref = check.Reference(reference[columns], path=None, columns=columns)  # type: ignore[arg-type]
    rules = trigger.Rules(int(trigger_k), int(trigger_n), int(min_rows), performance_floor, performance_drop)
    if current.empty:
        return PipelineCheck(None, [], trigger.Decision(False, "no data: the new split is empty (a random split "
                                                               "holds no new data back)", None),
                             len(reference), 0, columns)
    detector = check.detector_for(ref, drift_share)
    overall = detector.compare(current[[c for c in current.columns if c in columns]])
    if time_column and time_column in current.columns:
        slices, _ = windows_module.slice_windows(current, time_column, window, origin)
    else:
        start = windows_module.origin_stamp(origin, None)
        slices = [windows_module.Window(start, start, current)]
    labels = getattr(scorer, "labels", None)
    predicted = check.window_predictions(reference, scorer) if labels is not None and not labels.binary else None
    _, entries = check.check_windows(slices, ref, settings, scorer=scorer, reference_value=reference_value,
                                     model_version=model_version, detector=detector, predicted_reference=predicted)
    decision = trigger.decide([trigger.Vote.from_window(w) for w in entries], rules)
    return PipelineCheck(overall, entries, decision, len(reference), len(current), columns)


def rows_between(frame: pd.DataFrame, time_column: str | None, start: Any = None, end: Any = None) -> pd.DataFrame:
    """The rows of ``frame`` with ``start <= time < end`` (either bound None: open); all rows without a time column."""
    if (start is None and end is None) or not time_column:
        return frame
    if time_column not in frame.columns:
        raise check.MonitorError(f"cannot select a window: the rows have no {time_column!r} column (data.time_column)")
    from nbprod.data.times import TimeColumnError, cut_stamp, read_times

    try:
        times = read_times(frame[time_column], time_column)
        low = None if start is None else cut_stamp(start, times.period, "the period's start")
        high = None if end is None else cut_stamp(end, times.period, "the period's end")
    except TimeColumnError as error:
        raise check.MonitorError(str(error)) from None
    keep = times.stamps.notna()
    if low is not None:
        keep &= times.stamps >= low
    if high is not None:
        keep &= times.stamps < high
    return frame[keep.to_numpy()]


def window_label(name: str, start: Any, end: Any) -> str:
    """``"train"`` or ``"train from 2013-05-01 to 2013-08-01"``: what a notebook compared."""
    if start is None and end is None:
        return name
    return f"{name}" + (f" from {start}" if start is not None else "") + (f" until {end}" if end is not None else "")


def champion_scoring(promotion: Mapping[str, Any], model_name: str, task: str, metric: str
                     ) -> tuple[Callable[[pd.DataFrame], Any] | None, float | None, str | None]:
    """A scorer with the champion the promote task left, its recorded ``metric``, and its version (Nones: none)."""
    champion = promotion.get("champion_after")
    if champion is None:
        return None, None, None
    from nbprod.monitoring.monitor import registered_scorer

    score = registered_scorer(model_name, str(champion), task)
    same = str((promotion.get("candidate") or {}).get("version")) == str(champion)
    recorded = promotion["candidate"]["metrics"] if same else (promotion.get("reference") or {}).get("metrics", {})
    return score, recorded.get(metric), str(champion)


def track_check(result: PipelineCheck, params: Mapping[str, Any]) -> None:
    """The ``monitor`` task's MLflow run: params, drift share and quality per window, the decision."""
    import mlflow

    from nbprod import tracking

    decision = result.decision
    with tracking.task_run("monitor", **{MONITOR_DECISION: decision.kind,
                                         MONITOR_REASON: decision.reason[:5000],
                                         MONITOR_NO_DATA: str(result.no_data).lower()}):
        mlflow.log_params({f"monitor.{key}": str(value)[:6000] for key, value in params.items()})
        for step, entry in enumerate(result.windows):
            if entry["drift"].get("share") is not None:
                mlflow.log_metric("drift_share", entry["drift"]["share"], step=step)
            value = (entry.get("performance") or {}).get("value")
            if value is not None:
                mlflow.log_metric(f"window_{entry['performance']['metric']}", value, step=step)
        mlflow.log_metrics({"windows": len(result.windows), "drifted_windows": len(decision.drifted),
                            "voting_windows": len(decision.voting), "would_retrain": float(decision.retrain),
                            "no_data": float(result.no_data), "rows.new": result.current_rows})
        if result.overall is not None:
            mlflow.log_metric("overall_drift_share", result.overall.share)
            mlflow.log_dict(result.overall.to_dict(), "drift_overall.json")


def windows_table(entries: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per window: dates, rows, drifted columns, share, decision, quality."""
    rows = []
    for w in entries:
        drift = w["drift"]
        performance = w.get("performance") or {}
        share = drift.get("share")
        rows.append({"start": pd.Timestamp(w["start"]).date(), "end": pd.Timestamp(w["end"]).date(),
                     "rows": w["rows"], "drifted columns": f"{drift['n_drifted']} of {drift['n_columns']}",
                     "share": None if share is None else round(float(share), 3), "drifted": drift.get("drifted"),
                     **({performance["metric"]: None if performance.get("value") is None
                         else round(float(performance["value"]), 3)} if performance else {})})
    return pd.DataFrame(rows)


def column_table(overall: Any) -> pd.DataFrame:
    """The per-column drift table, drifted columns first, rounded for reading."""
    frame = overall.to_frame()
    frame = frame[frame["status"] != "not_in_reference"]
    shown = frame[["column", "kind", "method", "statistic", "threshold", "p_value", "drifted", "psi",
                   "missing_rate_reference", "missing_rate_current", "missing_drifted", "unseen_share",
                   "unseen_drifted"]].copy()
    shown = shown.sort_values(["drifted", "statistic"], ascending=[False, False], na_position="last")
    return shown.set_index("column").round(4)


def overlays(reference: pd.DataFrame, current: pd.DataFrame, columns: Sequence[str], bins: int = 30,
             top: int = 12) -> Figure:
    """Reference vs current distributions: density histograms (numeric), shares of the top categories."""
    columns = list(columns)
    ncols = 3
    nrows = max(1, -(-len(columns) // ncols))
    figure = new_figure(12, 2.8 * nrows)
    axes = np.atleast_1d(figure.subplots(nrows, ncols)).ravel()
    for axis, column in zip(axes, columns):
        ref, cur = reference[column], current[column]
        if pd.api.types.is_numeric_dtype(ref) and not pd.api.types.is_bool_dtype(ref):
            both = pd.concat([ref, cur]).replace([np.inf, -np.inf], np.nan).dropna()
            if both.empty:
                axis.set_visible(False)
                continue
            edges = np.histogram_bin_edges(both, bins=bins)
            axis.hist(ref.dropna(), bins=edges, density=True, alpha=0.5, label="reference (train)", color="#4C72B0")
            axis.hist(cur.dropna(), bins=edges, density=True, alpha=0.5, label="current (new)", color="#DD8452")
        else:
            shares = pd.DataFrame({"reference (train)": ref.astype(str).value_counts(normalize=True),
                                   "current (new)": cur.astype(str).value_counts(normalize=True)}).fillna(0)
            shares = shares.loc[shares.max(axis=1).sort_values(ascending=False).index[:top]]
            positions = np.arange(len(shares))
            axis.bar(positions - 0.2, shares.iloc[:, 0], width=0.4, color="#4C72B0", label=shares.columns[0])
            axis.bar(positions + 0.2, shares.iloc[:, 1], width=0.4, color="#DD8452", label=shares.columns[1])
            axis.set_xticks(positions, shares.index, rotation=60, fontsize=7)
        axis.set_title(column, fontsize=9)
    if columns:
        axes[0].legend(fontsize=7)
    for axis in axes[len(columns):]:
        axis.set_visible(False)
    return figure


def share_figure(entries: Sequence[Mapping[str, Any]], drift_share: float, min_rows: int) -> Figure:
    """Share of drifted columns per window, the alarm level, small windows greyed; quality when known."""
    figure = new_figure(9, 3.8)
    axis = figure.subplots()
    starts = [pd.Timestamp(w["start"]) for w in entries]
    shares = [np.nan if w["drift"].get("share") is None else float(w["drift"]["share"]) for w in entries]
    colors = ["#BBBBBB" if w["rows"] < min_rows else ("#C44E52" if w["drift"].get("drifted") else "#4C72B0")
              for w in entries]
    axis.plot(starts, shares, color="#4C72B0", linewidth=1)
    axis.scatter(starts, shares, c=colors, zorder=3)
    axis.axhline(drift_share, color="#C44E52", linestyle="--", linewidth=1, label=f"alarm level {drift_share:g}")
    axis.set_ylim(0, 1)
    axis.set_ylabel("share of drifted columns")
    axis.set_title("Drift window by window (red: drifted; grey: too few rows to vote)")
    values = [(pd.Timestamp(w["start"]), (w.get("performance") or {}).get("value")) for w in entries]
    values = [(s, v) for s, v in values if v is not None and math.isfinite(float(v))]
    if values:
        metric = next(w["performance"]["metric"] for w in entries if w.get("performance"))
        right = axis.twinx()
        right.plot([s for s, _ in values], [v for _, v in values], color="#55A868", marker="s", linewidth=1,
                   label=metric)
        right.set_ylabel(metric, color="#55A868")
    axis.legend(loc="upper left", fontsize=8)
    return figure


def history_record(result: PipelineCheck, reference_path: str, time: str | None = None) -> dict[str, Any]:
    """The notebook's findings in the drift history's shape (one ``no_action`` event: it never retrains)."""
    decision = result.decision
    reason = decision.reason if not decision.retrain else f"would retrain: {decision.reason}"
    return {"reference": {"path": str(reference_path), "rows": int(result.reference_rows)},
            "windows": list(result.windows),
            "events": [history.event("no_action", reason + " (pipeline check: record only)", decision.window,
                                     time=time)]}
