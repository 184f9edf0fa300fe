"""A realistic ``drift_history.json`` for the dashboard tests, made with the drift library.

Reference: the train split of a build; windows: weekly slices of its new split
(by the time column). Each window is compared column by column with
:mod:`nbprod.drift.profiles` and summarised as a :class:`nbprod.drift.results.DatasetDrift`
(whose ``to_dict()`` is what monitoring stores); the champion's quality on each
window is added when a scorer is given. Events: a check per window, a retraining
after the first drifting window (or the last one) and the gate's verdict. Events
name their window by its start, as monitoring does.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from nbprod.drift import profiles
from nbprod.drift.results import DatasetDrift

#: Evidently's default thresholds: distances drift above, p-values below.
THRESHOLDS = {"wasserstein": 0.1, "jensenshannon": 0.1, "psi": 0.1, "ks": 0.05, "chisquare": 0.05}
SETTINGS = profiles.Settings(small_sample_size=1000, discrete_max_unique=5, min_std=0.001, psi_eps=1e-4)
N_CELLS, PSI_BINS, DRIFT_SHARE = 2048, 10, 0.5


def dataset_drift(reference: pd.DataFrame, current: pd.DataFrame, columns: list[str]) -> DatasetDrift:
    """Compare ``current`` with ``reference`` on ``columns`` (numeric or categorical by dtype)."""
    results = []
    for column in columns:
        numeric = pd.api.types.is_numeric_dtype(reference[column]) and not pd.api.types.is_bool_dtype(reference[column])
        if numeric:
            profile = profiles.fit_numeric(reference[column], N_CELLS, PSI_BINS, SETTINGS)
            results.append(profiles.compare_numeric(column, profile, current[column], "auto", THRESHOLDS.__getitem__,
                                                    SETTINGS))
        else:
            profile = profiles.fit_categorical(reference[column].astype(object))
            results.append(profiles.compare_categorical(column, profile, current[column].astype(object), "auto",
                                                        THRESHOLDS.__getitem__, SETTINGS))
    counted = [r for r in results if r.counted]
    drifted = sum(1 for r in counted if r.drifted)
    share = drifted / len(counted) if counted else math.nan
    return DatasetDrift(tuple(results), len(counted), drifted, share, DRIFT_SHARE,
                        bool(share >= DRIFT_SHARE) if counted else None, len(reference), len(current))


def write_history(products: Path, path: Path, target: str, time_column: str, model_version: str,
                  score: Callable[[pd.DataFrame], float | None] | None = None, metric: str = "roc_auc",
                  reference_value: float | None = None, retrained_version: str | None = None,
                  retrained_decision: str = "rejected") -> dict:
    """Write the history for the build in ``products`` to ``path``; return it."""
    train_path = Path(products) / "data" / "train.parquet"
    reference = pd.read_parquet(train_path)
    new = pd.read_parquet(Path(products) / "data" / "new.parquet")
    columns = [c for c in reference.columns if c not in (target, time_column)]
    stamps = pd.to_datetime(new[time_column])
    start = stamps.min().normalize()
    windows, events = [], []
    first_drift = None
    while start <= stamps.max():
        end = start + pd.Timedelta(days=7)
        rows = new[(stamps >= start) & (stamps < end)]
        if len(rows):
            result = dataset_drift(reference, rows, columns)
            performance = None
            if score is not None:
                value = score(rows)
                if value is not None and np.isfinite(value):
                    performance = {"metric": metric, "value": float(value), "reference": reference_value}
            windows.append({"start": start.isoformat(), "end": end.isoformat(), "rows": int(len(rows)),
                            "model_version": model_version, "drift": result.to_dict(),
                            "performance": performance})
            if first_drift is None and result.drifted:
                first_drift = len(windows) - 1
            events.append({"time": (end + pd.Timedelta(hours=1)).isoformat(), "kind": "no_action",
                           "reason": f"{result.n_drifted} of {result.n_columns} features drifted",
                           "window": start.isoformat(), "run_id": None, "model_version": None})
        start = end
    acted = first_drift if first_drift is not None else len(windows) - 1
    window = windows[acted]
    drift = window["drift"]
    events[acted] = {"time": window["end"], "kind": "retrain",
                     "reason": f"{drift['n_drifted']} of {drift['n_columns']} features drifted "
                               f"(alarm at {DRIFT_SHARE:.0%})",
                     "window": window["start"], "run_id": None, "model_version": None}
    events.insert(acted + 1, {"time": window["end"], "kind": retrained_decision,
                              "reason": "the retrained model did not beat the champion on the holdout"
                              if retrained_decision == "rejected" else "the retrained model beat the champion",
                              "window": window["start"], "run_id": None, "model_version": retrained_version})
    history = {"reference": {"path": str(train_path), "rows": int(len(reference))},
               "windows": windows, "events": events}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(history, indent=1, allow_nan=False) + "\n")
    return history
