"""``DriftDetector``: fitted once on the reference, then compared with many windows."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import pandas as pd

from nbprod.drift import profiles as pr
from nbprod.drift.results import ColumnDrift, DatasetDrift

#: Default threshold of each method (distances drift above it, p-values below it).
DEFAULT_THRESHOLDS: dict[str, float] = {
    "wasserstein": 0.1, "jensenshannon": 0.1, "psi": 0.1, "ks": 0.05, "chisquare": 0.05, "chisquare_gof": 0.05,
}
KINDS = ("numeric", "categorical")


def infer_kind(dtype: Any) -> str | None:
    """``"numeric"``, ``"categorical"`` (object, string, category, bool) or None (unsupported, e.g. datetimes)."""
    if pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype)):
        return "categorical"
    return None


def _as_frame(data: Any) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    return pd.DataFrame(data)


class DriftDetector:
    """Column and dataset drift between a reference (training data) and windows.

    The statistic follows the size of the reference, as Evidently's defaults
    do (``method="auto"``): with at most ``small_sample_size`` observed
    reference values, Kolmogorov-Smirnov (numeric) or chi-square (categorical)
    at p < 0.05; above it, the Wasserstein distance normalised by the reference
    standard deviation (numeric) or the Jensen-Shannon distance (categorical)
    above 0.1. The chi-square is the two-sample test of homogeneity
    (:func:`nbprod.drift.stats.chi_square_test`), which equals Evidently's
    z-test on binary columns; Evidently's goodness-of-fit form, whose
    false-alarm rate is far above 5% when the reference is small, is
    available as ``"chisquare_gof"``. Numeric columns with at most
    ``discrete_max_unique`` distinct values (reference and window together)
    are compared value by value like categorical ones. The dataset drifts when ``share >= drift_share`` of the
    counted columns drift. PSI and the missing-value rates are reported for
    every column.

    Parameters
    ----------
    columns : sequence of str, optional
        Columns to monitor; default every reference column of a supported dtype.
    kinds : mapping of str to str, optional
        Overrides of the inferred kinds (``"numeric"`` or ``"categorical"``).
    method : str or mapping, default "auto"
        One of ``"auto"``, ``"wasserstein"``, ``"ks"``, ``"jensenshannon"``,
        ``"chisquare"``, ``"chisquare_gof"``, ``"psi"`` for every column, or a mapping whose keys are
        column names or kinds (a column's own entry wins). ``wasserstein`` and
        ``ks`` apply to numeric columns only; the counts-based methods apply to
        numeric columns through ``psi_bins`` reference-quantile bins.
    thresholds : mapping of str to float, optional
        Keys are column names or method names (column first), overriding
        :data:`DEFAULT_THRESHOLDS`.
    drift_share : float, default 0.5
        Share of drifted columns from which the dataset drifts.
    small_sample_size : int, default 1000
        Reference sizes up to which ``auto`` uses the p-value tests.
    discrete_max_unique : int, default 5
        Numeric columns with at most this many distinct values are compared as categories.
    n_cells : int, default 16384
        Resolution of the binned Wasserstein/KS on large windows (see :mod:`nbprod.drift.binning`).
    psi_bins : int, default 10
        Reference-quantile bins of numeric columns for PSI.
    psi_eps : float, default 1e-4
        Floor of the bin proportions in PSI.
    min_std : float, default 0.001
        Floor of the Wasserstein normaliser (a constant reference has std 0).
    missing_column_drifts : bool, default True
        Whether a monitored column absent from a window counts as drifted.

    Attributes
    ----------
    columns_ : list of str
        Monitored columns present in the reference.
    kinds_ : dict of str to str
        Kind of each monitored column.
    methods_ : dict of str to str
        Configured method of each monitored column (``"auto"`` resolves per window).
    profiles_ : dict
        Fitted per-column summaries (cell histograms, quantile groups,
        category counts, sorted values of small references).
    missing_rates_ : dict of str to float
        Reference missing-value rate of each column.
    n_rows_reference_ : int
        Reference rows.
    absent_columns_ : list of str
        Requested ``columns`` absent from the reference.
    skipped_columns_ : list of str
        Reference columns of unsupported dtypes (datetimes...), not monitored.
    """

    def __init__(
        self,
        columns: Sequence[str] | None = None,
        kinds: Mapping[str, str] | None = None,
        method: str | Mapping[str, str] = "auto",
        thresholds: Mapping[str, float] | None = None,
        drift_share: float = 0.5,
        small_sample_size: int = 1000,
        discrete_max_unique: int = 5,
        n_cells: int = 16384,
        psi_bins: int = 10,
        psi_eps: float = 1e-4,
        min_std: float = 0.001,
        missing_column_drifts: bool = True,
    ) -> None:
        self.columns = columns
        self.kinds = kinds
        self.method = method
        self.thresholds = thresholds
        self.drift_share = drift_share
        self.small_sample_size = small_sample_size
        self.discrete_max_unique = discrete_max_unique
        self.n_cells = n_cells
        self.psi_bins = psi_bins
        self.psi_eps = psi_eps
        self.min_std = min_std
        self.missing_column_drifts = missing_column_drifts

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments, as scikit-learn's ``get_params`` (e.g. to log them to MLflow)."""
        import inspect

        return {name: getattr(self, name) for name in inspect.signature(type(self)).parameters}

    def _method_for(self, column: str, kind: str) -> str:
        if isinstance(self.method, str):
            name = self.method
        else:
            name = self.method.get(column, self.method.get(kind, "auto"))
        allowed = pr.NUMERIC_METHODS if kind == "numeric" else pr.CATEGORICAL_METHODS
        if name not in allowed:
            raise ValueError(f"method {name!r} does not apply to {kind} column {column!r}; use one of {sorted(allowed)}")
        return name

    def _threshold(self, column: str, method: str) -> float:
        t = self.thresholds or {}
        return float(t.get(column, t.get(method, DEFAULT_THRESHOLDS[method])))

    def fit(self, reference: pd.DataFrame) -> "DriftDetector":
        """Learn the reference profiles.

        Parameters
        ----------
        reference : pandas.DataFrame
            The reference data (e.g. the training features).

        Returns
        -------
        DriftDetector
            ``self``.
        """
        reference = _as_frame(reference)
        if not 0.0 <= float(self.drift_share) <= 1.0:
            raise ValueError(f"drift_share must be in [0, 1], got {self.drift_share!r}")
        overrides = dict(self.kinds or {})
        bad = {k: v for k, v in overrides.items() if v not in KINDS}
        if bad:
            raise ValueError(f"kinds must be one of {KINDS}: {bad}")
        wanted = list(reference.columns) if self.columns is None else list(self.columns)
        self.settings_ = pr.Settings(int(self.small_sample_size), int(self.discrete_max_unique),
                                     float(self.min_std), float(self.psi_eps))
        self.absent_columns_ = [c for c in wanted if c not in reference.columns]
        self.columns_, self.skipped_columns_ = [], []
        self.kinds_, self.methods_, self.profiles_, self.missing_rates_ = {}, {}, {}, {}
        for col in wanted:
            if col not in reference.columns:
                continue
            kind = overrides.get(col) or infer_kind(reference[col].dtype)
            if kind is None:
                self.skipped_columns_.append(col)
                continue
            self.columns_.append(col)
            self.kinds_[col] = kind
            self.methods_[col] = self._method_for(col, kind)
            if kind == "numeric":
                prof = pr.fit_numeric(reference[col], int(self.n_cells), int(self.psi_bins), self.settings_)
            else:
                prof = pr.fit_categorical(reference[col])
            self.profiles_[col] = prof
            self.missing_rates_[col] = prof.missing_rate
        self.n_rows_reference_ = int(len(reference))
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "profiles_"):
            raise RuntimeError("DriftDetector is not fitted: call fit(reference) first")

    def compare_column(self, column: str, values: pd.Series) -> ColumnDrift:
        """Drift of one monitored column, given the window's values of it."""
        self._check_fitted()
        kind, prof = self.kinds_[column], self.profiles_[column]
        fn = pr.compare_numeric if kind == "numeric" else pr.compare_categorical
        return fn(column, prof, values, self.methods_[column],
                  lambda m: self._threshold(column, m), self.settings_)

    def compare(self, window: pd.DataFrame) -> DatasetDrift:
        """Drift of a window against the fitted reference.

        Parameters
        ----------
        window : pandas.DataFrame
            The current data; extra columns are reported as ``not_in_reference``.

        Returns
        -------
        DatasetDrift
            Per-column results and the dataset decision. A window without rows
            gives ``status="empty"`` and ``drifted=None`` (no decision).
        """
        self._check_fitted()
        window = _as_frame(window)
        nan = float("nan")
        empty = len(window) == 0
        results: list[ColumnDrift] = []
        for col in self.columns_:
            kind, prof = self.kinds_[col], self.profiles_[col]
            if col not in window.columns:
                results.append(ColumnDrift(
                    column=col, kind=kind, method=None, statistic=nan, threshold=nan,
                    drifted=None if empty else bool(self.missing_column_drifts),
                    missing_rate_reference=prof.missing_rate, n_reference=prof.n,
                    status="empty" if empty else "missing_column"))
            elif empty:
                results.append(ColumnDrift(
                    column=col, kind=kind, method=None, statistic=nan, threshold=nan, drifted=None,
                    missing_rate_reference=prof.missing_rate, n_reference=prof.n, status="empty"))
            else:
                results.append(self.compare_column(col, window[col]))
        extra = self.absent_columns_ + [c for c in window.columns
                                        if c not in self.profiles_ and c not in self.absent_columns_
                                        and c not in self.skipped_columns_]
        for col in extra:
            results.append(ColumnDrift(column=col, kind="unknown", method=None, statistic=nan, threshold=nan,
                                       drifted=None if empty else False, status="empty" if empty else "not_in_reference"))
        counted = [r for r in results if r.counted]
        n_drifted = sum(bool(r.drifted) for r in counted)
        share = n_drifted / len(counted) if counted else nan
        drifted = None if empty else bool(counted) and bool(share >= self.drift_share)
        return DatasetDrift(
            columns=tuple(results), n_columns=len(counted), n_drifted=n_drifted, share=share,
            drift_share=float(self.drift_share), drifted=drifted, n_rows_reference=self.n_rows_reference_,
            n_rows_current=int(len(window)), status="empty" if empty else "ok",
        )


def prediction_drift(
    reference: Any,
    current: Any,
    *,
    name: str = "prediction",
    kind: str | None = None,
    **options: Any,
) -> ColumnDrift:
    """Drift of a prediction series (scores, labels or regression outputs) — the column machinery on one column.

    Parameters
    ----------
    reference, current : array-like or pandas.Series
        Predictions on the reference data and on the window.
    name : str, default "prediction"
        Name reported in the result.
    kind : {"numeric", "categorical"}, optional
        Overrides the kind inferred from the dtype.
    **options
        Further :class:`DriftDetector` parameters (``method``, ``thresholds``...).

    Returns
    -------
    ColumnDrift
    """
    ref = pd.DataFrame({name: pd.Series(reference).reset_index(drop=True)})
    cur = pd.DataFrame({name: pd.Series(current).reset_index(drop=True)})
    det = DriftDetector(kinds={name: kind} if kind else None, **options).fit(ref)
    if name not in det.profiles_:
        raise ValueError(f"unsupported prediction dtype {ref[name].dtype}")
    return det.compare(cur).column(name)
