"""Ranking metrics at k, for known and cold-start users, against the popularity baseline.

For each user of the test period the relevant items are those they interacted with there and
not before (:func:`nbprod.recommender.split.relevant_items`). Per user, at k:

- precision: relevant items among the k recommended / k;
- recall: relevant items among the k / relevant items (at most k count: ``min(k, |relevant|)``);
- NDCG: discounted gain of the hits (1 / log2(rank + 1)) over the best possible;
- MAP: the mean of the precisions at each hit's rank, over ``min(k, |relevant|)``.

Averaged over the users of each group (``known``, ``cold``, ``all``), with two catalogue figures:
coverage (distinct items recommended / items of the history) and popularity bias (the mean
popularity percentile, in the history, of the items recommended: 1.0 is only the most popular).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from nbprod.io import beside, relative_within
from nbprod.recommender import split

#: The per-user metrics, in report order.
METRICS = ("precision", "recall", "ndcg", "map")
#: The groups of test users.
GROUPS = (split.KNOWN, split.COLD, "all")


def user_metrics(recommended: Sequence[str], relevant: set[str], k: int) -> dict[str, float]:
    """Precision, recall, NDCG and MAP at ``k`` of one user's list (see the module docstring)."""
    hits = [item in relevant for item in list(recommended)[:k]]
    possible = min(k, len(relevant))
    if possible == 0:
        return {name: 0.0 for name in METRICS}
    dcg = sum(1.0 / math.log2(rank + 2) for rank, hit in enumerate(hits) if hit)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(possible))
    found, precisions = 0, []
    for rank, hit in enumerate(hits):
        if hit:
            found += 1
            precisions.append(found / (rank + 1))
    return {"precision": sum(hits) / k, "recall": sum(hits) / possible, "ndcg": dcg / ideal,
            "map": sum(precisions) / possible}


def popularity_percentiles(history: pd.DataFrame) -> pd.Series:
    """Each item's popularity percentile in ``history`` (distinct users; 1.0 the most popular)."""
    return history.groupby("item")["user"].nunique().rank(pct=True, method="average")


def catalogue_figures(lists: Iterable[Sequence[str]], percentiles: pd.Series) -> dict[str, float]:
    """Coverage and popularity bias of a set of recommendation lists."""
    items = [item for items in lists for item in items]
    coverage = len(set(items)) / max(len(percentiles), 1)
    bias = float(percentiles.reindex(items).fillna(0.0).mean()) if items else 0.0
    return {"coverage": coverage, "popularity_bias": bias}


def recommend_all(model: Any, users: Iterable[str], k: int, segments: Mapping[str, Any]) -> pd.DataFrame:
    """One row per user: their ``items`` and the ``path`` that chose them."""
    rows = []
    for user in users:
        found = model.recommend(user, k=k, exclude_seen=True, segment=segments.get(user))
        rows.append({"user": user, "items": found.items, "path": found.path})
    return pd.DataFrame(rows, columns=["user", "items", "path"])


def evaluate(model: Any, history: pd.DataFrame, test: pd.DataFrame, k: int,
             segment: str | None = None) -> dict[str, Any]:
    """Each group's metrics at ``k``, user counts, catalogue figures and paths.

    ``segment``: the user attribute a cold-start user's segment is read from (their first test
    interactions carry it: a profile attribute, known when they arrive).
    """
    from nbprod.recommender.data import user_segments

    relevant = split.relevant_items(history, test)
    status = split.user_status(history, test).reindex(list(relevant))
    lists = recommend_all(model, list(relevant), k, user_segments(test, segment).to_dict())
    percentiles = popularity_percentiles(history)
    scored = pd.DataFrame([user_metrics(items, relevant[user], k) for user, items in zip(lists["user"], lists["items"])],
                          columns=list(METRICS))
    scored["status"], scored["path"] = status.to_numpy(), lists["path"].to_numpy()
    result: dict[str, Any] = {"k": k, "groups": {}}
    for group in GROUPS:
        chosen = scored if group == "all" else scored[scored["status"] == group]
        picked = lists[(scored["status"] == group).to_numpy()] if group != "all" else lists
        result["groups"][group] = {
            "users": int(len(chosen)),
            **{f"{name}@{k}": float(chosen[name].mean()) if len(chosen) else None for name in METRICS},
            **catalogue_figures(picked["items"], percentiles),
            "paths": {str(path): int(count) for path, count in chosen["path"].value_counts().items()},
        }
    return result


