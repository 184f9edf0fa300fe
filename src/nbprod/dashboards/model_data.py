"""The model report's data: builds, candidates, registered versions and the gate's decisions.

Everything is read from MLflow (the build's run tree and the Model Registry)
and scored once on the test split of the current build, so the champion and
the challengers are compared on the same rows. Pure helpers (labels, tables,
headline text) take plain values and are unit-tested without MLflow.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from nbprod.dashboards.context import Context
from nbprod.model import DEFAULT_THRESHOLD
from nbprod.tracking.tags import (
    BEST, BUILD, CANDIDATE, GATE_DECISION, GATE_REASONS, MANUAL_AT, MANUAL_REASON, MANUAL_USER, METRIC, PARENT,
    RUN_ID, TASK, THRESHOLD, equals, metric as tag_metric,
)

#: The gate's tags on a version (names from :mod:`nbprod.tracking.tags`).
TAG_DECISION = GATE_DECISION
TAG_REASONS = GATE_REASONS

#: Metrics shown side by side, in this order, per kind of target (``classification``: binary).
SHOWN_METRICS = {
    "classification": ("roc_auc", "pr_auc", "f1", "accuracy", "brier", "log_loss"),
    "binary": ("roc_auc", "pr_auc", "f1", "accuracy", "brier", "log_loss"),
    "multiclass": ("roc_auc", "roc_auc_weighted", "accuracy", "balanced_accuracy", "f1_macro", "f1_weighted",
                   "brier", "log_loss"),
    "regression": ("mae", "rmse", "r2"),
}
#: What each metric means, in plain words (the tables' column headers).
METRIC_LABELS = {
    "roc_auc": "ROC AUC", "pr_auc": "PR AUC", "f1": "F1", "accuracy": "accuracy", "brier": "Brier score",
    "log_loss": "log loss", "mae": "MAE", "rmse": "RMSE", "r2": "R²",
    "roc_auc_weighted": "ROC AUC (weighted)", "balanced_accuracy": "balanced accuracy", "f1_macro": "F1 (macro)",
    "f1_weighted": "F1 (weighted)",
}
BASELINE_LABEL = "naive baseline"


# -- plain helpers (no MLflow) ------------------------------------------------------------------


def split_name(name: str) -> tuple[str, dict[str, str]]:
    """``"hgb-learning_rate=0.1-max_leaf_nodes=31"`` -> ``("hgb", {"learning_rate": "0.1", ...})``."""
    head, *rest = name.split("-")
    params: dict[str, str] = {}
    for part in rest:
        key, sep, value = part.partition("=")
        if not sep:  # a dash inside the name, not a parameter
            return name, {}
        params[key] = value
    return head, params


def friendly_names(names: Iterable[str]) -> dict[str, str]:
    """Short labels: the candidate's name and only the parameters that differ within its kind.

    ``hgb-learning_rate=0.1-max_iter=200-max_leaf_nodes=31`` and ``...=63`` become
    ``hgb (max_leaf_nodes=31)`` and ``hgb (max_leaf_nodes=63)``.
    """
    names = list(dict.fromkeys(names))
    parsed = {name: split_name(name) for name in names}
    by_head: dict[str, list[dict[str, str]]] = {}
    for head, params in parsed.values():
        by_head.setdefault(head, []).append(params)
    labels = {}
    for name, (head, params) in parsed.items():
        group = by_head[head]
        varying = [key for key in params if len({str(p.get(key)) for p in group}) > 1]
        labels[name] = f"{head} ({', '.join(f'{k}={params[k]}' for k in varying)})" if varying else head
    if len(set(labels.values())) < len(labels):  # still ambiguous: keep the full names
        return {name: name for name in names}
    return labels


def metrics_table(results: Mapping[str, Mapping[str, float]], task: str) -> pd.DataFrame:
    """Models as rows, the shown metrics of ``task`` (or the kind: ``binary``, ``multiclass``) as columns
    (plain labels), in ``results`` order."""
    shown = SHOWN_METRICS[task]
    rows = {label: {METRIC_LABELS[m]: values.get(m, np.nan) for m in shown} for label, values in results.items()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")


def parse_reasons(text: str | None) -> list[dict[str, Any]]:
    """The gate's reasons from the ``nbprod.gate.reasons`` tag (``[]`` when absent or unreadable)."""
    if not text:
        return []
    try:
        reasons = json.loads(text)
    except ValueError:
        return [{"check": "gate", "passed": False, "detail": text}]
    return [r for r in reasons if isinstance(r, Mapping)] if isinstance(reasons, list) else []


