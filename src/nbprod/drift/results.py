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
``"unsupported_dtype"``
    A reference column of a dtype the detector does not monitor (datetimes,
    timedeltas...): reported with ``drifted=False`` and excluded from the
    dataset counts.
``"empty"``
    The window has no rows: no decision (``drifted=None``), nothing counts and
    the dataset result has ``status="empty"`` and ``drifted=None``.

Besides ``drifted``, two data-quality alarms are raised per column and never
change ``drifted`` (which stays the statistic's decision, comparable with
Evidently's) unless the detector's ``alarms_count_as_drift`` is set:
``missing_drifted`` (the missing-value rate moved by more than
``max_missing_change``) and ``unseen_drifted`` (more than ``max_unseen_share``
of the window's values are categories never seen in the reference).

A window of a few rows is compared like any other: a single row against a
large reference nearly always drifts under the distance rule. Every result
carries the window's size (``n_rows_current``, and ``n_current`` per column)
so that a consumer can apply its own minimum.
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
    exact : bool or None
        Whether ``statistic`` was computed exactly (scipy's value); False for
        the binned Wasserstein approximation, whose decision is nonetheless
        exact (see ``error_bound``); None when nothing was computed.
    error_bound : float
        Largest possible shortfall of an approximate ``statistic`` below the
        exact one (0 when exact, NaN when nothing was computed). The exact
        statistic is computed whenever the threshold lies within this bound.
    missing_drifted : bool
        ``|missing_rate_change| > max_missing_change`` (False when undefined).
    unseen_drifted : bool
        ``unseen_share > max_unseen_share``.
    noise_floor : float
        For the distance methods: what windows of this size drawn from the
        reference reach from sampling noise alone (see :mod:`nbprod.drift.noise`);
        ``threshold`` is the configured one raised to it. NaN when not computed
        (it is computed only for a distance above the configured threshold).
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
    exact: bool | None = None
    error_bound: float = float("nan")
    missing_drifted: bool = False
    unseen_drifted: bool = False
    noise_floor: float = float("nan")

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
    n_missing_alarms, n_unseen_alarms : int
        Columns whose ``missing_drifted`` / ``unseen_drifted`` alarm is raised.
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
    n_missing_alarms: int = 0
    n_unseen_alarms: int = 0

    @property
    def drifted_columns(self) -> list[str]:
        """Names of the counted columns that drifted."""
        return [c.column for c in self.columns if c.counted and c.drifted]

    @property
    def alarm_columns(self) -> dict[str, list[str]]:
        """Names of the columns with each data-quality alarm: ``{"missing": [...], "unseen": [...]}``."""
        return {"missing": [c.column for c in self.columns if c.missing_drifted],
                "unseen": [c.column for c in self.columns if c.unseen_drifted]}

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
        Labelled rows in the window (those the metric was computed on).
    status : str
        ``"ok"``, ``"empty"`` (no labelled rows) or ``"undefined"`` (the metric
        is not defined on the window; ``reason`` says why).
    n_unlabelled : int
        Window rows dropped because their label is missing (NaN/None).
    reason : str
        Why the metric is undefined (empty when ``status`` is ``"ok"``).
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
    n_unlabelled: int = 0
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (non-finite floats as None)."""
        return {k: _json_value(v) for k, v in asdict(self).items()}
