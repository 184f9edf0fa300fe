"""The promotion gate: pure decision logic over measured figures.

Nothing here touches MLflow, files or subprocesses; a project kind's collector
(:mod:`nbprod.registry.task`, :mod:`nbprod.recommender.promote`) collects the evidence, this module
decides, :mod:`nbprod.registry.promotion` publishes. Every check yields a
:class:`Reason` (pass/fail with a readable detail), and a candidate is promoted only
when every reason passes.

Compare-and-set. The alias is moved only if it still points where it did when the gate
started: the task reads it again right before deciding and moving it, and
:func:`alias_reason` fails the decision when it moved meanwhile (a ``nbprod promote
--version`` rollback during a retraining is not silently undone). MLflow's registry has
no atomic compare-and-set: the window left is the time between that read and the move
(milliseconds, against the minutes a gate takes).

Schema compatibility
--------------------
The prediction service accepts what the current champion's feature contract
describes, so a candidate is *compatible* with that contract when a request
valid for the champion is valid for the candidate:

1. it requires no column the champion's contract lacks (every contract column
   is required: :class:`nbprod.model.features.FeatureBuilder` refuses rows missing one);
   dropping a column is fine, extra request columns are ignored;
2. no shared column changed kind (numeric / categorical / datetime);
3. no shared column went from nullable to not nullable (requests with missing
   values there would start failing).

Categories and numeric ranges may change freely: unseen categories are treated
as missing and ranges are informative. With no champion yet, the contract must
be non-empty, have unique column names and every column's kind must be known.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, get_args

from nbprod.model.contract import FeatureContract, Kind

PROMOTED = "promoted"
REJECTED = "rejected"
KNOWN_KINDS = frozenset(get_args(Kind))

#: Order of the checks in a decision.
CHECKS = ("metric", "size", "memory", "latency", "schema")
#: The compare-and-set check, added to a decision only when the alias moved while the gate ran.
ALIAS_CHECK = "alias"
#: Why the size budget matters, said in every rejection for size: the case this project was born from.
LESSON = ("the lesson this project was born from: a model that was perfect in evaluation needed 4 GB where "
          "production allowed 200 MB")


@dataclass(frozen=True)
class Limits:
    """The deployment budget (``registry.budget`` in ``env.yaml``)."""

    max_size_mb: float
    max_memory_mb: float
    max_p99_ms: float


@dataclass(frozen=True)
class BudgetFigures:
    """What :func:`nbprod.registry.budget.measure` measured; ``None`` when it could not be measured.

    ``memory_at_least`` is true when the measuring process was stopped because
    it outgrew the safety cap: ``memory_mb`` is then a lower bound.
    """

    size_mb: float | None
    memory_mb: float | None
    p99_ms: float | None
    memory_at_least: bool = False
    error: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {**asdict(self), "details": dict(self.details)}


@dataclass(frozen=True)
class Reason:
    """One check of the gate.

    ``measured``/``limit``: the figure and its limit (budget checks), or the
    candidate's and the reference's metric value (metric check).
    """

    check: str
    passed: bool
    detail: str
    measured: float | None = None
    limit: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return asdict(self)


@dataclass(frozen=True)
class SchemaCheck:
    """The candidate's contract against the reference (the champion's, or none)."""

    reference: str  # "champion" or "none"
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    kind_changed: tuple[tuple[str, str, str], ...] = ()  # (column, champion kind, candidate kind)
    nullable_tightened: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def compatible(self) -> bool:
        """No problem found."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {
            "compatible": self.compatible,
            "reference": self.reference,
            "added": list(self.added),
            "removed": list(self.removed),
            "kind_changed": [{"column": c, "champion": a, "candidate": b} for c, a, b in self.kind_changed],
            "nullable_tightened": list(self.nullable_tightened),
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class Decision:
    """The gate's verdict with every reason."""

    reasons: tuple[Reason, ...]

    @property
    def promoted(self) -> bool:
        """Every check passed."""
        return bool(self.reasons) and all(reason.passed for reason in self.reasons)

    @property
    def decision(self) -> str:
        """``promoted`` or ``rejected``."""
        return PROMOTED if self.promoted else REJECTED

    @property
    def failed(self) -> list[Reason]:
        """The reasons that failed."""
        return [reason for reason in self.reasons if not reason.passed]

    def summary(self) -> str:
        """One line: the decision and the failed checks."""
        if self.promoted:
            return f"{PROMOTED}: all checks passed ({', '.join(r.check for r in self.reasons)})"
        return f"{REJECTED}: " + "; ".join(f"{r.check}: {r.detail}" for r in self.failed)