#: Each gate check's failure, in plain words.
FAILED_CHECK_WORDS = {
    "metric": "it was not better than the model serving",
    "size": "it was too large",
    "memory": "it needed too much memory",
    "latency": "it answered too slowly",
    "schema": "it needed input columns the service does not accept",
}


def plain_rejection(reasons: Sequence[Mapping[str, Any]]) -> str:
    """Why a version was rejected, in plain words (``"it was too large and it answered too slowly"``)."""
    failed = [FAILED_CHECK_WORDS.get(str(r.get("check")), f"its {r.get('check')} check failed")
              for r in reasons if not r.get("passed")]
    if not failed:
        return ""
    return failed[0] if len(failed) == 1 else ", ".join(failed[:-1]) + " and " + failed[-1]


def reason_summary(decision: str | None, reasons: Sequence[Mapping[str, Any]]) -> str:
    """One line in plain words: why the gate promoted or rejected a version."""
    if not decision:
        return "not judged by the gate"
    if decision == "promoted":
        return f"passed all {len(reasons)} checks" if reasons else "passed the gate"
    failed = [r for r in reasons if not r.get("passed")]
    if not failed:
        return "rejected"
    return "; ".join(f"{r.get('check')}: {r.get('detail')}" for r in failed)


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def versions_table(versions: Sequence[Any], metric: str | None, alias: str | None = None) -> pd.DataFrame:
    """One row per registered version (objects like :class:`nbprod.registry.client.VersionInfo`).

    Columns: ``version`` (int), ``created`` (UTC datetime), ``candidate``, ``decision``
    (promoted / rejected / empty), ``why``, ``serving`` (holds ``alias``; any alias when None), ``aliases``,
    ``metric`` and ``metric_value`` (the gate metric the evaluate task recorded),
    ``manual`` (who moved an alias here by hand, and why), ``run_id``, ``threshold``, ``reasons`` (the gate's checks, a list of dicts),
    ``plain`` (why it was rejected, in plain words), ``tags`` (all the version's tags).
    """
    rows = []
    for info in versions:
        tags = dict(info.tags or {})
        name = metric or tags.get(METRIC)
        reasons = parse_reasons(tags.get(TAG_REASONS))
        decision = tags.get(TAG_DECISION, "")
        manual = ""
        if tags.get(MANUAL_USER):
            manual = (f"moved here by {tags[MANUAL_USER]} at {tags.get(MANUAL_AT, '?')}: "
                      f"{tags.get(MANUAL_REASON, '')}")
        created = (dt.datetime.fromtimestamp(info.created_ms / 1000, dt.timezone.utc)
                   if info.created_ms else pd.NaT)
        rows.append({
            "version": int(info.version), "created": created, "candidate": tags.get(CANDIDATE, ""),
            "decision": decision, "why": reason_summary(decision, reasons),
            "serving": alias in info.aliases if alias else bool(info.aliases), "aliases": ", ".join(info.aliases),
            "metric": name or "", "metric_value": _float(tags.get(tag_metric(name))) if name else np.nan,
            "manual": manual, "run_id": info.run_id or tags.get(RUN_ID) or "",
            "threshold": _float(tags.get(THRESHOLD)), "reasons": reasons,
            "plain": plain_rejection(reasons) if decision == "rejected" else "", "tags": tags,
        })
    columns = ["version", "created", "candidate", "decision", "why", "serving", "aliases", "metric",
               "metric_value", "manual", "run_id", "threshold", "reasons", "plain", "tags"]
    return pd.DataFrame(rows, columns=columns).sort_values("version").reset_index(drop=True)


