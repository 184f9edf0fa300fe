"""The drift check per window: the reference, the detector fitted once, one history entry per window.

The reference is the train split of the current build (prepare's ``train`` product in
``pipeline.yaml``, as the project catalog resolves it).
The monitored columns are the reference's, less the target, the data's time column and
``monitor.ignore_columns``; a monitored column missing from the rows counts as drifted
(the drift library's ``missing_column`` status). Performance is computed on a window's
labelled rows only (a target column), from the logged probabilities/predictions or
from scores given by the caller; the reference value is the evaluated best candidate's
test metric (evaluate's ``evaluation`` product).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from nbprod.drift.performance import DEFAULT_PROBABILITY_CUT
from nbprod.project import Project

#: Metrics the drift library computes on a window, by task.
WINDOW_METRICS = {"classification": ("roc_auc", "accuracy", "f1"), "regression": ("mae", "rmse", "r2")}
#: Prediction-log columns that are not model inputs.
LOG_COLUMNS = ("time", "request_id", "client_request_id", "row", "model_name", "model_version", "prediction", "probability",
               "classes", "positive_class", "probabilities")


class MonitorError(RuntimeError):
    """Monitoring cannot run (no build yet, unreadable input): the message says what to do."""


@dataclass
class Reference:
    """The reference rows (features only) and where they came from."""

    frame: pd.DataFrame
    path: Path
    columns: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "rows": int(len(self.frame))}


def monitored_columns(columns: Sequence[str], settings: Mapping[str, Any]) -> list[str]:
    """The reference's columns less the target, the time column and ``monitor.ignore_columns``."""
    left_out = {settings["data"]["target"], settings["data"]["time_column"], *settings["monitor"]["ignore_columns"],
                *LOG_COLUMNS}
    return [c for c in columns if c not in left_out]


def load_reference(project: Project, path: Path | None = None) -> Reference:
    """The train split of :class:`nbprod.project.Project` ``project``'s build (or ``path``) as the reference."""
    return read_reference(Path(path) if path else project.split("train"), project.settings)


def read_reference(path: Path, settings: Mapping[str, Any]) -> Reference:
    """The reference at ``path``: its monitored columns under ``settings``."""
    if not path.is_file():
        raise MonitorError(f"no reference data: {path} does not exist (build the pipeline first: nbprod build)")
    frame = pd.read_parquet(path)
    columns = monitored_columns(frame.columns, settings)
    return Reference(frame[columns], path, columns)


def detector_for(reference: Reference, drift_share: float) -> Any:
    """A :class:`~nbprod.drift.DriftDetector` fitted on the reference (once; compared with every window)."""
    from nbprod.drift import DriftDetector

    return DriftDetector(columns=reference.columns, drift_share=float(drift_share)).fit(reference.frame)


def window_metric_name(settings: Mapping[str, Any]) -> str:
    """``monitor.performance_metric`` (``auto``: the evaluate metric when a window can compute it)."""
    from nbprod.model.metrics import selection_metric

    from nbprod.model.labels import is_classification

    task = settings["data"]["task"]
    kind = "classification" if is_classification(task) else "regression"
    name = settings["monitor"]["performance_metric"]
    if name == "auto":
        name = selection_metric(settings["evaluate"]["metric"], task)
    if name not in WINDOW_METRICS[kind]:
        return WINDOW_METRICS[kind][0] if kind == "classification" else "rmse"
    return name


def reference_metric(project: Project, metric: str) -> float | None:
    """The best candidate's test ``metric`` from the build's ``evaluation.json`` (None when unknown)."""
    try:
        evaluation = json.loads(project.evaluation.read_text())
        value = evaluation["candidates"][evaluation["best"]]["metrics"][metric]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return float(value) if value is not None and math.isfinite(float(value)) else None


def logged_classes(frame: pd.DataFrame) -> Any:
    """The model's classes and positive class as the prediction log recorded them for most of the
    rows (:class:`~nbprod.model.labels.ClassLabels`); None when the rows do not say."""
    from nbprod.model.labels import ClassLabels, decode_tag

    if "classes" not in frame.columns or not frame["classes"].notna().any():
        return None
    text = frame["classes"].dropna().value_counts().index[0]
    positive = None
    if "positive_class" in frame.columns:
        named = frame.loc[frame["classes"] == text, "positive_class"].dropna()
        positive = named.value_counts().index[0] if len(named) else None
    return ClassLabels.of(decode_tag(text), positive)


def guessed_classes(frame: pd.DataFrame, target: str) -> Any:
    """Classes when nothing recorded them: 0/1 (the positive class 1) for 0/1 labels, else the sorted
    labels seen in the target and the predictions."""
    from nbprod.model.labels import ClassLabels, labels_text

    seen = set(labels_text(frame[target].dropna()))
    if "prediction" in frame.columns:
        seen |= set(labels_text(frame["prediction"].dropna()))
    if seen <= {"0", "1"} or len(seen) < 2:
        return ClassLabels.of([0, 1])
    return ClassLabels.of(sorted(seen))


