"""Target rules and the train / validation / test / new-data split.

A classification target keeps its raw labels (text, booleans, integers); only their
dtype is made plain (:func:`as_labels`). Its classes and, for a binary target, the
positive class are read from the training split (:func:`prepare_target`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from nbprod import io
from nbprod.data.times import cut_stamp, read_times
from nbprod.model.classes import class_counts, resolve_positive_class, sorted_labels, to_label

SPLITS = ("train", "valid", "test", "new")


def as_labels(values: pd.Series) -> pd.Series:
    """Class labels in a plain dtype: whole floats as integers, text and categories as objects, booleans as bool.

    Missing values must have been dropped or filled. Raises ValueError naming the column
    when the labels are fractional numbers (a regression target).
    """
    name = values.name
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype(bool)
    if isinstance(values.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(values.dtype):
        values = values.astype(object)
    if values.dtype == object and len(values) and values.map(lambda value: isinstance(value, (bool, np.bool_))).all():
        return values.astype(bool)
    if pd.api.types.is_float_dtype(values.dtype):
        fractional = values[values % 1 != 0]
        if len(fractional):
            raise ValueError(f"classification target {name!r} holds fractional numbers (e.g. {to_label(fractional.iloc[0])!r}):"
                             " set data.task to regression, or make the target a column of classes")
        return values.astype("int64")
    if pd.api.types.is_integer_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("int64")
    return values


def apply_target_rule(frame: pd.DataFrame, target: str, task: str, missing_target: str,
                      positive_class: Any = None) -> pd.DataFrame:
    """Rows with a missing target are dropped, or (classification, ``positive``) given ``positive_class``.

    Classification labels are then made plain (:func:`as_labels`). ``positive`` needs a
    positive class: a binary target's.
    """
    missing = frame[target].isna()
    if missing_target == "positive" and task == "classification":
        if positive_class is None and missing.any():
            raise ValueError(f"data.missing_target 'positive' fills a missing {target!r} with the positive class, "
                             "which only a binary target has: use data.missing_target: drop")
        frame = frame.assign(**{target: frame[target].where(~missing, positive_class)})
    else:
        frame = frame[~missing]
    if task == "classification":
        frame = frame.assign(**{target: as_labels(frame[target])})
    return frame


def check_classes(labels: pd.Series, target: str, split: str) -> list[Any]:
    """The sorted classes of ``labels``; ValueError naming the column, the split and the class when fewer than two."""
    classes = list(class_counts(labels).index)
    if not classes:
        raise ValueError(f"target {target!r} has no values in the {split} split")
    if len(classes) < 2:
        raise ValueError(f"target {target!r} has a single class in the {split} split: {classes[0]!r} "
                         "(a classifier needs at least two; check data.target and the split settings)")
    return classes


def prepare_target(
    parts: Mapping[str, pd.DataFrame], target: str, task: str, missing_target: str, positive_class: Any = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The target rule on every split, and what the target is.

    Classification: the classes are the training split's labels; a binary target's
    positive class is ``positive_class`` (checked to be one of them) or, when None,
    inferred as the training split's minority class, before missing targets are
    filled with it (``missing_target: positive``). A multiclass target has none.
    Returns the splits and ``{"target", "task", "classes", "positive_class", "positive_class_source"}``
    (the source: ``set`` by data.positive_class, ``inferred``, or None without a positive class).
    """
    check_not_empty(parts)
    positive = None
    if task == "classification":
        known = as_labels(parts["train"][target].dropna())
        check_classes(known, target, "train")
        if missing_target == "positive" and len(class_counts(known)) > 2:
            raise ValueError(f"data.missing_target 'positive' applies to binary targets only; target {target!r} "
                             f"has {len(class_counts(known))} classes: use data.missing_target: drop")
        positive = resolve_positive_class(known, positive_class)
    done = {name: apply_target_rule(part, target, task, missing_target, positive) for name, part in parts.items()}
    check_splits(done, target, task)
    classes = sorted_labels(done["train"][target].unique()) if task == "classification" else None
    source = None if positive is None else ("set" if positive_class is not None else "inferred")
    return done, {"target": target, "task": task, "classes": classes, "positive_class": to_label(positive),
                  "positive_class_source": source}


def describe_target(info: Mapping[str, Any]) -> str:
    """One line on what the target is (:func:`prepare_target`'s record): task, classes, positive class and its source."""
    if info["task"] != "classification":
        return f"Target {info['target']!r}: regression."
    classes = info["classes"]
    if len(classes) > 2:
        return f"Target {info['target']!r}: multiclass classification, {len(classes)} classes {classes!r}."
    origin = ("set by data.positive_class" if info.get("positive_class_source") == "set"
              else "inferred: the minority class of the training rows")
    return (f"Target {info['target']!r}: binary classification, classes {classes!r}; "
            f"positive class {info['positive_class']!r} ({origin}).")


def time_split(
    frame: pd.DataFrame, time_column: str, valid_start: str | int, test_start: str | int, new_start: str | int
) -> dict[str, pd.DataFrame]:
    """Split by time: [.., valid) train, [valid, test) validation, [test, new) test, [new, ..) new.

    The column holds datetimes, dates as text or integer periods (see
    :func:`nbprod.data.times.read_times`); against periods the cuts may be periods
    too (``2012``, ``"201309"``). Rows without a time are left out.
    """
    return take_parts(frame, time_positions(frame, time_column, valid_start, test_start, new_start))


def time_positions(
    frame: pd.DataFrame, time_column: str, valid_start: str | int, test_start: str | int, new_start: str | int
) -> dict[str, np.ndarray]:
    """The positions of each split's rows in ``frame`` (:func:`time_split`), each split in time order."""
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
    ordered_bins = bins[order]
    return {name: order[ordered_bins == index] for index, name in enumerate(SPLITS)}