def reasons_table(reasons: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The gate's checks of one version: check, passed (yes/no), detail."""
    rows = [{"check": r.get("check", ""), "result": "passed" if r.get("passed") else "failed",
             "detail": r.get("detail", "")} for r in reasons]
    return pd.DataFrame(rows, columns=["check", "result", "detail"]).set_index("check")


def history_table(versions: pd.DataFrame) -> pd.DataFrame:
    """The version history as shown to a reader (newest first)."""
    shown = versions.sort_values("version", ascending=False)
    names = friendly_names(shown["candidate"].tolist())
    return pd.DataFrame({
        "version": [f"v{v}" for v in shown["version"]],
        "registered": [pd.Timestamp(c).strftime("%Y-%m-%d %H:%M") if not pd.isna(c) else "–"
                       for c in shown["created"]],
        "model": [names.get(name, name) for name in shown["candidate"]],
        "gate decision": shown["decision"].replace("", "not judged").to_numpy(),
        "why": shown["why"].to_numpy(),
        "serving now": ["yes" if s else "" for s in shown["serving"]],
        "moved by hand": shown["manual"].to_numpy(),
    }).set_index("version")


def latest_decision(versions: pd.DataFrame) -> dict[str, Any] | None:
    """The most recent version the gate judged, as a dict of its row; None when there is none."""
    judged = versions[versions["decision"].astype(bool)]
    return None if judged.empty else judged.iloc[-1].to_dict()


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def _date(value: Any) -> str:
    stamp = pd.Timestamp(value)
    return stamp.strftime("%-d %b %Y") if not pd.isna(stamp) else "?"


def outcome_words(target: str, positive_class: Any = None) -> str:
    """The positive outcome in words: ``late`` for a 0/1 (or true/false) target, else ``churn = Yes``."""
    from nbprod.model.labels import label_text

    if positive_class is None or label_text(positive_class) in ("1", "True"):
        return target
    return f"{target} = {positive_class}"


def plain_multiclass(target: str, metrics: Mapping[str, float], baseline: Mapping[str, float] | None) -> str:
    """What a multiclass champion's test metrics mean, in plain words."""
    parts = []
    accuracy = metrics.get("accuracy")
    if accuracy is not None and math.isfinite(accuracy):
        text = f"it names the right {target} for {_pct(accuracy)} of the rows"
        base = (baseline or {}).get("accuracy")
        if base is not None and math.isfinite(base):
            text += f" (always naming the most common one: {_pct(base)})"
        parts.append(text)
    auc = metrics.get("roc_auc")
    if auc is not None and math.isfinite(auc):
        parts.append(f"it tells each {target} from the others with a ROC AUC of {auc:.3f} (one-vs-rest, "
                     "averaged over the classes)")
    return "; ".join(parts)


def plain_performance(task: str, target: str, metrics: Mapping[str, float],
                      baseline: Mapping[str, float] | None, recall: float | None = None,
                      precision: float | None = None, positive_class: Any = None, multiclass: bool = False) -> str:
    """What the champion's test metrics mean, in one or two plain sentences.

    Binary: about the positive class (see :func:`outcome_words`); multiclass: accuracy
    and the one-vs-rest ROC AUC.
    """
    if task == "classification" and multiclass:
        return plain_multiclass(target, metrics, baseline)
    if task == "classification":
        target = outcome_words(target, positive_class)
        parts = []
        if recall is not None and precision is not None and math.isfinite(recall) and math.isfinite(precision):
            parts.append(f"it catches {_pct(recall)} of the cases that were {target}, and "
                         f"{_pct(precision)} of the cases it flags really were {target}")
        auc = metrics.get("roc_auc")
        if auc is not None and math.isfinite(auc):
            text = (f"it ranks a {target} case above a non-{target} one {_pct(auc)} of the time "
                    f"(ROC AUC {auc:.3f}")
            base = (baseline or {}).get("roc_auc")
            text += f"; a blind guess scores {base:.2f})" if base is not None and math.isfinite(base) else ")"
            parts.append(text)
        return "; ".join(parts)
    mae = metrics.get("mae")
    known = mae is not None and math.isfinite(mae)
    text = f"its predictions of {target} are off by {mae:.3g} on average (MAE)" if known else ""
    base = (baseline or {}).get("mae")
    if text and base is not None and math.isfinite(base):
        text += f", against {base:.3g} when always predicting the training average"
    return text


def headline(champion: Mapping[str, Any] | None, performance: str, holdout: Mapping[str, Any],
             last: Mapping[str, Any] | None, alias: str = "champion") -> str:
    """The model report's headline (plain text; the notebook styles it).

    ``champion``: ``{"version", "candidate"}`` or None; ``holdout``: ``{"rows", "period"}``;
    ``last``: the latest judged version (see :func:`latest_decision`).
    """
    if champion is None:
        first = f"No model is serving yet: no version holds the '{alias}' alias."
    else:
        first = f"Model v{champion['version']} ({champion['candidate']}) is serving."
        if performance:
            period = f" from {holdout['period']}" if holdout.get("period") else ""
            first += f" On {holdout['rows']:,} test rows{period}, {performance}."
    if last is None:
        return first + " The promotion gate has not judged any version yet."
    verdict = "promoted" if last["decision"] == "promoted" else "rejected"
    why = last.get("plain") or ""
    second = f" Latest gate decision: v{last['version']} {verdict} on {_date(last['created'])}"
    second += f", because {why}." if verdict == "rejected" and why else "."
    return first + second


def period_text(stamps: pd.Series) -> str:
    """``"1 Sep 2013 to 30 Sep 2013"`` for a series of timestamps ("" when empty or not dates)."""
    try:
        stamps = pd.to_datetime(stamps).dropna()
    except (TypeError, ValueError):
        return ""
    if stamps.empty:
        return ""
    return f"{_date(stamps.min())} to {_date(stamps.max())}"


def confusion_rates(y: np.ndarray, score: np.ndarray, threshold: float,
                    positive_class: Any = None) -> tuple[float, float]:
    """(recall, precision) of ``score >= threshold`` for the positive class (``y == positive_class``;
    None: ``y`` is 0/1); NaN when undefined."""
    from nbprod.model.classes import indicator

    y = np.asarray(y).astype(int) if positive_class is None else indicator(y, positive_class)
    flagged = np.asarray(score) >= threshold
    true_positive = float(np.sum(flagged & (y == 1)))
    recall = true_positive / y.sum() if y.sum() else float("nan")
    precision = true_positive / flagged.sum() if flagged.sum() else float("nan")
    return recall, precision


# -- MLflow --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Build:
    """One ``nbprod build`` (the parent run)."""

    run_id: str
    started: dt.datetime
    status: str
    best: str | None = None

    @property
    def label(self) -> str:
        state = "" if self.status == "FINISHED" else f" ({self.status.lower()})"
        return f"{self.started:%Y-%m-%d %H:%M} UTC{state}"


def _started(run: Any) -> dt.datetime:
    return dt.datetime.fromtimestamp((run.info.start_time or 0) / 1000, dt.timezone.utc)


def list_builds(client: Any, experiment_id: str, limit: int = 50) -> list[Build]:
    """The builds of the experiment that evaluated candidates, newest first, with the one each chose as best.

    A build that re-ran only later tasks (the dashboards, say) or failed before
    evaluating has no candidates to compare, so it is not listed.
    """
    runs = client.search_runs([experiment_id], equals(BUILD, "true"), max_results=limit,
                              order_by=["attributes.start_time DESC"])
    if not runs:
        return []
    wanted = {run.info.run_id for run in runs}
    evaluations = [run for run in client.search_runs([experiment_id], equals(TASK, "evaluate"),
                                                     max_results=5 * limit,
                                                     order_by=["attributes.start_time DESC"])
                   if run.data.tags.get(PARENT) in wanted]
    best = {run.data.tags[PARENT]: run.data.tags.get(BEST) for run in evaluations}
    return [Build(run.info.run_id, _started(run), run.info.status, best[run.info.run_id]) for run in runs
            if run.info.run_id in best]


def candidate_runs(client: Any, experiment_id: str, parent_id: str) -> list[Any]:
    """The candidate runs of a build (oldest first)."""
    runs = client.search_runs([experiment_id],
                              f"{equals(PARENT, parent_id)} and tags.`{CANDIDATE}` != ''",
                              order_by=["attributes.start_time ASC"])
    return [run for run in runs if run.data.tags.get(CANDIDATE)]


def evaluate_run(client: Any, experiment_id: str, parent_id: str) -> Any | None:
    """The evaluate run of a build, if any."""
    runs = client.search_runs([experiment_id],
                              f"{equals(PARENT, parent_id)} and {equals(TASK, 'evaluate')}",
                              order_by=["attributes.start_time DESC"], max_results=1)
    return runs[0] if runs else None


def champion_importance(client: Any, experiment_id: str | None,
                        champion: Mapping[str, Any] | None) -> pd.Series:
    """The serving model's permutation importance: the one its build's evaluate run logged for it.

    Empty when there is no champion, its run or build is not in the store, or its
    build's evaluate run measured another candidate (the champion was not that
    build's best).
    """
    if champion is None or not champion.get("run_id") or not experiment_id:
        return pd.Series(dtype=float)
    try:
        parent = client.get_run(champion["run_id"]).data.tags.get(PARENT)
    except Exception:  # noqa: BLE001 - a version whose run was deleted
        return pd.Series(dtype=float)
    evaluate = evaluate_run(client, experiment_id, parent) if parent else None
    if evaluate is None or evaluate.data.tags.get(BEST, champion.get("candidate")) != champion.get("candidate"):
        return pd.Series(dtype=float)
    return importance(evaluate.info.run_id, client)


def importance(run_id: str | None, client: Any) -> pd.Series:
    """The evaluate run's permutation importance (largest first; empty when not logged), read with ``client``."""
    if not run_id:
        return pd.Series(dtype=float)
    import tempfile

    try:
        with tempfile.TemporaryDirectory() as folder:
            values = json.loads(Path(client.download_artifacts(run_id, "permutation_importance.json", folder))
                                .read_text())
    except Exception:  # noqa: BLE001 - an evaluate run without the artifact
        return pd.Series(dtype=float)
    return pd.Series(values, dtype=float).sort_values(ascending=False)


# -- the report ----------------------------------------------------------------------------------


@dataclass
class ModelReport:
    """Everything the model report shows, read once when the dashboard opens."""

    context: Context
    experiment_id: str | None
    builds: list[Build]
    versions: pd.DataFrame
    champion: dict[str, Any] | None
    metric: str
    X: pd.DataFrame | None
    y: np.ndarray | None
    period: str
    baseline: dict[str, float] = field(default_factory=dict)
    importance: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))  # the champion's
    saved_scores: pd.DataFrame = field(default_factory=pd.DataFrame)  # candidate run id -> its holdout scores
    models: dict[str, Any] = field(default_factory=dict)  # model uri -> loaded model (cache)
    classes: list[Any] | None = None  # classification: the labels, in predict_proba order
    positive_class: Any = None  # binary: the class the scores and the threshold are about

    @property
    def task(self) -> str:
        return self.context.task

    @property
    def multiclass(self) -> bool:
        return self.classes is not None and len(self.classes) > 2

    @property
    def kind(self) -> str:
        """``binary``, ``multiclass`` or ``regression``."""
        from nbprod.model.metrics import target_kind

        return target_kind(self.task, self.multiclass)

    @property
    def has_holdout(self) -> bool:
        return self.X is not None and self.y is not None and len(self.y) > 0

    def load(self, uri: str) -> Any:
        """A model by URI, loaded once."""
        if uri not in self.models:
            self.models[uri] = load_model(uri, self.context.client if self.context is not None else None)
        return self.models[uri]


