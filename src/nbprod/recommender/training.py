"""Fitting the grid of candidates, choosing each family's best on validation, logging them to MLflow."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import pandas as pd

from nbprod.recommender import evaluation
from nbprod.recommender.estimator import Recommender
from nbprod.recommender.models import Candidate


def family(name: str) -> str:
    """The grid entry a candidate comes from: ``als[factors=32]`` -> ``als``."""
    return name.split("[", 1)[0]


def make_recommender(candidate: Candidate, fallback: Mapping[str, Any], threads: int, seed: int) -> Recommender:
    """An unfitted estimator for ``candidate`` with the fallback settings (``segment``, ``min_segment_users``,
    ``min_item_interactions``)."""
    return Recommender(candidate.kind, dict(candidate.params), fallback.get("segment"),
                       int(fallback.get("min_segment_users", 20)), int(fallback.get("min_item_interactions", 1)),
                       threads, seed)


def fit_and_score(candidate: Candidate, train: pd.DataFrame, valid: pd.DataFrame, k: int,
                  fallback: Mapping[str, Any], threads: int, seed: int) -> tuple[Recommender, dict[str, Any]]:
    """Fit one candidate on ``train`` and evaluate it on ``valid``."""
    model = make_recommender(candidate, fallback, threads, seed).fit(train)
    return model, evaluation.evaluate(model, train, valid, k, fallback.get("segment"))


def fit_grid(candidates: Sequence[Candidate], train: pd.DataFrame, valid: pd.DataFrame, k: int,
             fallback: Mapping[str, Any], threads: int = 1, seed: int = 0,
             n_jobs: int = 1) -> dict[str, dict[str, Any]]:
    """Every candidate fitted on ``train`` and scored on ``valid``, ``n_jobs`` at a time (threads:
    numpy, scipy and ``implicit`` release the GIL); name -> its validation result."""
    from joblib import Parallel, delayed

    done = Parallel(n_jobs=n_jobs, prefer="threads")(
        delayed(fit_and_score)(candidate, train, valid, k, fallback, threads, seed) for candidate in candidates)
    return {candidate.name: result for candidate, (_, result) in zip(candidates, done)}


def best_per_family(candidates: Sequence[Candidate], results: Mapping[str, Mapping[str, Any]],
                    metric: str) -> dict[str, Candidate]:
    """Each grid entry's best candidate by ``metric`` over all validation users (ties: the first)."""
    best: dict[str, Candidate] = {}
    for candidate in candidates:
        score = evaluation.metric_value(results[candidate.name], metric) or 0.0
        current = best.get(family(candidate.name))
        if current is None or score > (evaluation.metric_value(results[current.name], metric) or 0.0):
            best[family(candidate.name)] = candidate
    return best


def validation_table(results: Mapping[str, Mapping[str, Any]], k: int) -> pd.DataFrame:
    """Candidates as rows: users and every metric of the ``all``, ``known`` and ``cold`` groups."""
    rows = {}
    for name, result in results.items():
        row: dict[str, Any] = {}
        for group in evaluation.GROUPS:
            figures = result["groups"][group]
            row.update({f"{group} {key}": value for key, value in figures.items() if key != "paths"})
        rows[name] = row
    return pd.DataFrame(rows).T.rename_axis("candidate")


def log_candidate(model: Recommender, candidate: Candidate, result: Mapping[str, Any]) -> dict[str, str]:
    """Log one refitted candidate (params, validation metrics, the pyfunc model) as a candidate run."""
    import mlflow

    from nbprod import tracking
    from nbprod.recommender import pyfunc
    from nbprod.tracking.tags import KIND

    with tracking.candidate_run(candidate.name, **{KIND: candidate.kind}) as run:
        mlflow.log_params({"kind": candidate.kind, **candidate.params, "segment": model.segment})
        mlflow.log_metrics({f"valid.{group}.{key.replace('@', '_at_')}": float(value)
                            for group, figures in result["groups"].items() for key, value in figures.items()
                            if isinstance(value, (int, float))})
        mlflow.log_metric("footprint_mb", model.footprint_bytes() / 2**20)
        model_uri = pyfunc.log_model(model)
    return {"run_id": run.info.run_id, "model_uri": model_uri}


def refit_and_log(chosen: Mapping[str, Candidate], history: pd.DataFrame, results: Mapping[str, Mapping[str, Any]],
                  fallback: Mapping[str, Any], threads: int = 1, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Each family's chosen candidate fitted again on the whole ``history`` and logged (inside the active task
    run); the index ``candidates.json`` holds: name -> family, kind, params, validation result, footprint,
    run id and model URI."""
    index = {}
    for name, candidate in chosen.items():
        model = make_recommender(candidate, fallback, threads, seed).fit(history)
        index[candidate.name] = {"family": name, "kind": candidate.kind, "params": dict(candidate.params),
                                 "valid": results[candidate.name], "footprint_mb": model.footprint_bytes() / 2**20,
                                 **log_candidate(model, candidate, results[candidate.name])}
    return index
