"""Drift statistics as small pure functions of arrays.

Every function here is exact and compatible with its scipy counterpart
(``scipy.stats.wasserstein_distance``, ``ks_2samp``, ``chi2_contingency``,
``chisquare`` and ``scipy.spatial.distance.jensenshannon``); the binned, fitted variants used on
large windows live in :mod:`nbprod.drift.binning`.
"""

from __future__ import annotations

import numpy as np

#: scipy's ``ks_2samp(method="auto")`` switches from the exact to the asymptotic
#: p-value above this many rows in the larger sample.
KS_EXACT_MAX_N = 10_000
#: Default floor of the Wasserstein normaliser (a constant reference has std 0).
DEFAULT_MIN_STD = 0.001
#: Default floor of the bin proportions in PSI.
DEFAULT_PSI_EPS = 1e-4


def wasserstein_distance(u: np.ndarray, v: np.ndarray) -> float:
    """First Wasserstein distance between two 1-d samples, as scipy computes it.

    Parameters
    ----------
    u, v : numpy.ndarray
        Finite values of the two samples (at least one value each).

    Returns
    -------
    float
        ``integral |F_u(x) - F_v(x)| dx`` over the real line.
    """
    return wasserstein_sorted(np.sort(np.asarray(u, dtype=np.float64)), np.sort(np.asarray(v, dtype=np.float64)))


def wasserstein_sorted(u: np.ndarray, v: np.ndarray) -> float:
    """:func:`wasserstein_distance` of two samples already sorted (float64), same arithmetic as scipy."""
    allv = np.concatenate([u, v])
    allv.sort(kind="mergesort")
    deltas = np.diff(allv)
    cdf_u = np.searchsorted(u, allv[:-1], side="right") / u.size
    cdf_v = np.searchsorted(v, allv[:-1], side="right") / v.size
    return float(np.sum(np.abs(cdf_u - cdf_v) * deltas))


def normalized_wasserstein(reference: np.ndarray, current: np.ndarray, min_std: float = DEFAULT_MIN_STD) -> float:
    """Wasserstein distance divided by the reference standard deviation (Evidently's ``wasserstein``).

    Parameters
    ----------
    reference, current : numpy.ndarray
        Finite values of the two samples.
    min_std : float, default DEFAULT_MIN_STD (0.001)
        Floor of the normaliser, so that a constant reference (std 0) gives a
        finite distance: ``W / max(std(reference), min_std)``.

    Returns
    -------
    float
        The normalized distance (0 for identical samples).
    """
    reference = np.asarray(reference, dtype=np.float64)
    norm = max(stable_std(reference), min_std)
    return wasserstein_distance(reference, current) / norm


def stable_std(values: np.ndarray) -> float:
    """``np.std`` of finite values, without overflow where squares exceed float64 (|x| above ~1e154)."""
    values = np.asarray(values, dtype=np.float64)
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    if scale == 0.0 or not np.isfinite(scale):
        return float(np.std(values)) if values.size else float("nan")
    return float(np.std(values / scale)) * scale