def load_model(uri: str, client: Callable[[], Any] | None = None) -> Any:
    """The model at ``uri``; a registered version (``models:/name/version``) or a candidate (``runs:/id/path``)
    from files checked against the digest recorded when it was logged (:mod:`nbprod.registry.digest`), read
    through ``client()`` (default: MLflow's client on its current store)."""
    import re

    import mlflow.sklearn

    from nbprod.registry.digest import load_run_model, load_verified

    registered = re.fullmatch(r"models:/(.+)/(\d+)", uri)
    candidate = re.fullmatch(r"runs:/([^/]+)/(.+)", uri)
    if registered or candidate:
        from mlflow import MlflowClient

        if registered:
            return load_verified((client or MlflowClient)(), registered.group(1), registered.group(2))
        return load_run_model((client or MlflowClient)(), candidate.group(1), candidate.group(2))
    return mlflow.sklearn.load_model(uri)


def _holdout(context: Context) -> tuple[pd.DataFrame | None, np.ndarray | None, str]:
    path = context.split_path("test")
    if not path.is_file():
        return None, None, ""
    frame = pd.read_parquet(path)
    y = frame[context.target].to_numpy()
    period = period_text(frame[context.time_column]) if context.time_column in frame else ""
    return frame.drop(columns=[context.target]), y, period


