"""``DriftDetector``: fitted once on the reference, then compared with many windows."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from nbprod.drift import profiles as pr
from nbprod.drift.results import ColumnDrift, DatasetDrift
from nbprod.drift.stats import DEFAULT_MIN_STD, DEFAULT_PSI_EPS

#: Default threshold of each method (distances drift above it, p-values below it).
DEFAULT_THRESHOLDS: dict[str, float] = {
    "wasserstein": 0.1, "jensenshannon": 0.1, "psi": 0.1, "ks": 0.05, "chisquare": 0.05, "chisquare_gof": 0.05,
}
KINDS = ("numeric", "categorical")
#: Numeric methods that need the sorted reference values (exact Wasserstein / KS).
SORTED_METHODS = frozenset({"auto", "wasserstein", "ks"})


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


def _as_frame(data: Any, what: str) -> pd.DataFrame:
    """``data`` as a DataFrame; ValueError naming ``what`` when it has duplicated column names."""
    if isinstance(data, pd.Series):
        data = data.to_frame()
    elif not isinstance(data, pd.DataFrame):
        data = pd.DataFrame(data)
    duplicated = data.columns[data.columns.duplicated()].unique().tolist()
    if duplicated:
        raise ValueError(f"the {what} has duplicated column names: {duplicated}; rename or drop them")
    return data


def _check_number(name: str, value: Any, low: float, high: float = np.inf, *,
                  integer: bool = False, low_open: bool = False) -> None:
    """ValueError naming parameter ``name`` unless ``value`` is a finite number in ``[low, high]`` (``(low, high]``)."""
    number = isinstance(value, (int, np.integer)) if integer else isinstance(value, (int, float, np.number))
    ok = (number and not isinstance(value, (bool, np.bool_)) and bool(np.isfinite(value))
          and (value > low if low_open else value >= low) and value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {high}]"
        raise ValueError(f"{name} must be {'an integer' if integer else 'a number'} in {interval}, got {value!r}")


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
    every column, with two data-quality alarms that do not change ``drifted``
    unless ``alarms_count_as_drift``: a missing-rate change above
    ``max_missing_change`` and unseen categories above ``max_unseen_share``.

    On large references the Wasserstein distance is computed from fitted
    cell histograms in one linear pass (:mod:`nbprod.drift.binning`), and
    exactly (sorting the window) only when the threshold lies within the
    approximation's error bound, so decisions are always scipy's. KS is
    always exact. Both need the sorted reference values, kept per numeric
    column whose method is ``auto``, ``wasserstein`` or ``ks``: 8 bytes per
    reference value (8 MB per million rows and column).

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
        Resolution (>= 1) of the binned Wasserstein on large references (see :mod:`nbprod.drift.binning`).
    psi_bins : int, default 10
        Reference-quantile bins (>= 2) of numeric columns for PSI (fewer when the reference has ties).
    psi_eps : float, default :data:`nbprod.drift.stats.DEFAULT_PSI_EPS`
        Floor of the bin proportions in PSI.
    min_std : float, default :data:`nbprod.drift.stats.DEFAULT_MIN_STD`
        Floor of the Wasserstein normaliser (a constant reference has std 0).
    missing_column_drifts : bool, default True
        Whether a monitored column absent from a window counts as drifted.
    max_missing_change : float, default :data:`nbprod.drift.profiles.DEFAULT_MAX_MISSING_CHANGE`
        A column's ``missing_drifted`` alarm is raised when its missing-value
        rate moves by more than this (absolute change).
    max_unseen_share : float, default :data:`nbprod.drift.profiles.DEFAULT_MAX_UNSEEN_SHARE`
        A column's ``unseen_drifted`` alarm is raised when more than this share
        of its window values are categories unseen in the reference.
    alarms_count_as_drift : bool, default False
        Whether a raised alarm makes the column ``drifted`` (and so counts in
        the dataset share). Off by default: ``drifted`` is the statistic's decision.
    noise_floor : bool, default True
        Whether a distance's threshold (Wasserstein, Jensen-Shannon, PSI) is raised
        to the noise floor of windows of the compared size: what windows of that
        many rows drawn from the reference reach from sampling noise alone
        (:mod:`nbprod.drift.noise`). It matters on small windows of columns with
        many categories (150 categories: a 300-row window drawn from the reference
        reads a Jensen-Shannon distance near 0.2); on large windows the floor is far
        below the threshold. False: the configured thresholds as they are.

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
        Reference columns of unsupported dtypes (datetimes...), not monitored;
        each compare reports them with status ``"unsupported_dtype"``.
    settings_ : nbprod.drift.profiles.Settings
        The validated parameters a column comparison needs.
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
        psi_eps: float = DEFAULT_PSI_EPS,
        min_std: float = DEFAULT_MIN_STD,
        missing_column_drifts: bool = True,
        max_missing_change: float = pr.DEFAULT_MAX_MISSING_CHANGE,
        max_unseen_share: float = pr.DEFAULT_MAX_UNSEEN_SHARE,
        alarms_count_as_drift: bool = False,
        noise_floor: bool = True,
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
        self.max_missing_change = max_missing_change
        self.max_unseen_share = max_unseen_share
        self.alarms_count_as_drift = alarms_count_as_drift
        self.noise_floor = noise_floor

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

    def _validated_settings(self) -> pr.Settings:
        """The numeric parameters checked (ValueError naming the first bad one), as :class:`~profiles.Settings`."""
        _check_number("drift_share", self.drift_share, 0.0, 1.0)
        _check_number("small_sample_size", self.small_sample_size, 0, integer=True)
        _check_number("discrete_max_unique", self.discrete_max_unique, 0, integer=True)
        _check_number("n_cells", self.n_cells, 1, integer=True)
        _check_number("psi_bins", self.psi_bins, 2, integer=True)
        _check_number("psi_eps", self.psi_eps, 0.0, 1.0, low_open=True)
        _check_number("min_std", self.min_std, 0.0, low_open=True)
        _check_number("max_missing_change", self.max_missing_change, 0.0, 1.0)
        _check_number("max_unseen_share", self.max_unseen_share, 0.0, 1.0)
        for key, value in (self.thresholds or {}).items():
            _check_number(f"thresholds[{key!r}]", value, 0.0)
        return pr.Settings(int(self.small_sample_size), int(self.discrete_max_unique), float(self.min_std),
                           float(self.psi_eps), float(self.max_missing_change), float(self.max_unseen_share),
                           bool(self.alarms_count_as_drift), bool(self.noise_floor))

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
        reference = _as_frame(reference, "reference")
        self.settings_ = self._validated_settings()
        overrides = dict(self.kinds or {})
        bad = {k: v for k, v in overrides.items() if v not in KINDS}
        if bad:
            raise ValueError(f"kinds must be one of {KINDS}: {bad}")
        wanted = list(reference.columns) if self.columns is None else list(self.columns)
        repeated = pd.Index(wanted)[pd.Index(wanted).duplicated()].unique().tolist()
        if repeated:
            raise ValueError(f"columns names some columns more than once: {repeated}")
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
                prof = pr.fit_numeric(reference[col], int(self.n_cells), int(self.psi_bins), self.settings_,
                                      keep_sorted=self.methods_[col] in SORTED_METHODS)
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
        window = _as_frame(window, "window")
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
        not_compared = [(c, "not_in_reference") for c in extra] + [(c, "unsupported_dtype")
                                                                  for c in self.skipped_columns_]
        for col, status in not_compared:
            results.append(ColumnDrift(column=col, kind="unknown", method=None, statistic=nan, threshold=nan,
                                       drifted=None if empty else False, status="empty" if empty else status))
        counted = [r for r in results if r.counted]
        n_drifted = sum(bool(r.drifted) for r in counted)
        share = n_drifted / len(counted) if counted else nan
        drifted = None if empty else bool(counted) and bool(share >= self.drift_share)
        return DatasetDrift(
            columns=tuple(results), n_columns=len(counted), n_drifted=n_drifted, share=share,
            drift_share=float(self.drift_share), drifted=drifted, n_rows_reference=self.n_rows_reference_,
            n_rows_current=int(len(window)), status="empty" if empty else "ok",
            n_missing_alarms=sum(r.missing_drifted for r in results),
            n_unseen_alarms=sum(r.unseen_drifted for r in results),
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

    Notes
    -----
    Each call fits a new :class:`DriftDetector` on ``reference`` (a sort of
    it): to compare one reference with many windows, fit a detector on the
    reference predictions once and call :meth:`DriftDetector.compare`.
    """
    ref = pd.DataFrame({name: pd.Series(reference).reset_index(drop=True)})
    cur = pd.DataFrame({name: pd.Series(current).reset_index(drop=True)})
    det = DriftDetector(kinds={name: kind} if kind else None, **options).fit(ref)
    if name not in det.profiles_:
        raise ValueError(f"unsupported prediction dtype {ref[name].dtype}")
    return det.compare(cur).column(name)
