"""The ``promote`` task of a recommender project: its evidence collector for the one gate.

Deciding and publishing are the gate's own, shared with the tabular project
(:mod:`nbprod.registry.promotion`: the reasons, the alias's compare-and-set, the evidence pages,
the tags, the alerts). What a recommender brings is its evidence (:func:`collect`):

- **metric**: NDCG@k over all test users (known and cold-start), candidate and champion (or the
  popularity baseline when there is none) scored here on the same holdout (history and test);
- **size**: the bytes of the model artifact folder (the pickled factors or neighbour matrix, the
  fallback lists and the seen items), measured *before* the model is loaded: a model over the
  size budget is neither loaded nor scored (:data:`nbprod.registry.budget.NOT_LOADED`), so a 4 GB
  model cannot take the gate's machine down; its rejection says the seed's lesson
  (:data:`nbprod.registry.gate.LESSON`) and :data:`ADVICE`;
- **memory** and **latency**: the one budget probe (:mod:`nbprod.registry.probe`) with the
  recommender's workload (:mod:`nbprod.recommender.probe`: peak RSS of loading the model and
  recommending for every test user; p99 of one user's top-k);
- **schema**: none (a request is a user id, and optional k and segment).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from nbprod.registry import gate, promotion

#: How to make a recommender smaller, said with the lesson when one is over the size budget.
ADVICE = "keep the neighbour matrix sparse (item_knn neighbours) or the factors few"


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
            latency_calls: int = 200, timeout_s: float = 120.0, threads: int = 1) -> promotion.Evidence:
    """Register the best candidate, measure it, score it and the reference on the holdout: the evidence."""
    from nbprod.recommender import probe
    from nbprod.recommender.evaluation import metric_value
    from nbprod.registry.budget import NOT_LOADED
    from nbprod.tracking.tags import CANDIDATE, METRIC, MODEL_URI, RUN_ID, TASK, metric as tag_metric

    k, metric, segment = int(evaluation["k"]), evaluation["metric"], evaluation.get("segment")
    best = evaluation["best"]
    chosen = evaluation["candidates"][best]
    history = pd.read_parquet(evaluation["holdout"]["history"])
    test = pd.read_parquet(evaluation["holdout"]["test"])
    previous = registry.alias_version(alias)
    version = registry.register(chosen["model_uri"], chosen.get("run_id"), {
        CANDIDATE: best, RUN_ID: chosen.get("run_id"), MODEL_URI: chosen["model_uri"], TASK: probe.TASK,
        METRIC: metric, **{tag_metric(name.replace("@", "_at_")): value
                           for name, value in chosen["metrics"]["groups"]["all"].items()
                           if isinstance(value, (int, float))}})
    figures = promotion.measure_version(registry, version, probe_users(test, segment), probe.task(k), limits,
                                        calls=latency_calls, timeout_s=timeout_s, threads=threads,
                                        skip_over_size=True)
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
    document = evidence_document(best, chosen, version, candidate, reference, check, metric, margin,
                                 {"path": evaluation["holdout"]["test"], "rows": int(len(test))})
    metrics = {f"candidate.{key}": value for key, value in document["candidate"]["metrics"].items()}
    metrics.update({f"{reference['kind']}.{key}": value for key, value in document["reference"]["metrics"].items()})
    return promotion.Evidence(version, previous, best, check, figures, None, document,
                              {name.replace("@", "_at_"): value for name, value in metrics.items()}, ADVICE)


def flat_metrics(result: Mapping[str, Any] | None) -> dict[str, float]:
    """``{"all ndcg@10": ..., "cold recall@10": ...}``: a result's figures in one flat mapping."""
    if not result:
        return {}
    return {f"{group} {key}": value for group, figures in result["groups"].items()
            for key, value in figures.items() if isinstance(value, (int, float))}


def evidence_document(best: str, chosen: Mapping[str, Any], version: str, candidate: Mapping[str, Any] | None,
                      reference: Mapping[str, Any], check: gate.Reason, metric: str, margin: float,
                      holdout: Mapping[str, Any]) -> dict[str, Any]:
    """The recommender's part of ``promotion.json`` (the shape :func:`nbprod.registry.evidence.render_html` reads)."""
    return {
        "kind": "recommender",
        "holdout": dict(holdout),
        "candidate": {"name": best, "version": version, "run_id": chosen.get("run_id"),
                      "model_uri": chosen["model_uri"], "metrics": flat_metrics(candidate),
                      "recorded_metrics": flat_metrics(chosen.get("metrics"))},
        "reference": {**{key: value for key, value in reference.items() if key != "result"},
                      "label": (f"champion version {reference['version']}" if reference["kind"] == "champion"
                                else "the popularity baseline"),
                      "metrics": flat_metrics(reference["result"])},
        "metric": {"name": f"all {metric}", "greater_is_better": True, "margin": margin,
                   "candidate": check.measured, "reference": check.limit, "passed": check.passed,
                   "improvement": None if check.measured is None or check.limit is None
                   else check.measured - check.limit},
        "schema": {"reference": "none: a request is a user id (and optional k, segment)", "compatible": True},
    }


def run_gate(evaluation_path: Path, json_path: Path, html_path: Path, *, model_name: str, alias: str,
             margin: float, limits: gate.Limits, latency_calls: int = 200, timeout_s: float = 120.0,
             threads: int = 1) -> dict[str, Any]:
    """The one gate (:func:`nbprod.registry.promotion.run`) with the recommender's :func:`collect`; the evidence."""
    from nbprod.recommender.evaluation import holdout_files

    evaluation = json.loads(Path(evaluation_path).read_text())
    evaluation["holdout"] = holdout_files(evaluation, evaluation_path)

    def collector(registry: Any) -> promotion.Evidence:
        return collect(evaluation, registry, alias, limits, margin, latency_calls, timeout_s, threads)

    return promotion.run(collector, Path(json_path), Path(html_path), model_name=model_name, alias=alias,
                         margin=margin, limits=limits)


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
