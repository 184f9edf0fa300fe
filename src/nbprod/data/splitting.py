"""Target rules and the train / validation / test / new-data split."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from nbprod.data.times import cut_stamp, read_times

SPLITS = ("train", "valid", "test", "new")


def apply_target_rule(frame: pd.DataFrame, target: str, task: str, missing_target: str) -> pd.DataFrame:
    """Rows with a missing target are dropped, or (classification, ``positive``) labelled 1."""
    missing = frame[target].isna()
    if missing_target == "positive" and task == "classification":
        frame = frame.assign(**{target: frame[target].where(~missing, 1)})
    else:
        frame = frame[~missing]
    if task == "classification":
        frame = frame.assign(**{target: frame[target].astype("int64")})
    return frame


def time_split(
    frame: pd.DataFrame, time_column: str, valid_start: str | int, test_start: str | int, new_start: str | int
) -> dict[str, pd.DataFrame]:
    """Split by time: [.., valid) train, [valid, test) validation, [test, new) test, [new, ..) new.

    The column holds datetimes, dates as text or integer periods (see
    :func:`nbprod.data.times.read_times`); against periods the cuts may be periods
    too (``2012``, ``"201309"``). Rows without a time are left out.
    """
    if time_column not in frame.columns:
        raise ValueError(f"data.time_column {time_column!r} is not a column of the data")
    times = read_times(frame[time_column], time_column)
    names = ("split.valid_start", "split.test_start", "split.new_start")
    cuts = [cut_stamp(value, times.period, name) for value, name in zip((valid_start, test_start, new_start), names)]
    if not cuts[0] < cuts[1] < cuts[2]:
        raise ValueError(f"split dates must increase: valid_start {valid_start} < test_start {test_start} "
                         f"< new_start {new_start}")
    stamps = times.stamps.to_numpy(dtype="datetime64[ns]")
    bins = np.searchsorted(np.array(cuts, dtype="datetime64[ns]"), stamps, side="right")
    bins[np.isnat(stamps)] = -1
    order = np.argsort(stamps, kind="stable")
    ordered, ordered_bins = frame.iloc[order], bins[order]
    return {name: ordered[ordered_bins == index] for index, name in enumerate(SPLITS)}


def random_split(frame: pd.DataFrame, valid_frac: float, test_frac: float, seed: int) -> dict[str, pd.DataFrame]:
    """Split at random; there is no "new" data without a time column (it stays empty)."""
    if not (0 < valid_frac < 1 and 0 < test_frac < 1 and valid_frac + test_frac < 1):
        raise ValueError(f"split fractions must be in (0, 1) and sum below 1: {valid_frac}, {test_frac}")
    order = np.random.default_rng(seed).permutation(len(frame))
    n_valid, n_test = int(len(frame) * valid_frac), int(len(frame) * test_frac)
    parts = np.split(order, [len(frame) - n_valid - n_test, len(frame) - n_test])
    result = {name: frame.iloc[np.sort(index)] for name, index in zip(SPLITS, parts)}
    result["new"] = frame.iloc[:0]
    return result


def split_table(
    frame: pd.DataFrame, time_column: str | None, split: Mapping, seed: int
) -> dict[str, pd.DataFrame]:
    """Split by time when there is a time column, else at random."""
    if time_column:
        return time_split(frame, time_column, split["valid_start"], split["test_start"], split["new_start"])
    return random_split(frame, split["valid_frac"], split["test_frac"], seed)


def check_splits(parts: Mapping[str, pd.DataFrame], target: str, task: str) -> None:
    """Fail clearly when a split is empty or the training target has a single class."""
    for name in ("train", "valid", "test"):
        if parts[name].empty:
            raise ValueError(f"the {name} split is empty: check the split settings against the data's dates")
    if task == "classification":
        classes = sorted(parts["train"][target].unique().tolist())
        if len(classes) < 2:
            raise ValueError(f"target {target!r} has a single class in the training data: {classes}")
        if len(classes) > 2:
            raise ValueError(f"target {target!r} has {len(classes)} classes; nbprod handles binary targets")


def split_summary(parts: Mapping[str, pd.DataFrame], target: str, time_column: str | None) -> pd.DataFrame:
    """Rows, target mean and (with a time column) first and last time of each split."""
    rows = []
    for name, part in parts.items():
        row = {"split": name, "rows": len(part),
               "target_mean": round(float(part[target].mean()), 4) if len(part) else None}
        if time_column and len(part):  # periods shown as they are written (2013), other times as timestamps
            times = read_times(part[time_column], time_column)
            shown = part[time_column] if times.period else times.stamps
            row.update({"from": shown.min(), "to": shown.max()})
        elif time_column:
            row.update({"from": pd.NaT, "to": pd.NaT})
        rows.append(row)
    return pd.DataFrame(rows).set_index("split")
