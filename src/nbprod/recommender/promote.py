"""The ``promote`` task of a recommender project: collect the evidence, decide, publish.

The same gate as the tabular project's (:mod:`nbprod.registry.gate`: the metric check and the
budget checks, one :class:`~nbprod.registry.gate.Decision`), with a recommender's figures:

- **metric**: NDCG@k over all test users (known and cold-start), candidate and champion (or the
  popularity baseline when there is none) scored here on the same holdout (history and test);
- **size**: the bytes of the model artifact folder (the pickled factors or neighbour matrix, the
  fallback lists and the seen items), measured *before* the model is loaded: a model over the
  size budget is neither loaded nor scored, so a 4 GB model cannot take the gate's machine down;
- **memory** and **latency**: :mod:`nbprod.recommender.probe` in a fresh process (peak RSS of
  loading the model and recommending for every test user; p99 of one user's top-k).

A rejection is a normal outcome: the task succeeds and the champion is untouched.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from nbprod.registry import gate

#: Why the size budget matters, said in every rejection for size: the case this project was born from.
LESSON = ("the lesson this project was born from: a recommender that was perfect in evaluation needed 4 GB where "
          "production allowed 200 MB; keep the neighbour matrix sparse (item_knn neighbours) or the factors few")
#: Why a model over the size budget has no memory or latency figure.
NOT_LOADED = "not loaded: the model is over the size budget, so its memory and latency were not measured"


def decide(metric: gate.Reason, figures: gate.BudgetFigures, limits: gate.Limits) -> gate.Decision:
    """The gate's decision (pure): the metric and every budget check must pass; a failed size check
    carries :data:`LESSON`."""
    reasons = []
    for reason in gate.budget_reasons(figures, limits):
        if reason.check == "size" and not reason.passed:
            reason = gate.Reason(reason.check, False, f"{reason.detail}; {LESSON}", reason.measured, reason.limit)
        reasons.append(reason)
    return gate.Decision((metric, *reasons))


def size_figures(model_dir: Path, limits: gate.Limits) -> gate.BudgetFigures | None:
    """The size of a downloaded model folder; figures with no memory and latency (:data:`NOT_LOADED`) when it
    is over the budget, else None (measure the rest)."""
    from nbprod.registry.budget import MB, folder_size_bytes

    size = folder_size_bytes(model_dir) / MB
    if size <= limits.max_size_mb:
        return None
    return gate.BudgetFigures(size, None, None, error=NOT_LOADED,
                              details={"size_method": "sum of the files in the MLflow model artifact folder"})


def measure(model_dir: Path, users: pd.DataFrame, k: int, limits: gate.Limits, calls: int = 200,
            timeout_s: float = 120.0, threads: int | None = 1) -> gate.BudgetFigures:
    """Size, then (when it fits) peak memory and one user's top-k p99 latency of the model in ``model_dir``."""
    from nbprod.registry.budget import MB, folder_size_bytes, run_probe

    over = size_figures(model_dir, limits)
    if over is not None:
        return over
    probe = run_probe(model_dir, users, str(int(k)), calls, timeout_s,
                      cap_mb=max(2 * limits.max_memory_mb, limits.max_memory_mb + 256), threads=threads,
                      module="nbprod.recommender.probe")
    size = folder_size_bytes(model_dir)
    details = {"size_bytes": size, "size_method": "sum of the files in the MLflow model artifact folder",
               **{key: value for key, value in probe.items() if key not in ("memory_mb", "p99_ms", "error")}}
    return gate.BudgetFigures(size / MB, probe.get("memory_mb"), probe.get("p99_ms"),
                              bool(probe.get("memory_at_least", False)), probe.get("error"), details)


def probe_users(test: pd.DataFrame, segment: str | None, rows: int = 1000) -> pd.DataFrame:
    """The test users (with their segment) the probe recommends for."""
    from nbprod.recommender.data import user_segments

    users = pd.DataFrame({"user": pd.unique(test["user"])[:rows]})
    if segment:
        users["segment"] = users["user"].map(user_segments(test, segment).to_dict())
    return users


def score(model_uri: str, history: pd.DataFrame, test: pd.DataFrame, k: int, segment: str | None) -> dict[str, Any]:
    """A registered recommender's evaluation on the holdout."""
    from nbprod.recommender import evaluation, pyfunc

    return evaluation.evaluate(pyfunc.load_recommender(model_uri), history, test, k, segment)