def against_baseline(results: Mapping[str, Mapping[str, Any]], baseline: str) -> pd.DataFrame:
    """A table of every candidate's metrics per group, with the difference to the ``baseline``'s."""
    rows = []
    for name, result in results.items():
        for group, figures in result["groups"].items():
            reference = results[baseline]["groups"][group]
            row = {"candidate": name, "group": group, "users": figures["users"]}
            for key, value in figures.items():
                if key in ("users", "paths"):
                    continue
                row[key] = value
                if value is not None and reference.get(key) is not None:
                    row[f"{key} vs baseline"] = value - reference[key]
            rows.append(row)
    return pd.DataFrame(rows)


def metric_value(result: Mapping[str, Any], metric: str, group: str = "all") -> float | None:
    """One figure (e.g. ``ndcg@10``) of one group of an :func:`evaluate` result."""
    value = result["groups"][group].get(metric)
    return None if value is None or not np.isfinite(value) else float(value)


def choose_best(index: Mapping[str, Mapping[str, Any]], metric: str) -> str:
    """The candidate with the best validation ``metric`` over all users (ties: the first)."""
    return max(index, key=lambda name: metric_value(index[name]["valid"], metric) or 0.0)


def document(k: int, metric: str, segment: str | None, index: Mapping[str, Mapping[str, Any]],
             results: Mapping[str, Mapping[str, Any]], baseline: Mapping[str, Any], history: str,
             test: str, record_file: str | None = None) -> dict[str, Any]:
    """``evaluation.json``: every candidate's test results, the baseline's, the best candidate (chosen on
    validation, not on the test) and where the holdout is (what the gate scores again): relative to the folder
    of ``record_file`` (the document's own file) when in it, so that the document holds wherever its folder moves
    (a worker builds in a folder of its own); read back with :func:`holdout_files`."""
    return {
        "kind": "recommender", "k": k, "metric": metric, "segment": segment, "best": choose_best(index, metric),
        "candidates": {name: {"model_uri": entry["model_uri"], "run_id": entry["run_id"], "kind": entry["kind"],
                              "params": entry["params"], "metrics": results[name]}
                       for name, entry in index.items()},
        "baseline": {"name": "popularity (global top)", "metrics": baseline},
        "holdout": {"history": relative_within(history, record_file), "test": relative_within(test, record_file)},
    }


def holdout_files(evaluation: Mapping[str, Any], evaluation_file: str | Path) -> dict[str, str]:
    """The holdout's files as ``evaluation.json`` (read from ``evaluation_file``) names them, as paths: each
    relative to its folder, or whole (as an older nbprod wrote them)."""
    return {key: str(beside(evaluation_file, value)) for key, value in evaluation["holdout"].items()}


def known_users(history: pd.DataFrame, test: pd.DataFrame, count: int = 5) -> list[str]:
    """The first ``count`` users of the test that the history knows."""
    seen = set(history["user"])
    return [user for user in pd.unique(test["user"]) if user in seen][:count]


def examples(model: Any, history: pd.DataFrame, test: pd.DataFrame, users: Sequence[str], k: int,
             label: str | None = None, shown: int = 5) -> pd.DataFrame:
    """For a few users: their last items in the history, the recommendations (with the path) and hits."""
    from nbprod.recommender.split import relevant_items

    names = (history.drop_duplicates("item").set_index("item")[label].astype(str).to_dict()
             if label and label in history.columns else {})
    relevant = relevant_items(history, test)
    rows = []
    for user in users:
        found = model.recommend(user, k=k)
        past = history[history["user"] == user].tail(shown)["item"].tolist()
        hits = [item for item in found.items if item in relevant.get(user, set())]
        rows.append({"user": user, "history (last)": "; ".join(names.get(i, i) for i in past) or "-",
                     "path": found.path, "recommended": "; ".join(names.get(i, i) for i in found.items[:shown]),
                     f"hits@{k}": len(hits)})
    return pd.DataFrame(rows)


def log_test_metrics(document: Mapping[str, Any]) -> None:
    """Tag the best candidate on the active run and log its test figures (``test.<group>.<metric>``)."""
    import mlflow

    from nbprod.tracking.tags import BEST

    best = document["best"]
    mlflow.set_tag(BEST, best)
    mlflow.log_metrics({f"test.{group}.{key.replace('@', '_at_')}": float(value)
                        for group, figures in document["candidates"][best]["metrics"]["groups"].items()
                        for key, value in figures.items() if isinstance(value, (int, float))})
