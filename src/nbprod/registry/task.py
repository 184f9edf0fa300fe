"""The ``promote`` pipeline task: register the best candidate, run the gate, move the alias.

Wire it in ``pipeline.yaml`` after ``evaluate``::

    - source: nbprod.registry.task.promote
      name: promote
      product:
        json: "{{reports}}/promotion.json"
        html: "{{reports}}/promotion.html"
      params:
        model_name: "{{registry.model_name}}"
        alias: "{{registry.alias}}"
        margin: "{{registry.margin}}"
        max_size_mb: "{{registry.budget.max_size_mb}}"
        max_memory_mb: "{{registry.budget.max_memory_mb}}"
        max_p99_ms: "{{registry.budget.max_p99_ms}}"

A rejection is a normal outcome (the task succeeds, the champion is untouched);
the task fails only when the evidence cannot be produced (e.g. the candidate
does not load).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from nbprod import alerts
from nbprod.registry import gate
from nbprod.tracking.tags import (
    BUDGET_MEMORY_MB, BUDGET_P99_MS, BUDGET_SIZE_MB, CANDIDATE, DATA_DIGEST, GATE_AT, GATE_DECISION, GATE_MODEL_NAME,
    GATE_PREVIOUS_CHAMPION, GATE_REASONS, GATE_RUN_ID, GATE_VERSION, GIT_COMMIT, METRIC, MODEL_URI,
    PARENT, POSITIVE_CLASS, RUN_ID, TARGET, TASK, THRESHOLD, gate_check, metric as tag_metric,
)

#: The gate's tags on a version (names from :mod:`nbprod.tracking.tags`).
TAG_DECISION = GATE_DECISION
TAG_REASONS = GATE_REASONS


def _path(value: Any) -> Path:
    """A path from a Ploomber product (File), a str or a Path."""
    return Path(str(value))


def _holdout_path(evaluation: Mapping[str, Any], evaluation_path: Path) -> Path:
    path = Path(evaluation["holdout"])
    if path.is_absolute() or path.exists():
        return path
    return evaluation_path.parent / path


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _git_commit(run_id: str | None) -> str | None:
    """The ``nbprod.git_commit`` tag of the candidate's run, or of the build's parent run."""
    import mlflow

    from nbprod.tracking import PARENT_ENV

    for candidate in (run_id, os.environ.get(PARENT_ENV)):
        if not candidate:
            continue
        try:
            commit = mlflow.get_run(candidate).data.tags.get(GIT_COMMIT)
        except Exception:  # noqa: BLE001 - a missing run only means no commit to copy
            continue
        if commit:
            return commit
    return None


def _lineage() -> dict[str, str]:
    """The build's parent run (its params: the settings) and its raw data's digest, for the version's tags."""
    from nbprod.tracking import PARENT_ENV, build_data_digest, client_for

    parent = os.environ.get(PARENT_ENV)
    if not parent:
        return {}
    try:
        import mlflow

        digest = build_data_digest(client_for(mlflow.get_tracking_uri()), parent)
    except Exception:  # noqa: BLE001 - a missing digest only leaves the tag out
        digest = None
    return {PARENT: parent, **({DATA_DIGEST: digest} if digest else {})}