def baseline_result(history: pd.DataFrame, test: pd.DataFrame, k: int) -> dict[str, Any]:
    """The popularity baseline (global top, no segment) fitted on the history, on the test."""
    from nbprod.recommender import evaluation
    from nbprod.recommender.estimator import Recommender

    return evaluation.evaluate(Recommender("popularity").fit(history), history, test, k)


def collect(evaluation: Mapping[str, Any], registry: Any, alias: str, limits: gate.Limits, margin: float,
            latency_calls: int = 200, timeout_s: float = 120.0, threads: int = 1) -> dict[str, Any]:
    """Register the best candidate, measure it, score it and the reference on the holdout: the evidence."""
    from nbprod.recommender.evaluation import metric_value
    from nbprod.tracking.tags import CANDIDATE, METRIC, MODEL_URI, RUN_ID, TASK, metric as tag_metric

    k, metric, segment = int(evaluation["k"]), evaluation["metric"], evaluation.get("segment")
    best = evaluation["best"]
    chosen = evaluation["candidates"][best]
    history = pd.read_parquet(evaluation["holdout"]["history"])
    test = pd.read_parquet(evaluation["holdout"]["test"])
    previous = registry.alias_version(alias)
    version = registry.register(chosen["model_uri"], chosen.get("run_id"), {
        CANDIDATE: best, RUN_ID: chosen.get("run_id"), MODEL_URI: chosen["model_uri"], TASK: "recommendation",
        METRIC: metric, **{tag_metric(name.replace("@", "_at_")): value
                           for name, value in chosen["metrics"]["groups"]["all"].items()
                           if isinstance(value, (int, float))}})
    with tempfile.TemporaryDirectory(prefix="nbprod-model-") as folder:
        model_dir = registry.download(version, Path(folder))
        figures = measure(model_dir, probe_users(test, segment), k, limits, latency_calls, timeout_s, threads or None)
    over_size = figures.error == NOT_LOADED
    candidate = None if over_size else score(registry.uri(version), history, test, k, segment)
    reference: dict[str, Any]
    if previous and previous != version:
        reference = {"kind": "champion", "version": previous,
                     "result": score(registry.uri(previous), history, test, k, segment)}
    else:
        reference = {"kind": "baseline", "result": baseline_result(history, test, k),
                     **({"note": f"version {version} already holds the alias {alias!r}"} if previous else {})}
    name = f"champion v{previous}" if reference["kind"] == "champion" else "popularity baseline"
    if over_size:
        check = gate.Reason("metric", False, f"{metric} not scored: {NOT_LOADED}")
    else:
        check = gate.metric_reason(metric, metric_value(candidate, metric), metric_value(reference["result"], metric),
                                   margin, True, name)
    return {"k": k, "metric": metric, "margin": margin, "best": best, "chosen": chosen, "version": version,
            "previous": previous, "candidate_result": candidate, "reference": reference, "metric_check": check,
            "figures": figures, "holdout": {"path": evaluation["holdout"]["test"], "rows": int(len(test))}}


def flat_metrics(result: Mapping[str, Any] | None) -> dict[str, float]:
    """``{"all ndcg@10": ..., "cold recall@10": ...}``: a result's figures in one flat mapping."""
    if not result:
        return {}
    return {f"{group} {key}": value for group, figures in result["groups"].items()
            for key, value in figures.items() if isinstance(value, (int, float))}


def record(collected: Mapping[str, Any], decision: gate.Decision, model_name: str, alias: str,
           limits: gate.Limits) -> dict[str, Any]:
    """The evidence document (the shape :func:`nbprod.registry.evidence.render_html` reads)."""
    figures, check = collected["figures"], collected["metric_check"]
    by_check = {reason.check: reason for reason in decision.reasons}
    reference = collected["reference"]
    return {
        "kind": "recommender", "decision": decision.decision, "summary": decision.summary(),
        "model_name": model_name, "alias": alias, "previous_champion": collected["previous"],
        "champion_after": collected["version"] if decision.promoted else collected["previous"],
        "decided_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "holdout": collected["holdout"],
        "candidate": {"name": collected["best"], "version": collected["version"],
                      "run_id": collected["chosen"].get("run_id"), "model_uri": collected["chosen"]["model_uri"],
                      "metrics": flat_metrics(collected["candidate_result"]),
                      "recorded_metrics": flat_metrics(collected["chosen"].get("metrics"))},
        "reference": {**{key: value for key, value in reference.items() if key != "result"},
                      "label": (f"champion version {reference['version']}" if reference["kind"] == "champion"
                                else "the popularity baseline"),
                      "metrics": flat_metrics(reference["result"])},
        "metric": {"name": f"all {collected['metric']}", "greater_is_better": True, "margin": collected["margin"],
                   "candidate": check.measured, "reference": check.limit, "passed": check.passed,
                   "improvement": None if check.measured is None or check.limit is None
                   else check.measured - check.limit},
        "budget": {
            "size_mb": {"measured": figures.size_mb, "limit": limits.max_size_mb, "passed": by_check["size"].passed},
            "memory_mb": {"measured": figures.memory_mb, "limit": limits.max_memory_mb,
                          "passed": by_check["memory"].passed, "at_least": figures.memory_at_least},
            "p99_ms": {"measured": figures.p99_ms, "limit": limits.max_p99_ms, "passed": by_check["latency"].passed},
            "error": figures.error, "details": dict(figures.details)},
        "schema": {"reference": "none: a request is a user id (and optional k, segment)", "compatible": True},
        "reasons": [reason.to_dict() for reason in decision.reasons],
    }


