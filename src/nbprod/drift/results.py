"""Declarative drift results: one :class:`ColumnDrift` per column, one :class:`DatasetDrift` per window.

Column ``status`` values (only ``"ok"`` columns carry a statistic):

``"ok"``
    Both sides have observed values; ``statistic``/``p_value`` decide ``drifted``.
``"missing_column"``
    In the reference, absent from the window: ``drifted`` is the detector's
    ``missing_column_drifts`` (True by default) and the column counts.
``"no_current_values"``
    The window column is entirely missing (NaN/None/inf) while the reference
    had values: drifted, counts.
``"no_reference_values"``
    The reference column was entirely missing while the window has values:
    drifted, counts.
``"no_values"``
    Entirely missing on both sides: not drifted, counts.
``"not_in_reference"``
    In the window (or asked for at fit) but absent from the reference: reported
    with ``drifted=False`` and excluded from the dataset counts.
``"empty"``
    The window has no rows: no decision (``drifted=None``), nothing counts and
    the dataset result has ``status="empty"`` and ``drifted=None``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import pandas as pd

COUNTED_STATUSES = frozenset({"ok", "missing_column", "no_current_values", "no_reference_values", "no_values"})


def _json_value(value: Any) -> Any:
    """Non-finite floats become ``None``; tuples become lists; numpy scalars become Python ones."""
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class ColumnDrift:
    """Drift of one column between the reference and a window.

    Attributes
    ----------
    column : str
        Column name.
    kind : str
        ``"numeric"`` or ``"categorical"`` (``"unknown"`` for a column absent from the reference).
    method : str or None
        Statistic that decided: ``"wasserstein"``, ``"ks"``, ``"jensenshannon"``,
        ``"chisquare"``, ``"chisquare_gof"`` or ``"psi"``; None when nothing was computed.
    statistic : float
        Value of ``method`` (the test statistic for the p-value methods); NaN when not computed.
    threshold : float
        Distance methods drift when ``statistic > threshold``; p-value methods
        (``ks``, ``chisquare``, ``chisquare_gof``) when ``p_value < threshold``.
    drifted : bool or None
        The decision (None only for an empty window).
    p_value : float or None
        For the p-value methods.
    psi : float
        Population stability index (reference-quantile bins for numeric
        columns, categories for categorical ones); NaN when not computed.
    missing_rate_reference, missing_rate_current : float
        Share of missing values (NaN, None, +-inf for numeric columns).
    missing_rate_change : float
        ``missing_rate_current - missing_rate_reference``.
    n_reference, n_current : int
        Observed (non-missing) values on each side.
    unseen_count : int
        Window values of categories never seen in the reference (categorical
        columns, and numeric columns with at most ``discrete_max_unique`` values).
    unseen_share : float
        ``unseen_count / n_current``.
    unseen_examples : tuple of str
        Up to five unseen categories, most frequent first.
    status : str
        See the module docstring.
    """

    column: str
    kind: str
    method: str | None
    statistic: float
    threshold: float
    drifted: bool | None
    p_value: float | None = None
    psi: float = float("nan")
    missing_rate_reference: float = float("nan")
    missing_rate_current: float = float("nan")
    missing_rate_change: float = float("nan")
    n_reference: int = 0
    n_current: int = 0
    unseen_count: int = 0
    unseen_share: float = 0.0
    unseen_examples: tuple[str, ...] = ()
    status: str = "ok"

    @property
    def counted(self) -> bool:
        """Whether the column counts towards the dataset share."""
        return self.status in COUNTED_STATUSES

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (non-finite floats as None)."""
        return {k: _json_value(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class DatasetDrift:
    """Drift of a window: the per-column results and the dataset decision.

    Attributes
    ----------
    columns : tuple of ColumnDrift
        One result per reference column (then the columns not in the reference).
    n_columns : int
        Columns that count (see :data:`COUNTED_STATUSES`).
    n_drifted : int
        Counted columns that drifted.
    share : float
        ``n_drifted / n_columns`` (NaN when nothing counts).
    drift_share : float
        The dataset drifts when ``share >= drift_share``.
    drifted : bool or None
        The dataset decision; None when the window is empty.
    n_rows_reference, n_rows_current : int
        Rows of the reference and of the window.
    status : str
        ``"ok"`` or ``"empty"`` (window without rows).
    extra : dict
        Free-form metadata for consumers (e.g. a window label); empty by default.
    """

    columns: tuple[ColumnDrift, ...]
    n_columns: int
    n_drifted: int
    share: float
    drift_share: float
    drifted: bool | None
    n_rows_reference: int
    n_rows_current: int
    status: str = "ok"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def drifted_columns(self) -> list[str]:
        """Names of the counted columns that drifted."""
        return [c.column for c in self.columns if c.counted and c.drifted]

    def column(self, name: str) -> ColumnDrift:
        """The result of column ``name`` (KeyError if absent)."""
        for c in self.columns:
            if c.column == name:
                return c
        raise KeyError(name)

    def to_frame(self) -> pd.DataFrame:
        """One row per column, the :class:`ColumnDrift` fields as columns."""
        names = [f.name for f in fields(ColumnDrift)]
        rows = [{n: getattr(c, n) for n in names} for c in self.columns]
        return pd.DataFrame(rows, columns=names)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict: the dataset fields and ``columns`` as a list of dicts."""
        out = {f.name: _json_value(getattr(self, f.name)) for f in fields(self) if f.name != "columns"}
        out["columns"] = [c.to_dict() for c in self.columns]
        return out


@dataclass(frozen=True)
class PerformanceDrift:
    """A metric on a labelled window against the reference value.

    Attributes
    ----------
    metric : str
        Metric name (``roc_auc``, ``accuracy``, ``f1``, ``mae``, ``rmse``, ``r2``...).
    reference : float
        The reference (training/validation) value.
    current : float
        The value on the window; NaN when undefined (empty window, one class for ROC AUC).
    drop : float
        Degradation, positive when worse: ``reference - current`` for metrics
        where greater is better, ``current - reference`` otherwise.
    relative_drop : float
        ``drop / |reference|`` (NaN when the reference is 0).
    floor : float or None
        The acceptable limit: a minimum for greater-is-better metrics, a
        maximum for error metrics (MAE, RMSE...).
    below_floor : bool
        Whether ``current`` is past ``floor`` (False when no floor or undefined).
    max_drop : float or None
        Largest acceptable ``drop``.
    degraded : bool
        ``below_floor`` or ``drop > max_drop``.
    n : int
        Labelled rows in the window.
    status : str
        ``"ok"``, ``"empty"`` (no rows) or ``"undefined"`` (the metric is not defined on the window).
    """

    metric: str
    reference: float
    current: float
    drop: float
    relative_drop: float
    floor: float | None
    below_floor: bool
    max_drop: float | None
    degraded: bool
    n: int
    status: str = "ok"

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (non-finite floats as None)."""
        return {k: _json_value(v) for k, v in asdict(self).items()}
