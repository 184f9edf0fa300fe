"""The settings of a recommender project (``kind: recommender`` in ``env.yaml``).

Its own ``data``, ``split``, ``train``, ``evaluate`` and ``fallback`` sections; the sections
every project shares (``tracking``, ``registry``, ``serve``, ``alerts``, ``engine``) are the tabular
project's own entries of :data:`nbprod.settings.SCHEMA`, not copies. The recommender's own values and
defaults live in the recommender template's ``env.yaml``; the shared sections' defaults are the reference
(tabular) ``env.yaml``'s, so a recommender ``env.yaml`` lists only what it changes there
(:func:`nbprod.settings.with_defaults`).
"""

from __future__ import annotations

from typing import Any, Callable

#: The recommender project's own sections (the shared ones are added by :func:`schema`).
OWN_SCHEMA: dict[str, Any] = {
    "kind": str,
    "products": str,
    "reports": str,
    "sample_frac": (int, float),
    "seed": int,
    "data": {
        "source": str,
        "user": str,
        "item": str,
        "time": str,
        "weight": (str, type(None)),
        "user_attributes": list,
        "item_attributes": list,
    },
    "split": {
        "valid_start": (str, type(None)),
        "test_start": (str, type(None)),
        "valid_quantile": float,
        "test_quantile": float,
    },
    "train": {"n_jobs": int, "threads": int, "candidates": list},
    "evaluate": {"k": int, "metric": str},
    "fallback": {"segment": (str, type(None)), "min_segment_users": int, "min_item_interactions": int},
    "monitor": {"reports": str, "window": str, "horizon": str, "min_rows": int, "trigger_k": int, "trigger_n": int,
                "retrain": bool, "popularity_drift": (int, float, type(None)),
                "new_item_share": (int, float, type(None)), "cold_start_share": (int, float, type(None)),
                "performance_floor": (int, float, type(None))},
}
#: The sections shared with the tabular project.
SHARED = ("tracking", "registry", "serve", "alerts", "engine")
#: The shared sections the template's ``env.yaml`` leaves out on purpose: their defaults are used without a notice.
IMPLICIT = ("serve", "alerts", "engine")

CHOICES = {("evaluate", "metric"): ("precision", "recall", "ndcg", "map")}

LIMITS: dict[tuple[str, ...], tuple[Callable[[Any], bool], str]] = {
    ("split", "valid_quantile"): (lambda value: 0 < value < 1, "in (0, 1)"),
    ("split", "test_quantile"): (lambda value: 0 < value < 1, "in (0, 1)"),
    ("train", "threads"): (lambda value: value >= 1, "at least 1"),
    ("evaluate", "k"): (lambda value: 1 <= value <= 500, "between 1 and 500 (the fallback keeps 500 items)"),
    ("fallback", "min_segment_users"): (lambda value: value >= 1, "at least 1"),
    ("fallback", "min_item_interactions"): (lambda value: value >= 1, "at least 1"),
    ("monitor", "min_rows"): (lambda value: value >= 1, "at least 1"),
    ("monitor", "trigger_k"): (lambda value: value >= 1, "at least 1"),
    ("monitor", "trigger_n"): (lambda value: value >= 1, "at least 1"),
}


def schema(shared: dict[str, Any]) -> dict[str, Any]:
    """The whole schema: :data:`OWN_SCHEMA` and the ``shared`` (tabular) schema's :data:`SHARED` sections."""
    return {**OWN_SCHEMA, **{name: shared[name] for name in SHARED}}