def random_split(frame: pd.DataFrame, valid_frac: float, test_frac: float, seed: int) -> dict[str, pd.DataFrame]:
    """Split at random; there is no "new" data without a time column (it stays empty)."""
    return take_parts(frame, random_positions(len(frame), valid_frac, test_frac, seed))


def random_positions(rows: int, valid_frac: float, test_frac: float, seed: int) -> dict[str, np.ndarray]:
    """The positions of each split's rows (:func:`random_split`), each split in the rows' order."""
    if not (0 < valid_frac < 1 and 0 < test_frac < 1 and valid_frac + test_frac < 1):
        raise ValueError(f"split fractions must be in (0, 1) and sum below 1: {valid_frac}, {test_frac}")
    order = np.random.default_rng(seed).permutation(rows)
    n_valid, n_test = int(rows * valid_frac), int(rows * test_frac)
    parts = np.split(order, [rows - n_valid - n_test, rows - n_test])
    return {**{name: np.sort(index) for name, index in zip(SPLITS, parts)}, "new": np.arange(0)}


def take_parts(frame: pd.DataFrame, positions: Mapping[str, np.ndarray]) -> dict[str, pd.DataFrame]:
    """Each split's rows of ``frame``, by position."""
    return {name: frame.take(rows) for name, rows in positions.items()}


def split_table(
    frame: pd.DataFrame, time_column: str | None, split: Mapping, seed: int
) -> dict[str, pd.DataFrame]:
    """Split by time when there is a time column, else at random."""
    return take_parts(frame, split_positions(frame, time_column, split, seed))


def split_positions(frame: pd.DataFrame, time_column: str | None, split: Mapping, seed: int) -> dict[str, np.ndarray]:
    """Each split's row positions in ``frame`` (by time when there is a time column, else at random)."""
    if time_column:
        return time_positions(frame, time_column, split["valid_start"], split["test_start"], split["new_start"])
    return random_positions(len(frame), split["valid_frac"], split["test_frac"], seed)


def read_split(path: str | Path, drop_columns: Sequence[str], time_column: str | None, split: Mapping,
               seed: int) -> dict[str, pd.DataFrame]:
    """:func:`split_table` of a Parquet table without ``drop_columns``, read a column at a time: it holds the
    splits and one column, never the whole table beside its splits (at 10x the default data, 0.8 GB less)."""
    names, rows = io.parquet_layout(path)
    unknown = [name for name in drop_columns if name not in names]
    if unknown:
        raise ValueError(f"data.drop_columns names columns the data does not have: {unknown}")
    kept = [name for name in names if name not in drop_columns]
    if time_column and time_column not in kept:
        raise ValueError(f"data.time_column {time_column!r} is not a column of the data")
    key = io.read_parquet(path, columns=[time_column]) if time_column else pd.DataFrame(index=pd.RangeIndex(rows))
    positions = split_positions(key, time_column, split, seed)
    pieces: dict[str, dict[str, Any]] = {name: {} for name in positions}
    for name in kept:
        column = (key if name == time_column else io.read_parquet(path, columns=[name]))[name].array
        for split_name, at in positions.items():
            pieces[split_name][name] = column.take(at)  # values only: an index each would weigh as much
    # one index per split, the one split_table gives; copy=False: the frame holds the columns as taken
    return {split_name: pd.DataFrame(columns, index=pd.RangeIndex(rows).take(positions[split_name]), copy=False)
            for split_name, columns in pieces.items()}


def check_not_empty(parts: Mapping[str, pd.DataFrame]) -> None:
    """Fail clearly when the train, validation or test split is empty."""
    for name in ("train", "valid", "test"):
        if parts[name].empty:
            raise ValueError(f"the {name} split is empty: check the split settings against the data's dates")


def check_splits(parts: Mapping[str, pd.DataFrame], target: str, task: str) -> None:
    """Fail clearly when a split is empty, the training target has a single class, or the validation or
    test split holds a class the training split lacks (no model could predict it)."""
    check_not_empty(parts)
    if task != "classification":
        return
    classes = check_classes(parts["train"][target], target, "train")
    for name in ("valid", "test"):
        unseen = [label for label in class_counts(parts[name][target]).index if label not in classes]
        if unseen:
            raise ValueError(f"target {target!r} has classes in the {name} split that the train split lacks: "
                             f"{unseen!r} (train has {classes!r}); drop those rows or change the split")


def split_summary(parts: Mapping[str, pd.DataFrame], target: str, time_column: str | None,
                  classes: list[Any] | None = None, positive_class: Any = None) -> pd.DataFrame:
    """Rows, the target's make-up and (with a time column) first and last time of each split.

    The make-up: the share of the positive class (binary ``positive_class``), the share
    of each class (multiclass ``classes``), else the target's mean.
    """
    rows = []
    for name, part in parts.items():
        row: dict[str, Any] = {"split": name, "rows": len(part)}
        if positive_class is not None:
            row["positive_rate"] = round(float((part[target] == positive_class).mean()), 4) if len(part) else None
        elif classes is not None:
            row.update({f"share {label}": round(float((part[target] == label).mean()), 4) if len(part) else None
                        for label in classes})
        else:
            row["target_mean"] = round(float(part[target].mean()), 4) if len(part) else None
        if time_column and len(part):  # periods shown as they are written (2013), other times as timestamps
            times = read_times(part[time_column], time_column)
            shown = part[time_column] if times.period else times.stamps
            row.update({"from": shown.min(), "to": shown.max()})
        elif time_column:
            row.update({"from": pd.NaT, "to": pd.NaT})
        rows.append(row)
    return pd.DataFrame(rows).set_index("split")
