"""The gate's run for every kind of project: collect the evidence, decide (pure), publish.

A kind of project brings its own **collector** (the tabular one: :func:`nbprod.registry.task.collect`,
the metric on the holdout; a recommender's: :func:`nbprod.recommender.promote.collect`, NDCG@k on the
same holdout): it registers the best candidate, scores it and the reference, measures its budget and
returns an :class:`Evidence`. The rest exists once, here and in :mod:`nbprod.registry.gate`:

- **decide**: :func:`nbprod.registry.gate.decide` with the alias read again right before
  (compare-and-set: :func:`nbprod.registry.gate.alias_reason`);
- **publish**: move the alias when promoted, write ``promotion.json`` and ``promotion.html``, alert
  the webhooks, tag the version and log the task's run (:func:`publish`).

A rejection is a normal outcome (the task succeeds, the champion is untouched).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from nbprod.registry import gate


@dataclass(frozen=True)
class Evidence:
    """What a collector found, nothing decided yet.

    ``document``: the kind's own part of ``promotion.json`` (``holdout``, ``candidate``, ``reference``,
    ``metric``, ``schema``, ... in the shape :func:`nbprod.registry.evidence.render_html` reads);
    ``metrics``: numbers logged to the task's run; ``advice``: how to make this kind of model smaller,
    said with the lesson when it is over the size budget.
    """

    version: str                     # the candidate as registered
    previous: str | None             # where the alias pointed when the gate started
    candidate: str                   # the candidate's name in evaluation.json
    metric_check: gate.Reason
    figures: gate.BudgetFigures
    schema: gate.SchemaCheck | None  # None: the kind has no feature contract
    document: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)
    advice: str | None = None

    @property
    def already(self) -> bool:
        """The candidate already held the alias when the gate started."""
        return self.previous == self.version


def now() -> str:
    """The time of a decision (UTC, ISO 8601, seconds)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def reasons_tag(reasons: Any) -> str:
    """The reasons as a JSON list that fits in a tag (long details shortened, JSON kept valid)."""
    from nbprod.registry.client import MAX_TAG_CHARS

    budget = max(80, (MAX_TAG_CHARS - 100 * len(reasons)) // max(len(reasons), 1))
    return json.dumps([{"check": r.check, "passed": r.passed,
                        "detail": r.detail if len(r.detail) <= budget else r.detail[: budget - 3] + "..."}
                       for r in reasons])


def run(collect: Callable[[Any], Evidence], json_path: Path, html_path: Path, *, model_name: str, alias: str,
        margin: float, limits: gate.Limits) -> dict[str, Any]:
    """Collect (``collect(registry)``), decide, publish, in the task run ``promote``; return the evidence document."""
    from nbprod import tracking
    from nbprod.registry.client import Registry

    with tracking.task_run("promote") as task:
        registry = Registry(model_name)
        evidence = collect(registry)
        current = registry.alias_version(alias)  # compare-and-set: where the alias points right before moving it
        decision = gate.decide(evidence.metric_check, evidence.figures, limits, evidence.schema,
                               gate.alias_reason(alias, evidence.previous, current, evidence.version),
                               evidence.advice)
        return publish(registry, evidence, decision, current, task.info.run_id, Path(json_path), Path(html_path),
                       alias=alias, margin=margin, limits=limits)


def measure_version(registry: Any, version: str, rows: Any, task: str, limits: gate.Limits, *, calls: int,
                    timeout_s: float, threads: int, skip_over_size: bool = False) -> gate.BudgetFigures:
    """The budget figures of ``version`` as the service downloads it (:func:`nbprod.registry.budget.measure`,
    with a memory safety cap above the limit; ``threads`` 0: the libraries' defaults). ``skip_over_size``: a
    version over the size budget is not loaded (:data:`nbprod.registry.budget.NOT_LOADED`)."""
    import tempfile

    from nbprod.registry import budget

    with tempfile.TemporaryDirectory(prefix="nbprod-model-") as folder:
        model_dir = registry.download(version, Path(folder))
        return budget.measure(model_dir, rows, task, calls, timeout_s,
                              cap_mb=max(2 * limits.max_memory_mb, limits.max_memory_mb + 256),
                              threads=threads or None,
                              skip_over_mb=limits.max_size_mb if skip_over_size else None)


def budget_record(figures: gate.BudgetFigures, limits: gate.Limits, decision: gate.Decision) -> dict[str, Any]:
    """The ``budget`` part of ``promotion.json``: each figure, its limit and its check."""
    by_check = {reason.check: reason for reason in decision.reasons}
    return {
        "size_mb": {"measured": figures.size_mb, "limit": limits.max_size_mb, "passed": by_check["size"].passed},
        "memory_mb": {"measured": figures.memory_mb, "limit": limits.max_memory_mb,
                      "passed": by_check["memory"].passed, "at_least": figures.memory_at_least},
        "p99_ms": {"measured": figures.p99_ms, "limit": limits.max_p99_ms, "passed": by_check["latency"].passed},
        "error": figures.error,
        "details": dict(figures.details),
    }


def record(evidence: Evidence, decision: gate.Decision, model_name: str, alias: str, current: str | None,
           run_id: str, limits: gate.Limits) -> dict[str, Any]:
    """``promotion.json``: the decision, who serves before and after, the kind's evidence, the budget, the reasons."""
    return {
        "decision": decision.decision,
        "summary": decision.summary(),
        "model_name": model_name,
        "alias": alias,
        "previous_champion": evidence.previous,
        "champion_before_decision": current,
        "champion_after": evidence.version if decision.promoted else current,
        "decided_at": now(),
        "mlflow_run_id": run_id,
        **evidence.document,
        "budget": budget_record(evidence.figures, limits, decision),
        "reasons": [reason.to_dict() for reason in decision.reasons],
    }


def publish(registry: Any, evidence: Evidence, decision: gate.Decision, current: str | None, run_id: str,
            json_path: Path, html_path: Path, *, alias: str, margin: float, limits: gate.Limits) -> dict[str, Any]:
    """Move the alias when ``decision`` promotes; write the evidence (JSON, HTML), alert, tag the version and
    log the run ``run_id``. ``current``: where the alias pointed right before (the compare-and-set read)."""
    import mlflow

    from nbprod import alerts
    from nbprod.registry import evidence as pages
    from nbprod.tracking import tags

    version, figures = evidence.version, evidence.figures
    if decision.promoted and not evidence.already:
        registry.set_alias(alias, version)
    document = record(evidence, decision, registry.name, alias, current, run_id, limits)
    pages.write_json(document, json_path)
    pages.write_html(document, html_path)
    alerts.notify_gate(document, json_path, html_path)

    registry.set_tags(version, {
        tags.GATE_DECISION: decision.decision,
        tags.GATE_REASONS: reasons_tag(decision.reasons),
        **{tags.gate_check(r.check): "pass" if r.passed else "fail" for r in decision.reasons},
        tags.GATE_AT: document["decided_at"],
        tags.GATE_PREVIOUS_CHAMPION: evidence.previous or "none",
        tags.GATE_RUN_ID: run_id,
        tags.BUDGET_SIZE_MB: figures.size_mb,
        tags.BUDGET_MEMORY_MB: figures.memory_mb,
        tags.BUDGET_P99_MS: figures.p99_ms,
    })
    mlflow.set_tags({tags.GATE_DECISION: decision.decision, tags.GATE_VERSION: version,
                     tags.GATE_MODEL_NAME: registry.name})
    mlflow.log_params({"model_name": registry.name, "alias": alias, "margin": margin,
                       "candidate": evidence.candidate, "version": version,
                       "previous_champion": evidence.previous or "none",
                       **{f"budget.{k}": v for k, v in vars(limits).items()}})
    numbers = {
        "gate.promoted": float(decision.promoted),
        **{f"gate.{r.check}_passed": float(r.passed) for r in decision.reasons},
        "budget.size_mb": figures.size_mb, "budget.memory_mb": figures.memory_mb, "budget.p99_ms": figures.p99_ms,
        **evidence.metrics,
    }
    mlflow.log_metrics({k: float(v) for k, v in numbers.items() if isinstance(v, (int, float))})
    mlflow.log_artifact(str(json_path), artifact_path="promotion")
    mlflow.log_artifact(str(html_path), artifact_path="promotion")
    return document
