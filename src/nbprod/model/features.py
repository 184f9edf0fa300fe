"""Feature building shared by training, batch scoring and the prediction service.

:class:`FeatureBuilder` is the first step of every model pipeline: it learns the
feature contract from the training frame and turns raw rows into model features.
Because it is pickled inside the model, serving runs exactly this code.
"""

from __future__ import annotations

import warnings
from datetime import datetime
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from nbprod.model.contract import (MAX_CATEGORIES, ColumnSpec, FeatureContract, as_category_strings,
                                   contract_from_frame)

#: Calendar parts derived from a datetime input column.
CALENDAR_PARTS = ("month", "dayofweek", "hour")


def calendar_features(values: pd.Series, name: str) -> dict[str, np.ndarray]:
    """Month, day of week and hour of a datetime column, as floats (NaN when missing)."""
    stamps = pd.DatetimeIndex(pd.to_datetime(values, errors="coerce"))
    attributes = {"month": "month", "dayofweek": "day_of_week", "hour": "hour"}
    return {f"{name}_{part}": np.asarray(getattr(stamps, attributes[part]), dtype=float) for part in CALENDAR_PARTS}


#: How each calendar part is read off a Python datetime.
DATETIME_PARTS: dict[str, Callable[[datetime], int]] = {
    "month": lambda stamp: stamp.month, "dayofweek": lambda stamp: stamp.weekday(), "hour": lambda stamp: stamp.hour,
}


def calendar_parts(stamps: Sequence[datetime | None]) -> list[np.ndarray]:
    """:func:`calendar_features` of Python datetimes (None when missing), in ``CALENDAR_PARTS`` order."""
    return [np.fromiter((np.nan if stamp is None else DATETIME_PARTS[part](stamp) for stamp in stamps),
                        float, len(stamps)) for part in CALENDAR_PARTS]


def numeric_values(values: pd.Series) -> np.ndarray:
    """A column as floats; anything that is not a number becomes NaN."""
    if pd.api.types.is_float_dtype(values.dtype) and not isinstance(values.dtype, pd.api.extensions.ExtensionDtype):
        return values.to_numpy(dtype=float, copy=True)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)


def categorical_values(values: pd.Series, dtype: pd.CategoricalDtype) -> pd.Categorical:
    """A column as a categorical of the training categories; unseen and missing values become missing."""
    if not pd.api.types.is_string_dtype(values):  # numbers, booleans, mixed: normalise to category text
        values = as_category_strings(values)
    codes = dtype.categories.get_indexer(values.to_numpy(dtype=object, na_value=None))
    return pd.Categorical.from_codes(codes, dtype=dtype)


def empty_columns(frame: pd.DataFrame) -> dict[str, str]:
    """The columns of a (non-empty) frame without a single value, each with the reason it is left out."""
    if frame.empty:
        return {}
    return {name: "no values in the training rows" for name in frame.columns[frame.isna().all().to_numpy()]}