def _reasons_tag(reasons: Any) -> str:
    """The reasons as a JSON list that fits in a tag (long details shortened, JSON kept valid)."""
    from nbprod.registry.client import MAX_TAG_CHARS

    budget = max(80, (MAX_TAG_CHARS - 100 * len(reasons)) // max(len(reasons), 1))
    return json.dumps([{"check": r.check, "passed": r.passed,
                        "detail": r.detail if len(r.detail) <= budget else r.detail[: budget - 3] + "..."}
                       for r in reasons])


def _score(model: Any, X: Any, y: Any, task: str, threshold: float, positive_class: Any = None) -> dict[str, float]:
    """A model's metrics on the holdout: binary ones on ``positive_class`` (None: the greater label)."""
    from nbprod.model.classes import classes_of, is_multiclass, positive_label
    from nbprod.model.metrics import task_metrics
    from nbprod.model.models import predict_scores

    classes = classes_of(model) if task == "classification" else None
    if classes is not None and not is_multiclass(classes):
        positive_class = positive_label(classes, positive_class)
    scores = predict_scores(model, X, task, positive_class)
    return task_metrics(task, y, scores, threshold, positive_class, classes)


def _champion_rule(tags: Mapping[str, str], positive_class: Any) -> tuple[float, str | None]:
    """The champion's threshold on P(``positive_class``) and, when its recorded positive class is
    another one, a note saying so (its own threshold ``t`` on the other class is ``1 - t`` on this one)."""
    from nbprod.model import DEFAULT_THRESHOLD
    from nbprod.model.classes import label_from_json, match_index

    threshold = float(tags.get(THRESHOLD, DEFAULT_THRESHOLD))
    recorded = tags.get(POSITIVE_CLASS)
    if recorded is None or positive_class is None or match_index([positive_class], label_from_json(recorded)) == 0:
        return threshold, None
    return 1.0 - threshold, (f"the champion's positive class is {label_from_json(recorded)!r}: its threshold "
                             f"{threshold:g} is {1 - threshold:g} on P({positive_class!r})")


def _classes_differ(candidate: Any, champion: Any) -> str | None:
    """Why two classifiers cannot be compared on one holdout (they predict different classes), or None."""
    from nbprod.model.classes import classes_of

    ours, theirs = classes_of(candidate), classes_of(champion)
    if ours == theirs:
        return None
    return f"the champion predicts the classes {theirs!r}, the candidate {ours!r}: their metrics do not compare"


def promote(
    product: Any,
    upstream: Mapping[str, Any],
    model_name: str,
    alias: str,
    margin: float,
    max_size_mb: float,
    max_memory_mb: float,
    max_p99_ms: float,
    batch_rows: int = 1000,
    latency_calls: int = 200,
    timeout_s: float = 300.0,
    threads: int = 1,
) -> None:
    """Ploomber task: gate the best candidate of ``evaluation.json`` (see :func:`run_gate`).

    ``product`` has ``json`` and ``html`` (the evidence files); ``upstream["evaluate"]["evaluation"]``
    is the evaluate task's ``evaluation.json``. ``batch_rows``: holdout rows predicted at once for
    the memory figure; ``latency_calls``: timed single-row predictions; ``timeout_s``: time box of the
    measuring subprocess; ``threads``: native threads of that subprocess (0: library default).
    """
    # written out literally: Ploomber finds the task's dependencies by reading this source
    run_gate(
        _path(upstream["evaluate"]["evaluation"]),
        _path(product["json"]),
        _path(product["html"]),
        model_name=model_name,
        alias=alias,
        margin=float(margin),
        limits=gate.Limits(float(max_size_mb), float(max_memory_mb), float(max_p99_ms)),
        batch_rows=int(batch_rows),
        latency_calls=int(latency_calls),
        timeout_s=float(timeout_s),
        threads=int(threads),
    )


@dataclass
class Collected:
    """The gate's evidence: what was read, registered, scored and measured -- nothing decided yet."""

    evaluation_path: Path
    evaluation: dict[str, Any]
    chosen: dict[str, Any]               # the best candidate's entry of evaluation.json
    threshold: float
    multiclass: bool
    holdout_path: Path
    holdout_rows: int
    version: str                         # the candidate as registered
    previous: str | None                 # where the alias pointed when the gate started
    commit: str | None
    candidate_metrics: dict[str, float]
    contract: Any
    champion_contract: Any
    reference: dict[str, Any]
    metric_check: gate.Reason
    schema: gate.SchemaCheck
    figures: gate.BudgetFigures

    @property
    def already(self) -> bool:
        """The candidate already held the alias when the gate started."""
        return self.previous == self.version


def run_gate(
    evaluation_path: Path,
    json_path: Path,
    html_path: Path,
    *,
    model_name: str,
    alias: str,
    margin: float,
    limits: gate.Limits,
    batch_rows: int = 1000,
    latency_calls: int = 200,
    timeout_s: float = 300.0,
    threads: int = 1,
    figures: gate.BudgetFigures | None = None,
) -> dict[str, Any]:
    """Register, gate and (maybe) promote the best candidate; write the evidence; return it.

    Three steps: :func:`collect` the evidence, decide (:func:`nbprod.registry.gate.decide`, pure,
    with the alias read again right before: compare-and-set), :func:`publish` (move the alias,
    write the evidence, tag). ``figures`` skips the budget measurement (tests reuse one measurement).
    """
    from nbprod import tracking
    from nbprod.registry.client import Registry

    with tracking.task_run("promote") as run:
        registry = Registry(model_name)
        collected = collect(registry, Path(evaluation_path), alias=alias, margin=margin, limits=limits,
                            batch_rows=batch_rows, latency_calls=latency_calls, timeout_s=timeout_s,
                            threads=threads, figures=figures)
        current = registry.alias_version(alias)  # compare-and-set: where the alias points right before moving it
        decision = gate.decide(collected.metric_check, collected.figures, limits, collected.schema,
                               gate.alias_reason(alias, collected.previous, current, collected.version))
        return publish(registry, collected, decision, current, run.info.run_id, Path(json_path), Path(html_path),
                       alias=alias, margin=margin, limits=limits)


def collect(registry: Any, evaluation_path: Path, *, alias: str, margin: float, limits: gate.Limits,
            batch_rows: int, latency_calls: int, timeout_s: float, threads: int,
            figures: gate.BudgetFigures | None) -> Collected:
    """Register the best candidate of ``evaluation_path``; score it and the champion (or the naive baseline)
    on the holdout; check its contract; measure its budget (unless ``figures`` are given)."""
    import pandas as pd

    from nbprod.model.evaluation import baseline_result
    from nbprod.model.features import feature_contract
    from nbprod.model.metrics import DEFAULT_THRESHOLD, GREATER_IS_BETTER, class_tags
    from nbprod.registry import budget

    evaluation = json.loads(evaluation_path.read_text())
    task, metric = evaluation["task"], evaluation["metric"]
    greater = bool(evaluation.get("greater_is_better", GREATER_IS_BETTER[metric]))
    best = evaluation["best"]
    chosen = evaluation["candidates"][best]
    threshold = float(chosen.get("threshold", DEFAULT_THRESHOLD) or DEFAULT_THRESHOLD)
    classes, positive = evaluation.get("classes"), evaluation.get("positive_class")
    multiclass = classes is not None and len(classes) > 2
    holdout_path = _holdout_path(evaluation, evaluation_path)
    holdout = pd.read_parquet(holdout_path)
    target = evaluation["target"]
    y = holdout[target].to_numpy()
    X = holdout.drop(columns=[target])

    previous = registry.alias_version(alias)
    commit = _git_commit(chosen.get("run_id"))
    version = registry.register(chosen["model_uri"], chosen.get("run_id"), {
        CANDIDATE: best,
        RUN_ID: chosen.get("run_id"),
        MODEL_URI: chosen["model_uri"],
        TASK: task,
        TARGET: target,
        METRIC: metric,
        **({} if multiclass else {THRESHOLD: threshold}),
        **class_tags(classes, positive),
        GIT_COMMIT: commit,
        **_lineage(),
        **{tag_metric(k): v for k, v in chosen.get("metrics", {}).items()},
    })

    # The candidate as registered, scored on the holdout here.
    model = registry.load(version)
    candidate_metrics = _score(model, X, y, task, threshold, positive)
    contract = feature_contract(model)

    # The reference: the champion scored on the same holdout now, else the naive baseline.
    already = previous == version
    reference: dict[str, Any]
    champion_contract = None
    schema_error = None
    if previous and not already:
        champion_info = registry.version(previous)
        champion_threshold, note = _champion_rule(champion_info.tags, positive)
        reference = {"kind": "champion", "version": previous, "threshold": champion_threshold,
                     "metrics": {}, **({"note": note} if note else {})}
        try:
            champion = registry.load(previous)
            reference["metrics"] = _score(champion, X, y, task, champion_threshold, positive)
        except Exception as error:  # noqa: BLE001 - reported as a failed check
            reference["error"] = f"the champion could not be scored on the holdout: {error}"
            champion = None
        differ = _classes_differ(model, champion) if champion is not None and task == "classification" else None
        if differ:
            reference["error"] = differ
        try:
            champion_contract = feature_contract(champion) if champion is not None else None
        except TypeError as error:
            schema_error = f"the champion has no feature contract: {error}"
        if champion is None:
            schema_error = reference["error"]
    else:
        stored = (evaluation.get("baseline") or {}).get("metrics") or {}
        if metric in stored:
            reference = {"kind": "baseline", "source": "evaluation.json", "metrics": stored}
        else:
            reference = {"kind": "baseline", "source": "holdout target (no baseline in evaluation.json)",
                         "metrics": baseline_result(y, y, task, classes, positive)}
        if already:
            reference["note"] = f"version {version} already holds the alias {alias!r}"

    reference_name = (f"champion v{previous}" if reference["kind"] == "champion" else "naive baseline")
    metric_check = gate.metric_reason(metric, candidate_metrics.get(metric),
                                      reference["metrics"].get(metric), margin, greater, reference_name)
    if reference.get("error"):
        metric_check = gate.Reason("metric", False, reference["error"])

    schema = gate.schema_check(contract, champion_contract)
    if schema_error:
        schema = gate.SchemaCheck("champion", problems=(schema_error,))

    if figures is None:
        with tempfile.TemporaryDirectory(prefix="nbprod-model-") as folder:
            model_dir = registry.download(version, Path(folder))
            figures = budget.measure(
                model_dir, X.head(max(int(batch_rows), 1)), task, latency_calls, timeout_s,
                cap_mb=max(2 * limits.max_memory_mb, limits.max_memory_mb + 256),
                threads=threads or None,
            )

    return Collected(evaluation_path, evaluation, chosen, threshold, multiclass, holdout_path, int(len(holdout)),
                     version, previous, commit, candidate_metrics, contract, champion_contract, reference,
                     metric_check, schema, figures)


def publish(registry: Any, collected: Collected, decision: gate.Decision, current: str | None, run_id: str,
            json_path: Path, html_path: Path, *, alias: str, margin: float, limits: gate.Limits) -> dict[str, Any]:
    """Move the alias when ``decision`` promotes; write the evidence (JSON, HTML), alert, tag the version and
    log the run ``run_id``. ``current``: where the alias pointed right before (the compare-and-set read)."""
    import mlflow

    from nbprod.model.metrics import GREATER_IS_BETTER
    from nbprod.registry import evidence

    c = collected
    evaluation, chosen, version, previous = c.evaluation, c.chosen, c.version, c.previous
    metric, figures, schema, reference, metric_check = (evaluation["metric"], c.figures, c.schema, c.reference,
                                                        c.metric_check)
    greater = bool(evaluation.get("greater_is_better", GREATER_IS_BETTER[metric]))
    model_name, best, multiclass, candidate_metrics = registry.name, evaluation["best"], c.multiclass, c.candidate_metrics
    if decision.promoted and not c.already:
        registry.set_alias(alias, version)
    champion_after = version if decision.promoted else current
    decided_at = _now()

    by_check = {reason.check: reason for reason in decision.reasons}
    record = {
        "decision": decision.decision,
        "summary": decision.summary(),
        "model_name": model_name,
        "alias": alias,
        "previous_champion": previous,
        "champion_before_decision": current,
        "champion_after": champion_after,
        "decided_at": decided_at,
        "git_commit": c.commit,
        "mlflow_run_id": run_id,
        "evaluation": str(c.evaluation_path),
        "holdout": {"path": str(c.holdout_path), "rows": c.holdout_rows, "target": evaluation["target"]},
        "candidate": {
            "name": best, "version": version, "run_id": chosen.get("run_id"),
            "model_uri": chosen["model_uri"], "threshold": None if multiclass else c.threshold,
            "classes": evaluation.get("classes"), "positive_class": evaluation.get("positive_class"),
            "metrics": candidate_metrics, "recorded_metrics": chosen.get("metrics", {}),
        },
        "reference": reference,
        "metric": {
            "name": metric, "greater_is_better": greater, "margin": margin,
            "candidate": candidate_metrics.get(metric), "reference": reference["metrics"].get(metric),
            "improvement": (None if metric_check.measured is None or metric_check.limit is None
                            else gate.improvement(metric_check.measured, metric_check.limit, greater)),
            "passed": metric_check.passed,
        },
        "budget": {
            "size_mb": {"measured": figures.size_mb, "limit": limits.max_size_mb,
                        "passed": by_check["size"].passed},
            "memory_mb": {"measured": figures.memory_mb, "limit": limits.max_memory_mb,
                          "passed": by_check["memory"].passed, "at_least": figures.memory_at_least},
            "p99_ms": {"measured": figures.p99_ms, "limit": limits.max_p99_ms,
                       "passed": by_check["latency"].passed},
            "error": figures.error,
            "details": dict(figures.details),
        },
        "schema": {**schema.to_dict(), "candidate_columns": c.contract.names,
                   "champion_columns": c.champion_contract.names if c.champion_contract else None},
        "reasons": [reason.to_dict() for reason in decision.reasons],
    }
    evidence.write_json(record, json_path)
    evidence.write_html(record, html_path)
    alerts.notify_gate(record, json_path, html_path)

    registry.set_tags(version, {
        TAG_DECISION: decision.decision,
        TAG_REASONS: _reasons_tag(decision.reasons),
        **{gate_check(r.check): "pass" if r.passed else "fail" for r in decision.reasons},
        GATE_AT: decided_at,
        GATE_PREVIOUS_CHAMPION: previous or "none",
        GATE_RUN_ID: run_id,
        BUDGET_SIZE_MB: figures.size_mb,
        BUDGET_MEMORY_MB: figures.memory_mb,
        BUDGET_P99_MS: figures.p99_ms,
    })

    mlflow.set_tags({TAG_DECISION: decision.decision, GATE_VERSION: version,
                     GATE_MODEL_NAME: model_name})
    mlflow.log_params({"model_name": model_name, "alias": alias, "margin": margin,
                       "candidate": best, "version": version, "previous_champion": previous or "none",
                       **{f"budget.{k}": v for k, v in vars(limits).items()}})
    numbers = {
        "gate.promoted": float(decision.promoted),
        **{f"gate.{r.check}_passed": float(r.passed) for r in decision.reasons},
        "budget.size_mb": figures.size_mb, "budget.memory_mb": figures.memory_mb,
        "budget.p99_ms": figures.p99_ms,
        **{f"candidate.{k}": v for k, v in candidate_metrics.items()},
        **{f"{reference['kind']}.{k}": v for k, v in reference["metrics"].items()},
    }
    mlflow.log_metrics({k: float(v) for k, v in numbers.items() if isinstance(v, (int, float))})
    mlflow.log_artifact(str(json_path), artifact_path="promotion")
    mlflow.log_artifact(str(html_path), artifact_path="promotion")
    return record