def logged_scores(frame: pd.DataFrame, metric: str, classes: Any) -> np.ndarray | None:
    """A classifier's logged output for ``metric``: ROC AUC, the positive class's ``probability``
    (binary) or the per-class ``probabilities`` (multiclass; or ``nbprod score``'s
    ``probability_<label>`` columns); accuracy and F1, the logged ``prediction``."""
    if metric == "roc_auc" and classes.binary and "probability" in frame.columns:
        return frame["probability"].to_numpy(dtype=float)
    if metric == "roc_auc" and not classes.binary:
        per_class = [f"probability_{text}" for text in classes.texts]
        if "probabilities" in frame.columns:
            width = len(classes.classes)
            return np.stack([np.asarray(row, dtype=float) if row is not None and np.size(row) == width
                             else np.full(width, np.nan) for row in frame["probabilities"]])
        if all(name in frame.columns for name in per_class):
            return frame[per_class].to_numpy(dtype=float)
        return None
    if "prediction" in frame.columns:
        return frame["prediction"].to_numpy()
    if classes.binary and "probability" in frame.columns:
        return frame["probability"].to_numpy(dtype=float)
    return None


def window_performance(frame: pd.DataFrame, target: str, task: str, metric: str, reference: float | None,
                       scores: np.ndarray | None = None, classes: Any = None,
                       threshold: float | None = None) -> dict[str, Any] | None:
    """``{"metric", "value", "reference"}`` on the labelled rows, or None without labels/scores.

    Classification labels are raw (text, booleans, numbers); ``classes`` (the model's
    :class:`~nbprod.model.labels.ClassLabels`, e.g. the scorer's) says which is positive,
    else the log's ``classes``/``positive_class`` columns, else :func:`guessed_classes`.
    ``threshold``: where binary ``scores`` are cut for accuracy and F1 (the model's; None:
    the drift library's default cut); logged predictions are used as they were served.
    """
    from nbprod.drift import window_metric
    from nbprod.model.labels import is_classification

    if target not in frame.columns:
        return None
    labelled = frame[target].notna().to_numpy()
    if not labelled.any():
        return None
    if is_classification(task):
        classes = classes or logged_classes(frame) or guessed_classes(frame, target)
        scores = logged_scores(frame, metric, classes) if scores is None else np.asarray(scores)
        if scores is None:
            return None
        cut = DEFAULT_PROBABILITY_CUT if threshold is None else threshold
        value = window_metric(metric, frame[target].to_numpy()[labelled], scores[labelled], cut, classes)
        return {"metric": metric, "value": None if not math.isfinite(value) else value, "reference": reference}
    if scores is None:
        column = "probability" if task == "classification" and metric == "roc_auc" else "prediction"
        if column not in frame.columns and "probability" in frame.columns:
            column = "probability"
        if column not in frame.columns:
            return None
        scores = frame[column].to_numpy(dtype=float)
    scores = np.asarray(scores, dtype=float)[labelled]
    y = frame[target].to_numpy()[labelled]
    known = np.isfinite(scores)
    if not known.any():
        return None
    value = window_metric(metric, y[known].astype(float), scores[known])
    return {"metric": metric, "value": None if not math.isfinite(value) else value,
            "reference": reference}


def class_shares(labels: Any) -> dict[str, float]:
    """The share of each predicted class (by its text), largest first; missing predictions left out."""
    from nbprod.model.labels import labels_text

    texts = pd.Series(labels_text(labels)).dropna()
    return {str(k): float(v) for k, v in texts.value_counts(normalize=True).items()}


def window_predictions(frame: pd.DataFrame, scorer: Callable[[pd.DataFrame], Any] | None = None) -> Any:
    """A window's predicted classes: the logged ``prediction``, else the scorer's (the most probable
    class of its probability matrix); None when neither is there."""
    if "prediction" in frame.columns and frame["prediction"].notna().any():
        return frame["prediction"].to_numpy()
    labels = getattr(scorer, "labels", None)
    if scorer is None or labels is None or labels.binary:
        return None
    scores = scorer(frame)
    return None if scores is None else labels.array()[np.argmax(np.asarray(scores), axis=1)]


def prediction_distribution_drift(reference_predictions: Any, predictions: Any) -> dict[str, Any] | None:
    """Drift of the predicted class distribution: the window's class shares against the reference's,
    by the drift library's Jensen–Shannon distance (its threshold and window-size rules).

    Returns the :class:`~nbprod.drift.ColumnDrift` of the column ``prediction`` as a dict with
    ``reference_shares`` and ``shares`` (class text -> share); None without predictions.
    """
    from nbprod.drift import prediction_drift
    from nbprod.model.labels import labels_text

    if reference_predictions is None or predictions is None or not len(predictions):
        return None
    result = prediction_drift(pd.Series(labels_text(reference_predictions), dtype=object),
                              pd.Series(labels_text(predictions), dtype=object),
                              kind="categorical", method="jensenshannon")
    return {**result.to_dict(), "reference_shares": class_shares(reference_predictions),
            "shares": class_shares(predictions)}


