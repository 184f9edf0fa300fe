"""The feature contract: which raw columns a model takes, of what kind and range.

A contract is learned from the training frame (see :class:`nbprod.model.features.FeatureBuilder`)
and travels inside the fitted model, so the pipeline, the prediction service and
batch scoring all check inputs against the same description.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Literal, Mapping

import numpy as np
import pandas as pd

#: Categories kept per column by default (``train.max_categories`` in the pipeline); rarer ones are pooled as missing.
MAX_CATEGORIES = 200

Kind = Literal["numeric", "categorical", "datetime"]


@dataclass(frozen=True)
class ColumnSpec:
    """One input column of the contract.

    Attributes
    ----------
    name : column name.
    kind : ``numeric``, ``categorical`` or ``datetime``.
    nullable : whether missing values (null, NaN) are accepted.
    categories : categories seen in training, most frequent first (categorical only).
        A value outside them is accepted and treated as missing ("unseen").
    minimum, maximum : range seen in training (numeric only); informative, not enforced.
    """

    name: str
    kind: Kind
    nullable: bool
    categories: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class FeatureContract:
    """The ordered input columns of a model."""

    columns: tuple[ColumnSpec, ...] = field(default_factory=tuple)

    @property
    def names(self) -> list[str]:
        """Column names in model order."""
        return [column.name for column in self.columns]

    def of_kind(self, kind: Kind) -> list[str]:
        """Names of the columns of one kind."""
        return [column.name for column in self.columns if column.kind == kind]

    def __getitem__(self, name: str) -> ColumnSpec:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {"columns": [asdict(column) for column in self.columns]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FeatureContract":
        """Inverse of :meth:`to_dict`."""
        return cls(
            tuple(
                ColumnSpec(**{**column, "categories": tuple(column.get("categories", ()))})
                for column in data["columns"]
            )
        )


def infer_kind(series: pd.Series) -> Kind:
    """The kind of a column from its dtype: bool, text and category are categorical."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        return "categorical"
    return "numeric"


def as_category_strings(series: pd.Series) -> pd.Series:
    """Categorical values as strings, missing values kept missing.

    Whole-number floats (an integer column with missing values) are written as
    integers, so that ``1.0`` in training and ``1`` in a request are one category.
    """
    if pd.api.types.is_float_dtype(series) and bool((series.dropna() % 1 == 0).all()):
        series = series.astype("Int64")
    return series.astype("string").astype(object).where(series.notna(), None)


def column_spec(series: pd.Series, kind: Kind, max_categories: int) -> ColumnSpec:
    """Describe one training column."""
    nullable = bool(series.isna().any())
    if kind == "categorical":
        counts = as_category_strings(series).value_counts()
        return ColumnSpec(series.name, kind, nullable, tuple(counts.index[:max_categories]))
    if kind == "numeric":
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (None, None)
        return ColumnSpec(series.name, kind, nullable, minimum=low, maximum=high)
    return ColumnSpec(series.name, kind, nullable)


def contract_from_frame(
    frame: pd.DataFrame,
    categorical: Iterable[str] = (),
    numeric: Iterable[str] = (),
    max_categories: int = MAX_CATEGORIES,
) -> FeatureContract:
    """Learn a contract from a training frame; ``categorical``/``numeric`` override inference."""
    forced = {**{name: "categorical" for name in categorical}, **{name: "numeric" for name in numeric}}
    unknown = sorted(set(forced) - set(frame.columns))
    if unknown:
        raise KeyError(f"type overrides name columns that are not in the data: {unknown}")
    return FeatureContract(
        tuple(
            column_spec(frame[name], forced.get(name) or infer_kind(frame[name]), max_categories)
            for name in frame.columns
        )
    )