def _saved_baseline(context: Context) -> dict[str, float] | None:
    """The naive baseline's metrics the evaluate task saved for this build's test rows (None: not saved)."""
    try:
        saved = json.loads(context.evaluation_path.read_text())
        metrics = saved["baseline"]["metrics"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {str(k): _float(v) for k, v in metrics.items()} if isinstance(metrics, Mapping) else None


def _baseline(context: Context, y: np.ndarray | None, classes: Sequence[Any] | None = None,
              positive_class: Any = None) -> dict[str, float]:
    path = context.split_path("train")
    if y is None or not len(y):
        return {}
    saved = _saved_baseline(context)
    if saved is not None:
        return saved
    if not path.is_file():
        return {}
    from nbprod.model.evaluation import baseline_result

    y_train = pd.read_parquet(path, columns=[context.target])[context.target].to_numpy()
    try:
        return baseline_result(y_train, y, context.task, classes, positive_class)
    except ValueError:  # one class only in a tiny holdout
        return {}


def target_classes(context: Context, y: np.ndarray | None,
                   champion: Mapping[str, Any] | None) -> tuple[list[Any] | None, Any]:
    """The classes and the positive class (binary) of a classification target: as the build's
    evaluation recorded them, else the serving version's tags, else the holdout's own labels
    (the positive class then the greater label, 1 of 0/1). ``(None, None)`` for regression."""
    from nbprod.model.classes import default_positive, sorted_labels
    from nbprod.model.labels import decode_tag, is_classification
    from nbprod.tracking.tags import CLASSES as CLASSES_TAG, POSITIVE_CLASS as POSITIVE_CLASS_TAG

    if not is_classification(context.task):
        return None, None
    try:
        saved = json.loads(context.evaluation_path.read_text())
        classes, positive = saved.get("classes"), saved.get("positive_class")
    except (OSError, ValueError, AttributeError):
        classes = positive = None
    tags = (champion or {}).get("tags") or {}
    classes = classes or decode_tag(tags.get(CLASSES_TAG))
    if positive is None:
        positive = decode_tag(tags.get(POSITIVE_CLASS_TAG))
    if not classes and y is not None and len(y):
        classes = sorted_labels(pd.Series(y).dropna().unique())
    if not classes:
        return None, None
    if len(classes) > 2:
        return list(classes), None
    return list(classes), default_positive(classes) if positive is None else positive


def load_report(context: Context) -> ModelReport:
    """Read the builds, the registered versions and the holdout (no model is loaded yet)."""
    from nbprod.dashboards.context import connect
    from nbprod.model.metrics import selection_metric
    from nbprod.registry.client import Registry
    from nbprod.tracking import missing_store

    experiment_id = connect(context)
    if missing_store(context.tracking_uri) is None:
        client: Any = context.client()
        registry = Registry(context.model_name, context.tracking_uri)
        registered = registry.versions() if registry.exists() else []
    else:  # no store yet: nothing built, nothing registered (and nothing created by reading)
        client, registered = None, []
    builds = list_builds(client, experiment_id) if experiment_id else []
    versions = versions_table(registered, None, context.alias)
    serving = versions[versions["serving"]]
    champion = serving.iloc[-1].to_dict() if not serving.empty else None
    X, y, period = _holdout(context)
    classes, positive = target_classes(context, y, champion)
    metric = selection_metric(context.settings["evaluate"]["metric"], context.task,
                              classes is not None and len(classes) > 2)
    return ModelReport(context, experiment_id, builds, versions, champion, metric, X, y, period,
                       _baseline(context, y, classes, positive), champion_importance(client, experiment_id, champion),
                       _saved_scores(context, y), classes=classes, positive_class=positive)


def _saved_scores(context: Context, y: np.ndarray | None) -> pd.DataFrame:
    """The scores the evaluate task saved for this holdout (empty when absent or not of the holdout's length)."""
    path = context.holdout_scores_path
    if y is None or not path.is_file():
        return pd.DataFrame()
    saved = pd.read_parquet(path)
    return saved if len(saved) == len(y) else pd.DataFrame()


@dataclass
class Comparison:
    """The champion and one build's candidates, scored on the same holdout."""

    results: dict[str, dict[str, float]]  # label -> metrics
    scores: dict[str, np.ndarray]  # label -> scores on the holdout
    thresholds: dict[str, float]
    champion_label: str | None
    best_label: str | None
    notes: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # candidate name -> short label

    def table(self, task: str) -> pd.DataFrame:
        """The metrics table; ``task``: the report's task or kind (``binary``, ``multiclass``)."""
        return metrics_table(self.results, task)


def champion_label(champion: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """``"v3 linear (C=0.1), serving"``."""
    return f"v{champion['version']} {names.get(champion['candidate'], champion['candidate'])}, serving"


def compare(report: ModelReport, build: Build | None) -> Comparison:
    """Score the champion and ``build``'s candidates on the holdout (champion first, baseline last)."""
    from nbprod.model.metrics import task_metrics

    runs = candidate_runs(report.context.client(), report.experiment_id, build.run_id) if build and report.experiment_id else []
    champion = report.champion
    names = friendly_names([run.data.tags[CANDIDATE] for run in runs]
                           + ([champion["candidate"]] if champion else []))
    entries: list[tuple[str, str, str | None, float]] = []  # (label, model uri, candidate run id, threshold)
    champion_name = None
    if champion is not None:
        champion_name = champion_label(champion, names)
        threshold = _float(champion.get("threshold"))
        entries.append((champion_name, f"models:/{report.context.model_name}/{champion['version']}",
                        champion.get("run_id"), threshold if math.isfinite(threshold) else DEFAULT_THRESHOLD))
    for run in runs:
        if champion is not None and run.info.run_id == champion["run_id"]:
            continue  # the champion itself, already first
        threshold = _float(run.data.params.get("threshold", DEFAULT_THRESHOLD))
        entries.append((names[run.data.tags[CANDIDATE]], f"runs:/{run.info.run_id}/model", run.info.run_id,
                        threshold if math.isfinite(threshold) else DEFAULT_THRESHOLD))
    results: dict[str, dict[str, float]] = {}
    scores: dict[str, np.ndarray] = {}
    thresholds: dict[str, float] = {}
    notes: list[str] = []
    if report.has_holdout:
        for label, uri, run_id, threshold in entries:
            try:
                score = holdout_score(report, uri, run_id)
                results[label] = task_metrics(report.task, report.y, score, threshold, report.positive_class,
                                              report.classes)
            except Exception as error:  # noqa: BLE001 - one unreadable model must not hide the others
                notes.append(f"{label} could not be scored: {type(error).__name__}: {error}")
                continue
            scores[label], thresholds[label] = score, threshold
        if report.baseline:
            results[BASELINE_LABEL] = report.baseline
    else:
        notes.append("the test split was not found, so no model could be scored "
                     f"(expected {report.context.shown(report.context.split_path('test'))})")
    best_name = build.best if build else None
    best_label = names.get(best_name) if best_name else None
    return Comparison(results, scores, thresholds, champion_name, best_label, notes, names)


def holdout_score(report: ModelReport, uri: str, run_id: str | None) -> np.ndarray:
    """A model's holdout scores (binary: the positive class's probability; multiclass: the probability
    matrix in ``report.classes`` order): as the evaluate task saved them for its run, else by loading
    and scoring it."""
    from nbprod.model.evaluation import run_scores
    from nbprod.model.models import predict_scores

    if run_id is not None and not report.saved_scores.empty:
        try:
            return run_scores(report.saved_scores, run_id, report.classes)
        except KeyError:  # not saved for this run
            pass
    return predict_scores(report.load(uri), report.X, report.task, report.positive_class)


def predicted_classes(report: ModelReport, comparison: Comparison, label: str) -> np.ndarray:
    """A compared model's predicted labels on the holdout: binary, the positive class at its threshold;
    multiclass, the most probable class."""
    from nbprod.model.classes import predicted_labels

    return predicted_labels(comparison.scores[label], report.classes, report.positive_class,
                            comparison.thresholds[label])


def class_table(report: ModelReport, comparison: Comparison, label: str) -> pd.DataFrame:
    """Precision, recall, F1 and support of each class for one compared model (the per-class table)."""
    from nbprod.model.metrics import per_class_table

    return per_class_table(report.y, predicted_classes(report, comparison, label), report.classes)


def is_positive(report: ModelReport) -> np.ndarray:
    """1 where the holdout's label is the positive class (binary), for the ROC and precision-recall curves."""
    from nbprod.model.classes import indicator

    return indicator(report.y, report.positive_class)


def shown_models(comparison: Comparison) -> list[str]:
    """The models whose calls the report details: the serving one and the build's best (once each)."""
    shown = [comparison.champion_label, comparison.best_label]
    return list(dict.fromkeys(name for name in shown if name in comparison.scores))


def champion_summary(report: ModelReport, comparison: Comparison) -> str:
    """The headline of the model report, from the report and a comparison."""
    champion = report.champion
    performance = ""
    label = comparison.champion_label
    if champion is not None and label in comparison.results:
        metrics = comparison.results[label]
        recall = precision = None
        if report.kind == "binary":
            recall, precision = confusion_rates(report.y, comparison.scores[label], comparison.thresholds[label],
                                                report.positive_class)
        performance = plain_performance(report.task, report.context.target, metrics, report.baseline,
                                        recall, precision, report.positive_class, report.multiclass)
    names = comparison.names
    shown = None if champion is None else {**champion, "candidate": names.get(champion["candidate"],
                                                                              champion["candidate"])}
    holdout = {"rows": 0 if report.y is None else len(report.y), "period": report.period}
    return headline(shown, performance, holdout, latest_decision(report.versions), report.context.alias)