def sorted_unique(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and their counts of an already sorted array, in one linear pass."""
    starts = np.flatnonzero(np.concatenate([[True], sorted_values[1:] != sorted_values[:-1]]))
    return sorted_values[starts], np.diff(np.append(starts, sorted_values.size))


def ks_statistic(reference: np.ndarray, current: np.ndarray, presorted: bool = False) -> float:
    """Two-sided Kolmogorov-Smirnov statistic ``sup |F_ref - F_cur|``, without sorting ``current``.

    Each value of ``current`` is located among the distinct values of the
    sorted ``reference`` (binary search), so the cost is linear in
    ``len(current)`` (times ``log`` of the reference's distinct values).

    Parameters
    ----------
    reference, current : numpy.ndarray
        Finite values of the two samples (at least one value each).
    presorted : bool, default False
        Whether ``reference`` is already sorted (float64): it is then not sorted again.

    Returns
    -------
    float
        The statistic in [0, 1].
    """
    reference = np.asarray(reference, dtype=np.float64)
    ref_values, ref_counts = sorted_unique(reference if presorted else np.sort(reference))
    current = np.asarray(current, dtype=np.float64)
    k = ref_values.size
    pos = np.searchsorted(ref_values, current, side="left")  # ref_values[pos-1] < x <= ref_values[pos]
    equal = np.zeros(current.size, dtype=bool)
    inside = pos < k
    equal[inside] = current[inside] == ref_values[pos[inside]]
    n_le = np.cumsum(np.bincount(pos, minlength=k + 1)[:k])  # #cur <= ref_values[j]
    n_eq = np.bincount(pos[equal], minlength=k)[:k]
    f_cur_right = n_le / current.size
    f_cur_left = (n_le - n_eq) / current.size
    cum_ref = np.cumsum(ref_counts) / ref_counts.sum()
    f_ref_left = np.concatenate([[0.0], cum_ref[:-1]])
    return float(max(np.max(np.abs(cum_ref - f_cur_right)), np.max(np.abs(f_ref_left - f_cur_left))))


def ks_pvalue(statistic: float, n1: int, n2: int) -> float:
    """Asymptotic two-sided KS p-value, as ``ks_2samp(method="asymp")`` computes it.

    Parameters
    ----------
    statistic : float
        The two-sample KS statistic.
    n1, n2 : int
        Sample sizes.

    Returns
    -------
    float
        ``kstwo.sf(d, round(n1 * n2 / (n1 + n2)))``.
    """
    from scipy.stats import kstwo

    m, n = sorted([float(n1), float(n2)], reverse=True)
    return float(np.clip(kstwo.sf(statistic, np.round(m * n / (m + n))), 0.0, 1.0))


def ks_test(reference: np.ndarray, current: np.ndarray, presorted: bool = False) -> tuple[float, float]:
    """Two-sample KS test with scipy's ``method="auto"`` p-value (``ks_2samp``'s result).

    Exact p-value (scipy itself) when both samples have at most
    :data:`KS_EXACT_MAX_N` rows, the asymptotic one otherwise (as scipy does),
    with the exact statistic computed without sorting ``current``
    (``presorted``: ``reference`` is already sorted, see :func:`ks_statistic`).

    Returns
    -------
    tuple of float
        ``(statistic, p_value)``.
    """
    if max(np.size(reference), np.size(current)) <= KS_EXACT_MAX_N:
        from scipy.stats import ks_2samp

        res = ks_2samp(reference, current)
        return float(res.statistic), float(res.pvalue)
    d = ks_statistic(reference, current, presorted)
    return d, ks_pvalue(d, np.size(reference), np.size(current))


def chi_square_test(reference_counts: np.ndarray, current_counts: np.ndarray) -> tuple[float, float]:
    """Two-sample chi-square test of homogeneity of two category distributions.

    Pearson's test on the 2 x k table of counts, without continuity
    correction: ``scipy.stats.chi2_contingency(table, correction=False)``. For
    two categories it is the pooled two-proportion z-test (Evidently's ``z``
    test for binary columns), since ``chi2 = z**2``. Unlike the goodness-of-fit
    form (:func:`chi_square_gof`), it accounts for the sampling noise of the
    reference, so its false-alarm rate stays at the nominal level when the
    reference is small. Categories absent from both samples are dropped;
    fewer than two categories, or an empty sample, give ``(0.0, 1.0)``.

    Parameters
    ----------
    reference_counts, current_counts : numpy.ndarray
        Counts over the same categories.

    Returns
    -------
    tuple of float
        ``(statistic, p_value)``.
    """
    from scipy.stats import chi2

    table = np.vstack([np.asarray(reference_counts, dtype=np.float64),
                       np.asarray(current_counts, dtype=np.float64)])
    table = table[:, table.sum(axis=0) > 0]
    rows = table.sum(axis=1)
    if table.shape[1] < 2 or np.any(rows == 0):
        return 0.0, 1.0
    expected = np.outer(rows, table.sum(axis=0)) / table.sum()
    stat = float(np.sum((table - expected) ** 2 / expected))
    return stat, float(chi2.sf(stat, table.shape[1] - 1))


def chi_square_gof(reference_counts: np.ndarray, current_counts: np.ndarray) -> tuple[float, float]:
    """Chi-square goodness of fit of the current counts to the reference frequencies.

    The expected counts are the reference counts scaled to the current total
    (Evidently's ``chisquare``). It treats the reference frequencies as exact,
    so with a reference of the window's size its false-alarm rate is well
    above the nominal level; :func:`chi_square_test` is the default. Equal to
    ``scipy.stats.chisquare(current, reference * n_cur / n_ref)``. Categories absent from both are dropped; a
    category seen in ``current`` but never in ``reference`` gives an infinite
    statistic and p-value 0; fewer than two categories give ``(0.0, 1.0)``.

    Parameters
    ----------
    reference_counts, current_counts : numpy.ndarray
        Counts over the same categories.

    Returns
    -------
    tuple of float
        ``(statistic, p_value)``.
    """
    from scipy.stats import chi2

    ref = np.asarray(reference_counts, dtype=np.float64)
    cur = np.asarray(current_counts, dtype=np.float64)
    keep = (ref > 0) | (cur > 0)
    ref, cur = ref[keep], cur[keep]
    if ref.size < 2 or cur.sum() == 0 or ref.sum() == 0:
        return 0.0, 1.0
    if np.any((ref == 0) & (cur > 0)):
        return float("inf"), 0.0
    expected = ref * (cur.sum() / ref.sum())
    stat = float(np.sum((cur - expected) ** 2 / expected))
    return stat, float(chi2.sf(stat, ref.size - 1))


def jensen_shannon_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance (natural log), as ``scipy.spatial.distance.jensenshannon``.

    Parameters
    ----------
    p, q : numpy.ndarray
        Counts or probabilities over the same categories (normalised here).

    Returns
    -------
    float
        The distance in [0, sqrt(ln 2)].
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    p = p / p.sum()
    q = q / q.sum()
    m = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log(q / m), 0.0).sum()
    return float(np.sqrt(max((kl_p + kl_q) / 2.0, 0.0)))


def psi(reference_counts: np.ndarray, current_counts: np.ndarray, eps: float = DEFAULT_PSI_EPS) -> float:
    """Population stability index ``sum((cur - ref) * ln(cur / ref))`` over bins.

    Parameters
    ----------
    reference_counts, current_counts : numpy.ndarray
        Counts (or proportions) over the same bins.
    eps : float, default DEFAULT_PSI_EPS (1e-4)
        Proportions are floored at ``eps`` so empty bins give a finite index.

    Returns
    -------
    float
        PSI (0 for identical distributions; > 0.1 is commonly read as a shift,
        > 0.25 as a major one).
    """
    ref = np.asarray(reference_counts, dtype=np.float64)
    cur = np.asarray(current_counts, dtype=np.float64)
    if ref.sum() <= 0 or cur.sum() <= 0:
        return float("nan")
    ref = np.maximum(ref / ref.sum(), eps)
    cur = np.maximum(cur / cur.sum(), eps)
    return float(np.sum((cur - ref) * np.log(cur / ref)))
