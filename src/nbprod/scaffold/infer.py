"""What a table holds, read from the table alone: pure functions on a DataFrame.

``nbprod new`` writes what these find into the new project's ``env.yaml`` and schema, for
the user to review: the task and its classes, the time column (or none), the column kinds,
the columns to drop and why, the split points and a declared schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import pandas as pd

#: An integer target with at most this many distinct values is a classification target.
MAX_INTEGER_CLASSES = 10
#: A text target with more distinct values than this is refused (an identifier or free text).
MAX_CLASSES = 50
#: Share of the non-missing values of a text column that must parse as dates for it to be a time column.
DATE_SHARE = 0.95
#: Words in a column's name that make an integer column a period (a year, a yyyymm month).
PERIOD_WORDS = ("year", "period", "yyyymm", "month")
#: Quantiles of the time column where validation, test and the held-back "new" data start.
SPLIT_QUANTILES = (0.6, 0.7, 0.8)
#: A single column that scores at least this well against the target is reported as probable leakage.
LEAKAGE_SCORE = 0.99
#: Numeric columns are cut into this many quantile bins to score them against a class target.
LEAKAGE_BINS = 20
#: Category columns with at most this many values have their values listed in the schema.
MAX_ALLOWED = 20


class InferenceError(ValueError):
    """The table cannot make a project as it is (the message says which column and why)."""


@dataclass(frozen=True)
class Target:
    """The column to predict, as found in the data.

    ``task`` is the setting (classification | regression); ``kind`` says more
    (binary | multiclass | regression); ``classes`` are sorted; ``positive_class`` is
    the minority class of a binary target (ties: the last in sorted order).
    """

    name: str
    task: str
    kind: str
    classes: list[Any] = field(default_factory=list)
    positive_class: Any = None


@dataclass(frozen=True)
class TimeColumn:
    """A column that orders the rows in time: ``kind`` is datetime, text (dates as text) or period."""

    name: str
    kind: str


@dataclass(frozen=True)
class Drop:
    """A column left out of the model, and why."""

    column: str
    reason: str


def python_value(value: Any) -> Any:
    """A numpy scalar as the plain Python value (for YAML and messages)."""
    return value.item() if isinstance(value, np.generic) else value


def is_integer_valued(series: pd.Series) -> bool:
    """Whether a numeric column holds whole numbers only (missing values aside)."""
    values = series.dropna()
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        return False
    return bool(pd.api.types.is_integer_dtype(series) or np.all(np.mod(values.to_numpy(dtype=float), 1) == 0))


def infer_target(series: pd.Series, task: str | None = None) -> Target:
    """The task, the classes and the positive class of the target column ``series``.

    Text and booleans are classes; whole numbers with at most :data:`MAX_INTEGER_CLASSES`
    values are classes; other numbers are a regression target. ``task`` overrides the guess.
    """
    name, values = str(series.name), series.dropna()
    if values.empty:
        raise InferenceError(f"target column {name!r} is entirely missing")
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if task is None:
        task = "classification" if not numeric or (
            is_integer_valued(series) and values.nunique() <= MAX_INTEGER_CLASSES) else "regression"
    if task == "regression":
        if not numeric:
            raise InferenceError(f"target column {name!r} is not numeric (e.g. {values.iloc[0]!r}): "
                                 "it cannot be a regression target")
        return Target(name, "regression", "regression")
    counts = values.value_counts()
    if len(counts) < 2:
        raise InferenceError(f"target column {name!r} has a single value {counts.index[0]!r}: nothing to predict")
    if len(counts) > MAX_CLASSES:
        raise InferenceError(f"target column {name!r} has {len(counts)} distinct values: too many classes "
                             f"(at most {MAX_CLASSES}); use --task regression if it is a number")
    classes = sorted(python_value(value) for value in counts.index)
    if len(classes) > 2:
        return Target(name, "classification", "multiclass", classes)
    ordered = sorted(counts.items(), key=lambda item: (item[1], -classes.index(python_value(item[0]))))
    return Target(name, "classification", "binary", classes, python_value(ordered[0][0]))


def parses_as_dates(series: pd.Series) -> bool:
    """Whether a text column holds dates (at least :data:`DATE_SHARE` of its values parse)."""
    values = series.dropna().astype(str)
    if values.empty or not values.str.contains(r"\d").all() or not values.str.contains(r"[-/:.]").any():
        return False
    parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= DATE_SHARE)


def is_period(series: pd.Series) -> bool:
    """Whether an integer column named like a period holds years (1800-2200) or yyyymm months."""
    if not is_integer_valued(series) or not any(word in str(series.name).lower() for word in PERIOD_WORDS):
        return False
    values = series.dropna()
    years = values.between(1800, 2200).all()
    months = values.between(180001, 220012).all() and (values % 100).between(1, 12).all()
    return bool(len(values) and (years or months))


def infer_time_column(frame: pd.DataFrame, exclude: Iterable[str] = ()) -> TimeColumn | None:
    """The column that orders the rows in time: datetimes first, then dates as text, then periods.

    None when there is none (the project then splits at random). A column with fewer than
    four distinct times cannot hold four split periods and is not chosen.
    """
    columns = [name for name in frame.columns if name not in set(exclude) and frame[name].nunique() >= 4]
    tests = (("datetime", pd.api.types.is_datetime64_any_dtype),
             ("text", lambda series: pd.api.types.is_string_dtype(series) and parses_as_dates(series)),
             ("period", is_period))
    for kind, test in tests:
        for name in columns:
            if test(frame[name]):
                return TimeColumn(str(name), kind)
    return None


def time_values(series: pd.Series, kind: str) -> pd.Series:
    """The values of a time column as datetimes (datetime, text) or numbers (period)."""
    if kind == "period":
        return series.astype(float)
    return pd.to_datetime(series, format="mixed")


def split_positions(count: int) -> list[int]:
    """Indices into ``count`` sorted distinct times where the three later parts start: near the
    :data:`SPLIT_QUANTILES`, increasing, none at 0 (train keeps at least the first time)."""
    positions: list[int] = []
    for quantile in SPLIT_QUANTILES:
        positions.append(max(int(np.ceil(quantile * (count - 1))), positions[-1] + 1 if positions else 1))
    for index in reversed(range(len(positions))):
        ceiling = count - len(positions) + index if index == len(positions) - 1 else positions[index + 1] - 1
        positions[index] = min(positions[index], ceiling)
    return positions


def split_points(series: pd.Series, kind: str) -> dict[str, str]:
    """``split.valid_start``/``test_start``/``new_start`` at the :data:`SPLIT_QUANTILES` of the time column.

    Dates are written as ``YYYY-MM-DD``, periods as the whole period; each point is a value
    the data holds, so every part of the split has rows.
    """
    values = time_values(series.dropna(), kind)
    distinct = np.sort(values.unique())
    if len(distinct) < 4:
        raise InferenceError(f"time column {series.name!r} has {len(distinct)} distinct values: "
                             "too few for train, validation, test and new data")
    points = [distinct[position] for position in split_positions(len(distinct))]
    if kind == "period":
        texts = [str(int(point)) for point in points]
    else:
        texts = [pd.Timestamp(point).strftime("%Y-%m-%d") if pd.Timestamp(point) == pd.Timestamp(point).normalize()
                 else pd.Timestamp(point).isoformat() for point in points]
    return dict(zip(("valid_start", "test_start", "new_start"), texts))


def column_kinds(frame: pd.DataFrame, columns: Iterable[str]) -> tuple[list[str], list[str]]:
    """``(categorical, numeric)``: numbers (not booleans) are numeric, everything else categorical."""
    categorical, numeric = [], []
    for name in columns:
        series = frame[name]
        is_number = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        (numeric if is_number else categorical).append(str(name))
    return categorical, numeric


def is_identifier(series: pd.Series) -> bool:
    """Whether a whole-number or text column holds a different value on every row (and no gaps)."""
    if pd.api.types.is_float_dtype(series) and not is_integer_valued(series):
        return False
    if pd.api.types.is_bool_dtype(series) or series.isna().any():
        return False
    return len(series) > 1 and series.nunique() == len(series)


def leakage_score(feature: pd.Series, target: pd.Series, target_kind: str) -> float:
    """How well ``feature`` alone predicts the target: 1.0 is perfectly.

    Classes: the share of rows whose class is the most common one of their group (the
    feature's value, numbers cut into :data:`LEAKAGE_BINS` quantile bins; a category
    column needs on average 20 rows per value to count). Regression: the absolute
    Spearman correlation of a numeric feature.
    """
    rows = target.notna()
    feature, target = feature[rows], target[rows]
    numeric = pd.api.types.is_numeric_dtype(feature) and not pd.api.types.is_bool_dtype(feature)
    if target_kind == "regression":
        if not numeric or feature.nunique() < 2:
            return 0.0
        correlation = feature.corr(target, method="spearman")
        return 0.0 if pd.isna(correlation) else abs(float(correlation))
    if numeric and feature.nunique() > LEAKAGE_BINS:
        groups = pd.qcut(feature, LEAKAGE_BINS, duplicates="drop")
    elif feature.nunique() * 20 <= len(feature):
        groups = feature.astype(str)
    else:
        return 0.0
    table = pd.crosstab(groups, target)
    return float(table.max(axis=1).sum() / max(len(target), 1))


def infer_drops(frame: pd.DataFrame, target: Target, time_column: str | None,
                keep: Iterable[str] = ()) -> list[Drop]:
    """Columns to leave out, with the reason: constant, identifier, or probable leakage.

    A column is probable leakage when it alone predicts the target almost perfectly
    (:func:`leakage_score` at least :data:`LEAKAGE_SCORE`, and clearly better than always
    answering the commonest class). Columns in ``keep`` are never dropped.
    """
    kept, drops = set(keep), []
    baseline = frame[target.name].value_counts(normalize=True).max() if target.task == "classification" else 0.0
    for name in frame.columns:
        if name in kept or name in (target.name, time_column):
            continue
        series = frame[name]
        if series.nunique(dropna=False) <= 1:
            drops.append(Drop(str(name), "constant: one value on every row"
                              + (" (entirely missing)" if series.isna().all() else "")))
        elif is_identifier(series):
            drops.append(Drop(str(name), "identifier: a different value on every row"))
        elif baseline < LEAKAGE_SCORE and (score := leakage_score(series, frame[target.name], target.kind)) \
                >= LEAKAGE_SCORE:
            drops.append(Drop(str(name), f"probable leakage: predicts the target almost perfectly on its own "
                                         f"(score {score:.3f}); --keep {name} keeps it"))
    return drops


def null_rule(series: pd.Series) -> dict[str, Any]:
    """``nullable: false`` for a complete column, else a ``max_null_rate`` with room above the observed one."""
    rate = float(series.isna().mean())
    if rate == 0:
        return {"nullable": False}
    return {"max_null_rate": round(min(1.0, rate * 1.5 + 0.01), 2)}


def column_rules(series: pd.Series, kind: str) -> dict[str, Any]:
    """The declared schema of one column: its type, missing values and range or allowed values."""
    rules: dict[str, Any] = {"type": kind, **null_rule(series)}
    values = series.dropna()
    if kind == "number" and len(values):
        rules.update(min=python_value(values.min()), max=python_value(values.max()))
    if kind == "category" and 0 < values.nunique() <= MAX_ALLOWED:
        rules["allowed"] = sorted(str(value) for value in values.unique())
    return rules


def infer_schema(frame: pd.DataFrame, target: Target, time_column: TimeColumn | None,
                 categorical: Iterable[str], numeric: Iterable[str]) -> dict[str, Any]:
    """A declared schema (the format of ``schemas/nycflights13.yaml``) of the columns the project uses."""
    columns: dict[str, dict[str, Any]] = {}
    if time_column is not None:
        rules = {"nullable": False}
        if time_column.kind == "period":
            values = frame[time_column.name].dropna()
            rules.update(min=python_value(values.min()), max=python_value(values.max()))
        else:
            rules = {"type": "datetime", **rules}
        columns[time_column.name] = rules
    for name in categorical:
        kind = "bool" if pd.api.types.is_bool_dtype(frame[name]) else "category"
        columns[name] = column_rules(frame[name], kind)
    for name in numeric:
        columns[name] = column_rules(frame[name], "number")
    target_series = frame[target.name]
    if target.task == "regression":
        columns[target.name] = {"type": "number", **null_rule(target_series)}
    else:
        columns[target.name] = {**null_rule(target_series), "allowed": list(target.classes)}
    return {"min_rows": int(min(100, max(1, len(frame) // 20))), "columns": columns}