def schema_check(candidate: FeatureContract, champion: FeatureContract | None) -> SchemaCheck:
    """Check the candidate's contract against the champion's (see the module docstring)."""
    problems: list[str] = []
    names = candidate.names
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        problems.append(f"duplicated columns {duplicated}")
    unknown = [(c.name, c.kind) for c in candidate.columns if c.kind not in KNOWN_KINDS]
    if unknown:
        problems.append("unknown column kinds " + ", ".join(f"{n}: {k!r}" for n, k in unknown))
    if champion is None:
        if not candidate.columns:
            problems.append("the contract has no columns")
        return SchemaCheck("none", problems=tuple(problems))

    reference = {column.name: column for column in champion.columns}
    added = tuple(name for name in names if name not in reference)
    removed = tuple(name for name in champion.names if name not in set(names))
    kind_changed = tuple(
        (c.name, reference[c.name].kind, c.kind)
        for c in candidate.columns
        if c.name in reference and reference[c.name].kind != c.kind
    )
    tightened = tuple(
        c.name for c in candidate.columns
        if c.name in reference and reference[c.name].nullable and not c.nullable
    )
    if added:
        problems.append(f"requires columns the champion's contract lacks: {list(added)}")
    if kind_changed:
        problems.append("changed kind: " + ", ".join(f"{c} {a}->{b}" for c, a, b in kind_changed))
    if tightened:
        problems.append(f"no longer accepts missing values in: {list(tightened)}")
    if not candidate.columns:
        problems.append("the contract has no columns")
    return SchemaCheck("champion", added, removed, kind_changed, tightened, tuple(problems))


def improvement(candidate: float, reference: float, greater_is_better: bool) -> float:
    """How much better the candidate is (positive: better), in the metric's units."""
    return candidate - reference if greater_is_better else reference - candidate


def metric_reason(
    metric: str,
    candidate: float | None,
    reference: float | None,
    margin: float,
    greater_is_better: bool,
    reference_name: str,
) -> Reason:
    """Pass when the candidate beats the reference by more than ``margin``."""
    if candidate is None or reference is None or not all(map(math.isfinite, (candidate, reference))):
        return Reason("metric", False,
                      f"{metric} could not be compared: candidate {candidate}, {reference_name} {reference}",
                      candidate, reference)
    gain = improvement(candidate, reference, greater_is_better)
    passed = gain > margin
    direction = "higher" if greater_is_better else "lower"
    detail = (f"{metric} {candidate:.6g} vs {reference_name} {reference:.6g} ({direction} is better): "
              f"improvement {gain:+.6g} {'>' if passed else '<='} margin {margin:g}")
    return Reason("metric", passed, detail, candidate, reference)


def budget_reasons(figures: BudgetFigures, limits: Limits, advice: str | None = None) -> list[Reason]:
    """One reason per budget limit; an unmeasured figure fails; a failed size check carries :data:`LESSON`
    and, when given, the kind of model's ``advice`` (how to make it smaller)."""
    checks = (
        ("size", figures.size_mb, limits.max_size_mb, "MB", "serialized size"),
        ("memory", figures.memory_mb, limits.max_memory_mb, "MB", "peak memory (load + batch predict)"),
        ("latency", figures.p99_ms, limits.max_p99_ms, "ms", "single-row p99 latency"),
    )
    reasons = []
    for check, measured, limit, unit, label in checks:
        if measured is None or not math.isfinite(measured):
            why = figures.error or "not measured"
            reasons.append(Reason(check, False, f"{label}: could not be measured ({why})", None, limit))
            continue
        at_least = check == "memory" and figures.memory_at_least
        passed = measured <= limit and not at_least
        shown = f"{'>= ' if at_least else ''}{measured:.4g} {unit}"
        detail = f"{label} {shown} {'<=' if passed else '>'} limit {limit:g} {unit}"
        if check == "size" and not passed:
            detail += "; " + "; ".join(text for text in (LESSON, advice) if text)
        reasons.append(Reason(check, passed, detail, measured, limit))
    return reasons


def schema_reason(schema: SchemaCheck) -> Reason:
    """The schema check as a reason."""
    against = "the champion's contract" if schema.reference == "champion" else "first model: contract well-formed"
    if schema.compatible:
        extra = f" (drops {list(schema.removed)})" if schema.removed else ""
        return Reason("schema", True, f"compatible with {against}{extra}")
    return Reason("schema", False, f"incompatible with {against}: " + "; ".join(schema.problems))


def alias_reason(alias: str, started: str | None, current: str | None, candidate: str) -> Reason | None:
    """None when ``alias`` still points where it did when the gate started (``started``); else a failed
    reason naming both versions (the candidate is then not promoted: someone moved the alias on purpose)."""
    if current == started:
        return None

    def shown(version: str | None) -> str:
        return f"version {version}" if version is not None else "no version"

    return Reason(ALIAS_CHECK, False,
                  f"the alias {alias!r} moved from {shown(started)} to {shown(current)} while the gate ran "
                  f"(e.g. nbprod promote --version): version {candidate} is not promoted over it; gate it again "
                  "to compare it with the new champion")


def decide(metric: Reason, figures: BudgetFigures, limits: Limits, schema: SchemaCheck | None,
           alias: Reason | None = None, advice: str | None = None) -> Decision:
    """The gate: promote only when the metric, every budget limit and the schema pass, and the alias has not
    moved since the gate started (``alias``: :func:`alias_reason`). ``schema`` None: the kind of model has no
    feature contract (a recommender's request is a user id), so no schema check. ``advice``: see
    :func:`budget_reasons`."""
    reasons = (metric, *budget_reasons(figures, limits, advice), *(() if schema is None else (schema_reason(schema),)))
    return Decision(reasons + ((alias,) if alias is not None else ()))
