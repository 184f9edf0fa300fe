"""The one gate with the recommender's evidence (:mod:`nbprod.recommender.promote`): the decision alone, and a
model over the size budget in the real MLflow store of this folder's ``store`` fixture."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from nbprod.recommender import evaluation, probe, promote, split, training
from nbprod.recommender.estimator import Recommender
from nbprod.recommender.models import Candidate
from nbprod.registry import budget, gate

LIMITS = gate.Limits(max_size_mb=8.0, max_memory_mb=1024.0, max_p99_ms=100.0)


def catalogue_interactions(users: int = 300, items: int = 1600, per_user: int = 12, seed: int = 0) -> pd.DataFrame:
    """A wide catalogue: every item is seen, users arrive one an hour."""
    random = np.random.default_rng(seed)
    picks = [random.choice(items, size=per_user, replace=False) for _ in range(users)]
    picks[0] = np.arange(items)  # one user has seen the whole catalogue: every item is in the history
    return pd.DataFrame([{"user": f"u{user}", "item": f"i{item}", "weight": 1.0,
                          "time": pd.Timestamp("2021-01-01") + pd.Timedelta(hours=user, minutes=rank % 60)}
                         for user, chosen in enumerate(picks) for rank, item in enumerate(chosen)])


def test_a_failed_size_check_carries_the_lesson_and_every_check_must_pass():
    passed = gate.Reason("metric", True, "ndcg@10 better")
    fits = gate.BudgetFigures(1.0, 10.0, 1.0)
    assert gate.decide(passed, fits, LIMITS, None, advice=promote.ADVICE).promoted
    too_big = gate.BudgetFigures(4096.0, None, None, error=budget.NOT_LOADED)
    decision = gate.decide(passed, too_big, LIMITS, None, advice=promote.ADVICE)
    assert not decision.promoted
    assert [reason.check for reason in decision.reasons] == ["metric", "size", "memory", "latency"]
    size = next(reason for reason in decision.reasons if reason.check == "size")
    assert "4 GB where production allowed 200 MB" in size.detail and "4096 MB > limit 8 MB" in size.detail
    assert promote.ADVICE in size.detail
    assert not gate.decide(gate.Reason("metric", False, "worse"), fits, LIMITS, None).promoted


def test_a_dense_item_item_matrix_on_the_full_catalogue_is_rejected_for_size_without_being_loaded(store, tmp_path):
    from nbprod import tracking
    from nbprod.registry.client import Registry

    frame = catalogue_interactions()
    at = split.cuts(frame, None, None, 0.6, 0.8)
    parts = split.split_frame(frame, at)
    history = pd.concat([parts["train"], parts["valid"]], ignore_index=True)
    history.to_parquet(tmp_path / "history.parquet")
    parts["test"].to_parquet(tmp_path / "test.parquet")
    index, results = {}, {}
    with tracking.task_run("train"):
        for candidate in (Candidate("dense", "item_knn", {"neighbours": None}),
                          Candidate("sparse", "item_knn", {"neighbours": 20})):
            model = Recommender(candidate.kind, dict(candidate.params)).fit(history)
            results[candidate.name] = evaluation.evaluate(model, history, parts["test"], 10)
            index[candidate.name] = {"kind": candidate.kind, "params": dict(candidate.params),
                                     "valid": {**results[candidate.name],
                                               "groups": {"all": {"ndcg@10": 1.0 if candidate.name == "dense" else 0.0}}},
                                     **training.log_candidate(model, candidate, results[candidate.name])}
    document = evaluation.document(10, "ndcg@10", None, index, results, promote.baseline_result(history, parts["test"], 10),
                                   str(tmp_path / "history.parquet"), str(tmp_path / "test.parquet"))
    assert document["best"] == "dense"  # it looked perfect in evaluation
    (tmp_path / "evaluation.json").write_text(json.dumps(document))

    evidence = promote.run_gate(tmp_path / "evaluation.json", tmp_path / "promotion.json", tmp_path / "promotion.html",
                                model_name="dense-recommender", alias="champion", margin=0.0, limits=LIMITS)

    assert evidence["decision"] == gate.REJECTED
    size = next(reason for reason in evidence["reasons"] if reason["check"] == "size")
    assert not size["passed"] and size["measured"] > LIMITS.max_size_mb
    assert gate.LESSON in size["detail"] and promote.ADVICE in size["detail"]
    assert evidence["budget"]["error"] == budget.NOT_LOADED and evidence["budget"]["memory_mb"]["measured"] is None
    assert Registry("dense-recommender").alias_version("champion") is None
    assert "4 GB where production allowed 200 MB" in (tmp_path / "promotion.html").read_text()
    registry = Registry("dense-recommender")
    with tempfile.TemporaryDirectory() as folder:
        sparse = registry.download(registry.register(index["sparse"]["model_uri"], index["sparse"]["run_id"], {}),
                                   Path(folder))
        figures = budget.measure(sparse, promote.probe_users(parts["test"], None), probe.task(10), calls=60,
                                 skip_over_mb=LIMITS.max_size_mb)  # the sparse neighbours fit the same budget
    assert figures.error is None and figures.size_mb <= LIMITS.max_size_mb
    assert figures.memory_mb is not None and figures.memory_mb >= 0 and not figures.memory_at_least
    assert figures.p99_ms is not None and figures.details["k"] == 10 and figures.details["latency_calls"] == 60
    assert figures.details["batch_users"] == parts["test"]["user"].nunique()


def test_the_gate_and_the_dashboards_examples_read_the_holdout_beside_a_moved_evaluation_json(store, tmp_path):
    """The evaluate task names the holdout relative to ``evaluation.json``: built in one folder (a Dask worker's),
    the products fetched into another, both readers find the files there."""
    import shutil

    from nbprod import tracking
    from nbprod.recommender import dashboards

    frame = catalogue_interactions(users=60, items=80)
    parts = split.split_frame(frame, split.cuts(frame, None, None, 0.6, 0.8))
    built, fetched = tmp_path / "worker" / "products", tmp_path / "project" / "products"
    (built / "data").mkdir(parents=True)
    history = pd.concat([parts["train"], parts["valid"]], ignore_index=True)
    history.to_parquet(built / "data" / "history.parquet")
    parts["test"].to_parquet(built / "data" / "test.parquet")
    candidate = Candidate("popular", "popularity", {})
    model = Recommender("popularity").fit(history)
    results = {"popular": evaluation.evaluate(model, history, parts["test"], 10)}
    with tracking.task_run("train"):
        index = {"popular": {"kind": "popularity", "params": {}, "valid": results["popular"],
                             **training.log_candidate(model, candidate, results["popular"])}}
    document = evaluation.document(10, "ndcg@10", None, index, results, promote.baseline_result(history, parts["test"], 10),
                                   str(built / "data" / "history.parquet"), str(built / "data" / "test.parquet"),
                                   record_file=str(built / "evaluation.json"))
    (built / "evaluation.json").write_text(json.dumps(document))
    shutil.copytree(built, fetched)
    shutil.rmtree(built)

    evidence = promote.run_gate(fetched / "evaluation.json", tmp_path / "promotion.json", tmp_path / "promotion.html",
                                model_name="moved-recommender", alias="champion", margin=-1.0, limits=gate.Limits(
                                    max_size_mb=1024.0, max_memory_mb=4096.0, max_p99_ms=10000.0))
    assert evidence["decision"] == gate.PROMOTED  # scored on the holdout found beside the moved evaluation.json
    shown = dashboards.examples(document, evaluation_file=fetched / "evaluation.json")
    assert len(shown) > 0
