"""The gate's decision logic on measured figures, and the budget measurement itself."""

from __future__ import annotations

import dataclasses
import math

import pytest

from nbprod.model.contract import ColumnSpec, FeatureContract
from nbprod.registry import budget, gate

from .conftest import TARGET

GENEROUS = gate.Limits(max_size_mb=200, max_memory_mb=1024, max_p99_ms=1000)
PASSING_METRIC = gate.metric_reason("roc_auc", 0.9, 0.5, 0.0, True, "naive baseline")


def contract(*columns: tuple[str, str, bool]) -> FeatureContract:
    return FeatureContract(tuple(ColumnSpec(name, kind, nullable) for name, kind, nullable in columns))


def test_measured_figures_are_real(measured):
    assert measured.error is None
    assert 0 < measured.size_mb < 50
    assert measured.details["size_bytes"] > 0
    assert measured.details["model_file_mb"] and measured.details["model_file_mb"] <= measured.size_mb
    assert measured.memory_mb is not None and measured.memory_mb >= 0 and not measured.memory_at_least
    assert measured.p99_ms is not None and measured.p99_ms > 0
    assert measured.details["latency_calls"] == 200
    rounds = measured.details["latency_rounds_p99_ms"]  # noise only adds latency: the best round is reported
    assert len(rounds) == 3 and measured.p99_ms == min(rounds)
    assert measured.details["p50_ms"] <= measured.p99_ms <= measured.details["max_ms"]
    assert "VmHWM" in measured.details["memory_method"] or "ru_maxrss" in measured.details["memory_method"]


def test_accepts_within_budget(measured):
    schema = gate.schema_check(contract(("a", "numeric", True)), None)
    decision = gate.decide(PASSING_METRIC, measured, GENEROUS, schema)
    assert decision.promoted and decision.decision == "promoted"
    assert [r.check for r in decision.reasons] == list(gate.CHECKS)


@pytest.mark.parametrize("check, field, figure", [
    ("size", "max_size_mb", "size_mb"),
    ("memory", "max_memory_mb", "memory_mb"),
    ("latency", "max_p99_ms", "p99_ms"),
])
def test_rejects_each_budget_limit_separately(measured, check, field, figure):
    value = getattr(measured, figure)
    assert value > 0
    limits = dataclasses.replace(GENEROUS, **{field: value * 0.5})
    schema = gate.schema_check(contract(("a", "numeric", True)), None)
    decision = gate.decide(PASSING_METRIC, measured, limits, schema)
    assert decision.decision == "rejected"
    assert [r.check for r in decision.failed] == [check]
    failed = decision.failed[0]
    assert failed.measured == value and failed.limit == value * 0.5
    assert "> limit" in failed.detail
    assert (gate.LESSON in failed.detail) == (check == "size")  # the seed's lesson, said by the one gate


def test_unmeasured_figures_fail():
    figures = gate.BudgetFigures(size_mb=1.0, memory_mb=None, p99_ms=None,
                                 error="stopped: measurement took longer than 1 s")
    decision = gate.decide(PASSING_METRIC, figures, GENEROUS, gate.schema_check(contract(("a", "numeric", True)), None))
    assert {r.check for r in decision.failed} == {"memory", "latency"}
    assert all("took longer" in r.detail for r in decision.failed)


def test_memory_lower_bound_fails_even_under_the_limit():
    figures = gate.BudgetFigures(size_mb=1.0, memory_mb=300.0, p99_ms=None, memory_at_least=True,
                                 error="stopped: the model's memory exceeded the safety cap of 256 MB")
    reasons = {r.check: r for r in gate.budget_reasons(figures, GENEROUS)}
    assert not reasons["memory"].passed and ">= 300" in reasons["memory"].detail


@pytest.mark.parametrize("candidate, reference, greater, margin, passed", [
    (0.80, 0.75, True, 0.0, True),
    (0.75, 0.75, True, 0.0, False),       # a tie does not promote
    (0.78, 0.75, True, 0.05, False),      # not by more than the margin
    (0.70, 0.75, True, 0.0, False),
    (10.0, 12.0, False, 1.0, True),       # rmse: lower is better
    (12.5, 12.0, False, 0.0, False),
    (math.nan, 0.5, True, 0.0, False),
])
def test_metric_reason(candidate, reference, greater, margin, passed):
    reason = gate.metric_reason("m", candidate, reference, margin, greater, "champion v1")
    assert reason.passed is passed
    assert reason.check == "metric"


