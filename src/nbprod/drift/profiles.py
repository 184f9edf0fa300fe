"""Per-column reference profiles (fitted once) and their comparison with a window column."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from nbprod.drift import binning, noise, stats
from nbprod.drift.results import ColumnDrift

#: Methods whose statistic is a p-value test (drift when ``p < threshold``).
PVALUE_METHODS = frozenset({"ks", "chisquare", "chisquare_gof"})
NUMERIC_METHODS = frozenset({"auto", "wasserstein", "ks", "jensenshannon", "chisquare", "chisquare_gof", "psi"})
CATEGORICAL_METHODS = frozenset({"auto", "jensenshannon", "chisquare", "chisquare_gof", "psi"})
#: Distance methods whose threshold is raised to the window size's noise floor (see :mod:`nbprod.drift.noise`).
FLOOR_METHODS = frozenset({"wasserstein", "jensenshannon", "psi"})
#: Window rows up to which the exact (sorting) Wasserstein is used against a small reference.
EXACT_WASSERSTEIN_MAX_N = 100_000
#: Relative float64 rounding allowed for in the binned Wasserstein, on top of its error bound.
ROUNDING_ALLOWANCE = 1e-9
#: Default largest absolute change of a column's missing-value rate before its alarm.
DEFAULT_MAX_MISSING_CHANGE = 0.1
#: Default largest share of window values of unseen categories before its alarm.
DEFAULT_MAX_UNSEEN_SHARE = 0.05


@dataclass(frozen=True)
class Settings:
    """The detector parameters a column comparison needs."""

    small_sample_size: int
    discrete_max_unique: int
    min_std: float
    psi_eps: float
    max_missing_change: float = DEFAULT_MAX_MISSING_CHANGE
    max_unseen_share: float = DEFAULT_MAX_UNSEEN_SHARE
    alarms_count_as_drift: bool = False
    noise_floor: bool = True


@dataclass(frozen=True)
class NumericProfile:
    """Fitted summary of a numeric reference column.

    ``counts``/``slack`` are the per-bin summaries over ``grid`` (see
    :mod:`nbprod.drift.binning`); ``psi_edges`` are the reference-quantile bin
    edges (about ``psi_bins`` bins) and ``psi_counts`` the reference counts in
    them; ``values``/``value_counts`` are kept when the column has at most
    ``discrete_max_unique`` distinct values. ``sorted_values`` (the sorted
    finite reference values, 8 bytes per value: 8 MB per million rows and
    column) is kept when the column may need the exact Wasserstein or KS
    statistic; it is what lets a compare decide exactly when the binned
    approximation cannot, and compute KS exactly on any reference size.
    ``quantiles`` (:data:`nbprod.drift.noise.QUANTILES` values) draw the windows
    of the Wasserstein noise floor; ``floors`` caches the floors by window size.
    """

    n: int
    n_rows: int
    missing_rate: float
    std: float
    grid: binning.CellGrid | None = None
    counts: np.ndarray | None = None
    slack: np.ndarray | None = None
    psi_edges: np.ndarray | None = None
    psi_counts: np.ndarray | None = None
    values: np.ndarray | None = None
    value_counts: np.ndarray | None = None
    sorted_values: np.ndarray | None = None
    quantiles: np.ndarray | None = None
    floors: dict = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class CategoricalProfile:
    """Fitted summary of a categorical reference column: its categories and their counts (``floors``: the
    cached noise floors by window size)."""

    n: int
    n_rows: int
    missing_rate: float
    categories: pd.Index
    counts: np.ndarray
    floors: dict = field(default_factory=dict, compare=False, repr=False)


def numeric_values(series: pd.Series) -> np.ndarray:
    """Finite values of ``series`` as float64 (non-numeric entries count as missing)."""
    if not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        series = pd.to_numeric(series.astype(object), errors="coerce")
    x = series.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(x)
    return x if finite.all() else x[finite]


def _rate(missing: int, rows: int) -> float:
    return missing / rows if rows else float("nan")


def fit_numeric(series: pd.Series, n_cells: int, psi_bins: int, settings: Settings,
                keep_sorted: bool = True) -> NumericProfile:
    """Summarise a numeric reference column (``keep_sorted``: keep its sorted values, see :class:`NumericProfile`)."""
    x = numeric_values(series)
    n, rows = int(x.size), int(series.size)
    if n == 0:
        return NumericProfile(0, rows, _rate(rows, rows), float("nan"))
    x = np.sort(x)
    grid = binning.make_grid(x, n_cells)
    counts, slack = binning.summarize(x, grid)
    edges = binning.quantile_edges(x, psi_bins)
    values, value_counts = None, None
    change = np.flatnonzero(np.diff(x)) if n > 1 else np.array([], dtype=np.intp)
    if change.size + 1 <= settings.discrete_max_unique:
        values, value_counts = np.unique(x, return_counts=True)
    return NumericProfile(
        n=n, n_rows=rows, missing_rate=_rate(rows - n, rows), std=stats.stable_std(x), grid=grid,
        counts=counts, slack=slack, psi_edges=edges, psi_counts=binning.edge_counts(x, edges),
        values=values, value_counts=value_counts, sorted_values=x if keep_sorted else None,
        quantiles=noise.quantile_grid(x),
    )


def fit_categorical(series: pd.Series) -> CategoricalProfile:
    """Summarise a categorical reference column."""
    vc = series.value_counts(dropna=True, sort=False)
    vc = vc[vc > 0]
    rows, n = int(series.size), int(vc.sum())
    cats = pd.Index(np.asarray(vc.index, dtype=object), dtype=object)
    return CategoricalProfile(n, rows, _rate(rows - n, rows), cats, vc.to_numpy(dtype=np.float64))


def _floor(prof, key: tuple, compute: Callable[[], float]) -> float:
    """The noise floor ``key`` of a profile, computed once (see :mod:`nbprod.drift.noise`)."""
    if key not in prof.floors:
        prof.floors[key] = compute()
    return prof.floors[key]


def raised_threshold(prof, method: str, statistic: float, threshold: float, n_cur: int, settings: Settings,
                     counts: np.ndarray | None = None, eps: float = stats.DEFAULT_PSI_EPS) -> tuple[float, float]:
    """``(threshold, noise floor)``: the threshold raised to the noise floor of windows of ``n_cur`` values.

    The floor is computed only when it can change the decision: a distance above the
    configured threshold, on a window small enough for :func:`nbprod.drift.noise.floor_bound`
    to reach the threshold; otherwise it is NaN and the threshold stays as configured.
    """
    if (not settings.noise_floor or method not in FLOOR_METHODS or not np.isfinite(statistic)
            or statistic <= threshold):
        return threshold, float("nan")
    size = noise.size_bucket(n_cur)
    if method == "wasserstein":
        norm = max(prof.std, settings.min_std)
        bound = noise.floor_bound(method, n_cur, prof.n, spread=noise.spread_of(prof.quantiles) / norm)
        if bound <= threshold:
            return threshold, float("nan")
        floor = _floor(prof, ("wasserstein", size),
                       lambda: noise.wasserstein_floor(prof.quantiles, prof.n, size, norm))
    else:
        bound = noise.floor_bound(method, n_cur, int(counts.sum()), categories=int(np.count_nonzero(counts)))
        if bound <= threshold:
            return threshold, float("nan")
        floor = _floor(prof, (method, counts.size, size), lambda: noise.counts_floor(counts, size, method, eps))
    return max(threshold, floor), floor


def _decide(method: str, value: float, threshold: float) -> bool:
    if not np.isfinite(value):
        return bool(value == np.inf) if method not in PVALUE_METHODS else False
    return bool(value < threshold) if method in PVALUE_METHODS else bool(value > threshold)


def _on_counts(method: str, ref: np.ndarray, cur: np.ndarray, eps: float) -> tuple[float, float | None]:
    """Statistic (and p-value) of a counts-based method."""
    if method == "chisquare":
        return stats.chi_square_test(ref, cur)
    if method == "chisquare_gof":
        return stats.chi_square_gof(ref, cur)
    if method == "jensenshannon":
        return stats.jensen_shannon_distance(ref, cur), None
    return stats.psi(ref, cur, eps), None


def _result(name: str, kind: str, prof, n_cur: int, rows: int, settings: Settings, *, drifted: bool,
            unseen_share: float = 0.0, **kw) -> ColumnDrift:
    """The column result, with its missing-rate and unseen-category alarms."""
    rate = _rate(rows - n_cur, rows)
    change = rate - prof.missing_rate
    missing_alarm = bool(abs(change) > settings.max_missing_change)  # False when NaN
    unseen_alarm = bool(unseen_share > settings.max_unseen_share)
    if settings.alarms_count_as_drift:
        drifted = drifted or missing_alarm or unseen_alarm
    return ColumnDrift(
        column=name, kind=kind, drifted=drifted, missing_rate_reference=prof.missing_rate,
        missing_rate_current=rate, missing_rate_change=change, n_reference=prof.n, n_current=n_cur,
        unseen_share=unseen_share, missing_drifted=missing_alarm, unseen_drifted=unseen_alarm, **kw,
    )


def _unavailable(name: str, kind: str, prof, n_cur: int, rows: int, settings: Settings) -> ColumnDrift | None:
    """The result when one side has no observed value (None when both have some)."""
    if prof.n and n_cur:
        return None
    status = "no_values" if not (prof.n or n_cur) else ("no_current_values" if prof.n else "no_reference_values")
    return _result(name, kind, prof, n_cur, rows, settings, method=None, statistic=float("nan"),
                   threshold=float("nan"), drifted=status != "no_values", status=status)


def _examples(keys, counts) -> tuple[str, ...]:
    order = np.argsort(-np.asarray(counts, dtype=np.float64), kind="stable")[:5]
    return tuple(str(keys[i]) for i in order)


def _wasserstein(prof: NumericProfile, x: np.ndarray, threshold: float,
                 settings: Settings) -> tuple[float, bool, float]:
    """Normalised Wasserstein ``(statistic, exact, error_bound)`` of window values ``x``.

    Binned (linear in rows) unless the threshold lies within the
    approximation's error bound (plus float rounding) of it, or the reference
    is small: then exact, from the kept sorted reference and the sorted window.
    A profile fitted without them (``keep_sorted=False``) always gives the binned value.
    """
    norm = max(prof.std, settings.min_std)
    small = prof.n <= settings.small_sample_size and x.size <= EXACT_WASSERSTEIN_MAX_N
    if not small or prof.sorted_values is None:
        counts, slack = binning.summarize(x, prof.grid)
        stat = binning.binned_wasserstein(prof.grid, prof.counts, prof.slack, counts, slack) / norm
        bound = binning.wasserstein_error_bound(prof.grid, prof.counts, counts) / norm
        rounding = ROUNDING_ALLOWANCE * (abs(stat) + prof.grid.span / norm)
        if abs(stat - threshold) > bound + rounding or prof.sorted_values is None:
            return stat, False, bound
    exact = stats.wasserstein_sorted(prof.sorted_values, np.sort(x)) / norm
    return exact, True, 0.0


def compare_numeric(name: str, prof: NumericProfile, series: pd.Series, method: str,
                    threshold: Callable[[str], float], settings: Settings) -> ColumnDrift:
    """Drift of a numeric window column against its profile."""
    x = numeric_values(series)
    n_cur, rows = int(x.size), int(series.size)
    if (done := _unavailable(name, "numeric", prof, n_cur, rows, settings)) is not None:
        return done
    small = prof.n <= settings.small_sample_size
    # Discrete columns (few distinct values on both sides, Evidently's rule): counts per value.
    discrete = None
    unseen = dict(unseen_count=0, unseen_share=0.0, unseen_examples=())
    if prof.values is not None:
        cur_known = np.array([np.count_nonzero(x == v) for v in prof.values], dtype=np.float64)
        n_new = n_cur - int(cur_known.sum())
        new_vals, new_counts = (np.unique(x[~np.isin(x, prof.values)], return_counts=True)
                                if n_new else (np.array([]), np.array([], dtype=np.int64)))
        if n_new:
            unseen = dict(unseen_count=n_new, unseen_share=n_new / n_cur,
                          unseen_examples=_examples(new_vals, new_counts))
        if prof.values.size + new_vals.size <= settings.discrete_max_unique:
            discrete = (np.concatenate([prof.value_counts, np.zeros(new_vals.size)]),
                        np.concatenate([cur_known, new_counts]))
    if method == "auto":
        if discrete is not None:
            method = "chisquare" if small else "jensenshannon"
        else:
            method = "ks" if small else "wasserstein"
    ref_d, cur_d = discrete if discrete is not None else (prof.psi_counts, binning.edge_counts(x, prof.psi_edges))
    thr = threshold(method)
    p_value, exact, bound, floor = None, True, 0.0, float("nan")
    if method == "wasserstein":
        stat, exact, bound = _wasserstein(prof, x, thr, settings)
        raised, floor = raised_threshold(prof, method, stat, thr, n_cur, settings)
        if raised > thr:
            thr = raised
            stat, exact, bound = _wasserstein(prof, x, thr, settings)
    elif method == "ks":
        if prof.sorted_values is None:
            raise ValueError(f"column {name!r}: KS needs the sorted reference; fit it with keep_sorted=True")
        stat, p_value = stats.ks_test(prof.sorted_values, x, presorted=True)
    else:
        stat, p_value = _on_counts(method, ref_d, cur_d, settings.psi_eps)
        known = prof.value_counts if discrete is not None else prof.psi_counts
        thr, floor = raised_threshold(prof, method, float(stat), thr, n_cur, settings, known, settings.psi_eps)
    return _result(name, "numeric", prof, n_cur, rows, settings, method=method, statistic=float(stat),
                   threshold=thr, drifted=_decide(method, p_value if method in PVALUE_METHODS else stat, thr),
                   p_value=p_value, psi=stats.psi(ref_d, cur_d, settings.psi_eps), status="ok", exact=exact,
                   error_bound=bound, noise_floor=floor, **unseen)


def compare_categorical(name: str, prof: CategoricalProfile, series: pd.Series, method: str,
                        threshold: Callable[[str], float], settings: Settings) -> ColumnDrift:
    """Drift of a categorical window column against its profile."""
    vc = series.value_counts(dropna=True, sort=False)
    vc = vc[vc > 0]
    n_cur, rows = int(vc.sum()), int(series.size)
    if (done := _unavailable(name, "categorical", prof, n_cur, rows, settings)) is not None:
        return done
    keys = np.asarray(vc.index, dtype=object)
    values = vc.to_numpy(dtype=np.float64)
    pos = prof.categories.get_indexer(pd.Index(keys, dtype=object))
    seen = pos >= 0
    cur = np.zeros(prof.counts.size)
    cur[pos[seen]] = values[seen]
    new_counts = values[~seen]
    ref_d = np.concatenate([prof.counts, np.zeros(new_counts.size)])
    cur_d = np.concatenate([cur, new_counts])
    if method == "auto":
        method = "chisquare" if prof.n <= settings.small_sample_size else "jensenshannon"
    stat, p_value = _on_counts(method, ref_d, cur_d, settings.psi_eps)
    thr, floor = raised_threshold(prof, method, float(stat), threshold(method), n_cur, settings, prof.counts,
                                  settings.psi_eps)
    n_new = int(new_counts.sum())
    return _result(
        name, "categorical", prof, n_cur, rows, settings, method=method, statistic=float(stat), threshold=thr,
        drifted=_decide(method, p_value if method in PVALUE_METHODS else stat, thr), p_value=p_value,
        psi=stats.psi(ref_d, cur_d, settings.psi_eps), status="ok", exact=True, error_bound=0.0, noise_floor=floor,
        unseen_count=n_new, unseen_share=n_new / n_cur, unseen_examples=_examples(keys[~seen], new_counts),
    )