def publish(evidence: Mapping[str, Any], decision: gate.Decision, registry: Any, json_path: Path,
            html_path: Path) -> None:
    """Move the alias when promoted, tag the version, write the evidence files, log them to the task's run."""
    import mlflow

    from nbprod.registry import evidence as pages
    from nbprod.tracking import tags

    version = evidence["candidate"]["version"]
    if decision.promoted and evidence["previous_champion"] != version:
        registry.set_alias(evidence["alias"], version)
    pages.write_json(evidence, json_path)
    pages.write_html(evidence, html_path)
    registry.set_tags(version, {
        tags.GATE_DECISION: decision.decision,
        tags.GATE_REASONS: json.dumps([{"check": r.check, "passed": r.passed, "detail": r.detail[:300]}
                                       for r in decision.reasons]),
        **{tags.gate_check(r.check): "pass" if r.passed else "fail" for r in decision.reasons},
        tags.GATE_AT: evidence["decided_at"], tags.GATE_PREVIOUS_CHAMPION: evidence["previous_champion"] or "none",
        tags.BUDGET_SIZE_MB: evidence["budget"]["size_mb"]["measured"],
        tags.BUDGET_MEMORY_MB: evidence["budget"]["memory_mb"]["measured"],
        tags.BUDGET_P99_MS: evidence["budget"]["p99_ms"]["measured"],
    })
    mlflow.set_tags({tags.GATE_DECISION: decision.decision, tags.GATE_VERSION: version,
                     tags.GATE_MODEL_NAME: evidence["model_name"]})
    mlflow.log_metrics({"gate.promoted": float(decision.promoted),
                        **{f"gate.{r.check}_passed": float(r.passed) for r in decision.reasons}})
    mlflow.log_artifact(str(json_path), artifact_path="promotion")
    mlflow.log_artifact(str(html_path), artifact_path="promotion")


def run_gate(evaluation_path: Path, json_path: Path, html_path: Path, *, model_name: str, alias: str,
             margin: float, limits: gate.Limits, latency_calls: int = 200, timeout_s: float = 120.0,
             threads: int = 1) -> dict[str, Any]:
    """Collect, decide, publish (see the module docstring); return the evidence."""
    from nbprod import tracking
    from nbprod.registry.client import Registry

    evaluation = json.loads(Path(evaluation_path).read_text())
    with tracking.task_run("promote"):
        registry = Registry(model_name)
        collected = collect(evaluation, registry, alias, limits, margin, latency_calls, timeout_s, threads)
        decision = decide(collected["metric_check"], collected["figures"], limits)
        evidence = record(collected, decision, model_name, alias, limits)
        publish(evidence, decision, registry, Path(json_path), Path(html_path))
    return evidence


def promote(product: Any, upstream: Mapping[str, Any], model_name: str, alias: str, margin: float,
            max_size_mb: float, max_memory_mb: float, max_p99_ms: float, latency_calls: int = 200,
            timeout_s: float = 120.0, threads: int = 1) -> None:
    """Ploomber task: gate the best candidate of the evaluate task's ``evaluation.json``."""
    # written out literally: Ploomber finds the task's dependencies by reading this source
    run_gate(
        Path(str(upstream["evaluate"]["evaluation"])),
        Path(str(product["json"])),
        Path(str(product["html"])),
        model_name=model_name,
        alias=alias,
        margin=float(margin),
        limits=gate.Limits(float(max_size_mb), float(max_memory_mb), float(max_p99_ms)),
        latency_calls=int(latency_calls),
        timeout_s=float(timeout_s),
        threads=int(threads),
    )
