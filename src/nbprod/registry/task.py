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

This module is the tabular project's evidence collector (:func:`collect`: the metric on the
holdout, the feature contract, the budget); deciding and publishing are the gate's own, shared by
every kind of project (:mod:`nbprod.registry.promotion`). A rejection is a normal outcome (the task
succeeds, the champion is untouched); the task fails only when the evidence cannot be produced
(e.g. the candidate does not load).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

from nbprod.pipeline import imports
from nbprod.registry import gate, promotion
from nbprod.tracking.tags import (
    CANDIDATE, DATA_DIGEST, GATE_DECISION, GATE_REASONS, GIT_COMMIT, METRIC, MODEL_URI, PARENT, POSITIVE_CLASS,
    RUN_ID, TARGET, TASK, THRESHOLD, metric as tag_metric,
)

#: The gate's tags on a version (names from :mod:`nbprod.tracking.tags`).
TAG_DECISION = GATE_DECISION
TAG_REASONS = GATE_REASONS


def _path(value: Any) -> Path:
    """A path from a Ploomber product (File), a str or a Path."""
    return Path(str(value))


def _holdout_path(evaluation: Mapping[str, Any], evaluation_path: Path) -> Path:
    """The holdout ``evaluation.json`` names: a path relative to its own folder, or a whole one."""
    return evaluation_path.parent / evaluation["holdout"]


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


@imports.ahead("nbprod.model.evaluation", "nbprod.model.features", "nbprod.model.metrics", "mlflow.sklearn")
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

    The gate's run (:func:`nbprod.registry.promotion.run`) with this project kind's collector,
    :func:`collect`. ``figures`` skips the budget measurement (tests reuse one measurement).
    """
    def collector(registry: Any) -> promotion.Evidence:
        return collect(registry, Path(evaluation_path), alias=alias, margin=margin, limits=limits,
                       batch_rows=batch_rows, latency_calls=latency_calls, timeout_s=timeout_s,
                       threads=threads, figures=figures)

    return promotion.run(collector, Path(json_path), Path(html_path), model_name=model_name, alias=alias,
                         margin=margin, limits=limits)


def collect(registry: Any, evaluation_path: Path, *, alias: str, margin: float, limits: gate.Limits,
            batch_rows: int, latency_calls: int, timeout_s: float, threads: int,
            figures: gate.BudgetFigures | None) -> promotion.Evidence:
    """Register the best candidate of ``evaluation_path``; score it and the champion (or the naive baseline)
    on the holdout; check its contract; measure its budget (unless ``figures`` are given)."""
    import pandas as pd

    from nbprod.model.evaluation import baseline_result
    from nbprod.model.features import feature_contract
    from nbprod.model.metrics import DEFAULT_THRESHOLD, GREATER_IS_BETTER, class_tags

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
        figures = promotion.measure_version(registry, version, X.head(max(int(batch_rows), 1)), task, limits,
                                            calls=latency_calls, timeout_s=timeout_s, threads=threads)

    return promotion.Evidence(
        version, previous, best, metric_check, figures, schema,
        document={
            "git_commit": commit,
            "evaluation": str(evaluation_path),
            "holdout": {"path": str(holdout_path), "rows": int(len(holdout)), "target": target},
            "candidate": {
                "name": best, "version": version, "run_id": chosen.get("run_id"),
                "model_uri": chosen["model_uri"], "threshold": None if multiclass else threshold,
                "classes": classes, "positive_class": positive,
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
            "schema": {**schema.to_dict(), "candidate_columns": contract.names,
                       "champion_columns": champion_contract.names if champion_contract else None},
        },
        metrics={**{f"candidate.{k}": v for k, v in candidate_metrics.items()},
                 **{f"{reference['kind']}.{k}": v for k, v in reference["metrics"].items()}},
    )