class FeatureBuilder(TransformerMixin, BaseEstimator):
    """Turn raw input columns into model features.

    Parameters
    ----------
    categorical, numeric : column names forced to that kind; others are inferred
        from their dtype (text, bool and category are categorical).
    max_categories : most frequent categories kept per column; rarer and unseen
        values become missing, which every model handles.

    A column without a single value in the training frame is left out of the contract
    (a model learns nothing from it), with a warning naming it.

    Attributes
    ----------
    contract_ : FeatureContract learned from the training frame.
    dropped_ : columns left out of the contract, with the reason.
    feature_names_out_ : names of the produced features.
    """

    def __init__(
        self,
        categorical: Sequence[str] = (),
        numeric: Sequence[str] = (),
        max_categories: int = MAX_CATEGORIES,
    ) -> None:
        self.categorical = categorical
        self.numeric = numeric
        self.max_categories = max_categories

    def fit(self, X: pd.DataFrame, y: object = None) -> "FeatureBuilder":
        """Learn the contract from the training frame."""
        self.dropped_ = empty_columns(X)
        if self.dropped_:
            warnings.warn(f"columns left out of the model: {self.dropped_}", UserWarning, stacklevel=2)
        kept = X.drop(columns=list(self.dropped_))
        self.contract_ = contract_from_frame(kept, [name for name in self.categorical if name in kept],
                                             [name for name in self.numeric if name in kept], self.max_categories)
        self.feature_names_out_ = np.asarray(list(self.transform(X.head(1)).columns), dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Raw rows to features: floats for numeric parts, pandas categoricals for the rest."""
        missing = [name for name in self.contract_.names if name not in X.columns]
        if missing:
            raise KeyError(f"input is missing required columns: {missing}")
        columns: dict[str, object] = {}
        for spec in self.contract_.columns:
            values = X[spec.name]
            if spec.kind == "numeric":
                columns[spec.name] = numeric_values(values)
            elif spec.kind == "categorical":
                columns[spec.name] = categorical_values(values, self._category_dtypes()[spec.name])
            else:
                columns.update(calendar_features(values, spec.name))
        return pd.DataFrame(columns, index=X.index)

    def encode_columns(self, columns: Mapping[str, Sequence[Any]]) -> np.ndarray:
        """Validated input columns straight to the feature matrix with category codes, without pandas.

        The prediction service's path for models on category codes
        (:class:`nbprod.model.models.CategoryCodesBoosting`). ``columns`` maps each contract
        column to Python values: floats (NaN when missing), text or None, naive datetimes
        or None. The result equals ``category_codes(self.transform(frame))`` for the same
        rows: numbers as floats, a category as its position among the training categories
        (NaN when missing or unseen), a datetime as its month, day of week and hour.
        """
        codes = self._category_codes()
        parts: list[np.ndarray] = []
        for spec in self.contract_.columns:
            values = columns[spec.name]
            if spec.kind == "numeric":
                parts.append(np.asarray(values, dtype=float))
            elif spec.kind == "categorical":
                lookup = codes[spec.name]
                parts.append(np.fromiter((lookup.get(value, np.nan) for value in values), float, len(values)))
            else:
                parts.extend(calendar_parts(values))
        return np.column_stack(parts) if parts else np.empty((0, 0))

    def _category_dtypes(self) -> dict[str, pd.CategoricalDtype]:
        """The categorical dtype of each categorical column."""
        return self._cached("dtypes", lambda spec: pd.CategoricalDtype(list(spec.categories)))

    def _category_codes(self) -> dict[str, dict[str, float]]:
        """Each categorical column's code of each training category."""
        return self._cached("codes", lambda spec: {category: float(code)
                                                   for code, category in enumerate(spec.categories)})

    def _cached(self, name: str, build: Callable[[ColumnSpec], Any]) -> dict[str, Any]:
        """``build(spec)`` of each categorical column, once per fitted object (not pickled)."""
        cache = self.__dict__.get("_lookup_cache")
        if cache is None or cache[0] is not self.contract_:
            cache = self.__dict__["_lookup_cache"] = (self.contract_, {})
        if name not in cache[1]:
            cache[1][name] = {spec.name: build(spec) for spec in self.contract_.columns if spec.kind == "categorical"}
        return cache[1][name]

    def __getstate__(self) -> dict:
        """Pickle without the lookup cache (it is rebuilt on first use)."""
        state = super().__getstate__()
        state.pop("_lookup_cache", None)
        return state

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """Names of the produced features."""
        return self.feature_names_out_


def feature_contract(model: object) -> FeatureContract:
    """The contract of a fitted model pipeline whose first step is a FeatureBuilder."""
    steps = getattr(model, "steps", None)
    builder = steps[0][1] if steps else model
    if not isinstance(builder, FeatureBuilder):
        raise TypeError("model does not start with an nbprod FeatureBuilder")
    return builder.contract_