def test_schema_first_model():
    assert gate.schema_check(contract(("a", "numeric", False), ("b", "categorical", True)), None).compatible
    empty = gate.schema_check(FeatureContract(), None)
    assert not empty.compatible and "no columns" in empty.problems[0]
    unknown = gate.schema_check(contract(("a", "text", False)), None)
    assert not unknown.compatible and "unknown column kinds" in unknown.problems[0]


def test_schema_against_champion():
    champion = contract(("a", "numeric", True), ("b", "categorical", False), ("c", "datetime", False))
    dropped = gate.schema_check(contract(("a", "numeric", True), ("b", "categorical", True)), champion)
    assert dropped.compatible and dropped.removed == ("c",)

    added = gate.schema_check(contract(("a", "numeric", True), ("z", "numeric", True)), champion)
    assert not added.compatible and added.added == ("z",)

    kind = gate.schema_check(contract(("a", "categorical", True)), champion)
    assert not kind.compatible and kind.kind_changed == (("a", "numeric", "categorical"),)

    tightened = gate.schema_check(contract(("a", "numeric", False)), champion)
    assert not tightened.compatible and tightened.nullable_tightened == ("a",)

    reason = gate.schema_reason(added)
    assert not reason.passed and "'z'" in reason.detail


def test_schema_of_real_models(good, weak, needs_extra):
    from nbprod.model.features import feature_contract

    champion = feature_contract(good.model)
    assert gate.schema_check(feature_contract(weak.model), champion).compatible
    check = gate.schema_check(feature_contract(needs_extra.model), champion)
    assert not check.compatible and check.added == ("extra",)


def test_probe_is_time_boxed_and_memory_capped(good, frames, tmp_path):
    import mlflow.artifacts

    model_dir = mlflow.artifacts.download_artifacts(artifact_uri=good.model_uri, dst_path=str(tmp_path))
    rows = frames[1].drop(columns=[TARGET])
    timed_out = budget.measure(model_dir, rows, "classification", calls=10, timeout_s=0.3)
    assert timed_out.p99_ms is None and "longer than" in timed_out.error
    capped = budget.measure(model_dir, rows, "classification", calls=2000, timeout_s=60, cap_mb=0.01)
    assert capped.memory_at_least and capped.memory_mb > 0.01 and "safety cap" in capped.error
    decision = gate.budget_reasons(capped, GENEROUS)
    assert not {r.check: r for r in decision}["memory"].passed


def test_reasons_tag_stays_valid_json():
    import json

    from nbprod.registry.client import MAX_TAG_CHARS
    from nbprod.registry.promotion import reasons_tag

    reasons = [gate.Reason(check, False, "x" * 4000) for check in gate.CHECKS]
    text = reasons_tag(reasons)
    assert len(text) <= MAX_TAG_CHARS
    assert [r["check"] for r in json.loads(text)] == list(gate.CHECKS)


FIGURES = gate.BudgetFigures(size_mb=1.0, memory_mb=50.0, p99_ms=2.0)  # in memory: no model, no MLflow


def test_the_alias_still_where_it_was_adds_no_check_and_a_moved_alias_refuses_naming_both_versions():
    schema = gate.schema_check(contract(("a", "numeric", True)), None)
    unchanged = gate.decide(PASSING_METRIC, FIGURES, GENEROUS, schema, gate.alias_reason("champion", "2", "2", "3"))
    assert unchanged.promoted and [r.check for r in unchanged.reasons] == list(gate.CHECKS)

    moved = gate.decide(PASSING_METRIC, FIGURES, GENEROUS, schema, gate.alias_reason("champion", "2", "1", "3"))
    assert moved.decision == "rejected" and [r.check for r in moved.failed] == [gate.ALIAS_CHECK]
    assert ("the alias 'champion' moved from version 2 to version 1 while the gate ran" in moved.summary()
            and "version 3 is not promoted" in moved.summary())
    first = gate.alias_reason("champion", None, "1", "2")  # a first champion set by hand while the gate ran
    assert "moved from no version to version 1" in first.detail