def reference_predictions(reference_path: Path, scorer: Callable[[pd.DataFrame], Any]) -> Any:
    """The classes a multiclass scorer (a :class:`~nbprod.monitoring.monitor.ModelScorer`) predicts on
    the reference rows (the train split); None for other models or when the rows lack its inputs."""
    labels = getattr(scorer, "labels", None)
    if labels is None or labels.binary:
        return None
    return window_predictions(pd.read_parquet(reference_path), scorer)


def model_version_of(frame: pd.DataFrame, default: str | None = None) -> str | None:
    """The model version that served most of the window's rows (prediction log), else ``default``."""
    if "model_version" in frame.columns:
        versions = frame["model_version"].dropna().astype(str)
        if len(versions):
            return str(versions.value_counts().index[0])
    return default


def window_entry(window: Any, detector: Any, *, model_version: str | None = None,
                 performance: Mapping[str, Any] | None = None,
                 prediction: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One history entry: the window's bounds, rows, model version, drift and performance, and (a
    multiclass model) ``prediction_drift``: see :func:`prediction_distribution_drift`."""
    from nbprod.monitoring.windows import iso

    features = window.frame[[c for c in window.frame.columns if c in detector.columns_]]
    # the monitored columns the rows lack are reported by the detector as missing (they count as drifted)
    drift = detector.compare(features)
    return {"start": iso(window.start), "end": iso(window.end), "rows": window.rows,
            "model_version": model_version_of(window.frame, model_version),
            "drift": drift.to_dict(), "performance": None if performance is None else dict(performance),
            **({"prediction_drift": dict(prediction)} if prediction is not None else {})}


def check_windows(windows: Iterable[Any], reference: Reference, settings: Mapping[str, Any], *,
                  recorded: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
                  scorer: Callable[[pd.DataFrame], np.ndarray | None] | None = None,
                  reference_value: float | None = None, model_version: str | None = None,
                  detector: Any = None, predicted_reference: Any = None
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """History entries for ``windows`` (a sequence, or an iterator reading each when its turn comes): ``(changed,
    all)``.

    A window already ``recorded`` with the same rows, the same ``drift_share`` and (when
    the rows now have labels) a performance is kept as it was: a re-run does not
    rewrite history, even after a retraining changed the reference. A new window, one
    that gained rows or labels, or one recorded under another ``drift_share``, is
    checked (and replaces the recorded entry). The detector is fitted at most once.
    ``predicted_reference``: the classes the (multiclass) model predicts on the reference
    rows; each checked window then also reports the drift of its predicted class
    distribution (``prediction_drift``).
    """
    recorded = recorded or {}
    changed, entries = [], []
    for window in windows:
        known = recorded.get(window.key)
        if known is not None and _still_valid(known, window, settings):
            entries.append(dict(known))
        else:
            if detector is None:
                detector = detector_for(reference, settings["monitor"]["drift_share"])
            entry = _checked_entry(window, detector, settings, scorer=scorer, reference_value=reference_value,
                                   model_version=model_version, predicted_reference=predicted_reference)
            changed.append(entry)
            entries.append(entry)
        del window  # windows read one at a time (an iterator): this one's rows go before the next is read
    return changed, entries


def _checked_entry(window: Any, detector: Any, settings: Mapping[str, Any], *, scorer: Any, reference_value: Any,
                   model_version: str | None, predicted_reference: Any) -> dict[str, Any]:
    """The history entry of ``window`` checked now (see :func:`check_windows`)."""
    target, task = settings["data"]["target"], settings["data"]["task"]
    metric = window_metric_name(settings)
    scores = scorer(window.frame) if scorer is not None and target in window.frame.columns else None
    performance = window_performance(window.frame, target, task, metric, reference_value, scores,
                                     getattr(scorer, "labels", None) if scores is not None else None,
                                     getattr(scorer, "threshold", None) if scores is not None else None)
    prediction = (prediction_distribution_drift(predicted_reference, window_predictions(window.frame, scorer))
                  if predicted_reference is not None else None)
    return window_entry(window, detector, model_version=model_version, performance=performance,
                        prediction=prediction)


def _still_valid(known: Mapping[str, Any], window: Any, settings: Mapping[str, Any]) -> bool:
    """Whether a recorded window entry still describes ``window`` under ``settings``."""
    if int(known.get("rows") or 0) != window.rows:
        return False
    share = (known.get("drift") or {}).get("drift_share")
    if share is None or not math.isclose(float(share), float(settings["monitor"]["drift_share"])):
        return False
    target = settings["data"]["target"]
    labelled = target in window.frame.columns and bool(window.frame[target].notna().any())
    return not labelled or known.get("performance") is not None
