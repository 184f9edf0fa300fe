"""The sampling noise of a distance on a window of ``n`` rows: the floor a distance threshold is raised to.

A distance between a window and the reference (Jensen-Shannon, Wasserstein, PSI) is
not 0 when the window is drawn from the reference itself: ``n`` rows spread over
``k`` categories miss some and over-fill others, and the distance grows like
``sqrt(k / n)``. With 150 categories a 300-row window drawn from the reference reads
a Jensen-Shannon distance of about 0.2, twice the usual threshold of 0.1. The
*noise floor* of a column for windows of ``n`` rows is ``mean + Z * sd`` of the
distance between the reference and :data:`DRAWS` windows of ``n`` rows drawn from it
(a parametric bootstrap, with the reference's own sampling noise: both sides are
drawn, the reference at its size). A column drifts when its distance is above the
configured threshold *and* above this floor; on large windows the floor is far
below the threshold and changes nothing.

Draws are seeded, so a floor is the same on every call; the detector computes one
only for a column whose distance exceeds the threshold, once per window size (it is
cached in the column's profile; sizes within 5% share the floor of the smallest,
:func:`size_bucket`). Wasserstein floors are drawn from a grid of
:data:`QUANTILES` reference quantiles, at most :data:`BASE_ROWS` rows per draw; a
larger window's floor is scaled from that size by ``sqrt(1/n + 1/m)``, the rate at
which the distance between two samples of ``n`` and ``m`` rows shrinks.

Measured on a 150-category Zipf-like column (reference of 50,000 rows, 50 seeded
windows per case; ``tests/drift/test_small_windows.py``): windows of 100, 300 and
1,000 rows drawn from the reference raise no alarm (with the bare 0.1 threshold every
one of them did). The price is power on small windows: a shift whose population
Jensen-Shannon distance is 0.33 is flagged in 50 of 50 windows of 100 rows, one of
0.23 in 30 of 50 at 100 rows and 49 of 50 at 300, one of 0.13 in none at 100 rows,
2 of 50 at 300 and 44 of 50 at 1,000. A numeric mean shift of half a standard
deviation is flagged in 48 of 50 windows of 100 rows, a quarter of one in 16 of 50
(46 of 50 at 300).
"""

from __future__ import annotations

import numpy as np

#: Windows drawn from the reference to estimate a noise floor.
DRAWS = 200
#: Standard deviations above the mean of the drawn distances: the floor.
Z = 4.0
#: Largest window drawn for a Wasserstein floor; larger windows are scaled from this size.
BASE_ROWS = 2000
#: Reference quantiles kept for the Wasserstein floor.
QUANTILES = 4096
#: Seed of the draws (a floor does not depend on the order of the comparisons).
SEED = 20131001
#: Window sizes share a floor within this ratio: the floor of the largest size of a geometric grid at or below
#: the window's (a little higher than the window's own, so never lower), computed once for all of them.
SIZE_STEP = 1.05


def size_bucket(n: int) -> int:
    """The grid size at or below ``n`` whose floor stands for ``n``'s (``n`` itself up to 20 rows)."""
    if n <= 20:
        return max(int(n), 1)
    return max(int(SIZE_STEP ** np.floor(np.log(n) / np.log(SIZE_STEP))), 20)


def floor_of(values: np.ndarray, z: float = Z) -> float:
    """``mean + z * sd`` of drawn distances."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean() + z * values.std(ddof=1))


def jensen_shannon_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon distance (natural log) between the rows of two count matrices."""
    p = p / p.sum(axis=1, keepdims=True)
    q = q / q.sum(axis=1, keepdims=True)
    m = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / m), 0.0).sum(axis=1)
        kl_q = np.where(q > 0, q * np.log(q / m), 0.0).sum(axis=1)
    return np.sqrt(np.maximum((kl_p + kl_q) / 2.0, 0.0))


def psi_rows(reference: np.ndarray, current: np.ndarray, eps: float) -> np.ndarray:
    """PSI between the rows of two count matrices (proportions floored at ``eps``)."""
    ref = np.maximum(reference / reference.sum(axis=1, keepdims=True), eps)
    cur = np.maximum(current / current.sum(axis=1, keepdims=True), eps)
    return np.sum((cur - ref) * np.log(cur / ref), axis=1)


def draw_counts(probabilities: np.ndarray, n: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """``draws`` rows of counts of ``n`` values drawn from ``probabilities`` (one row per draw)."""
    k = probabilities.size
    if n <= 8 * k:  # few values over many categories: draw the values, count them
        values = rng.choice(k, size=(draws, n), p=probabilities)
        offsets = (np.arange(draws) * k)[:, None]
        return np.bincount((values + offsets).ravel(), minlength=draws * k).reshape(draws, k).astype(np.float64)
    return rng.multinomial(n, probabilities, size=draws).astype(np.float64)


def counts_floor(reference_counts: np.ndarray, n: int, method: str, eps: float, *, draws: int = DRAWS,
                 z: float = Z, seed: int = SEED) -> float:
    """Noise floor of ``method`` (``jensenshannon`` or ``psi``) on windows of ``n`` values over these categories.

    Parameters
    ----------
    reference_counts : numpy.ndarray
        Reference counts per category (or bin).
    n : int
        Observed values in the window.
    method : str
        ``"jensenshannon"`` or ``"psi"``.
    eps : float
        PSI's floor of the proportions.

    Returns
    -------
    float
        ``mean + z * sd`` of the distance between the reference and ``n``-value
        draws from its frequencies, scaled by ``sqrt(1 + n / m)`` for the
        reference's own noise (``m`` reference values).
    """
    counts = np.asarray(reference_counts, dtype=np.float64)
    m = float(counts.sum())
    if m <= 0 or n < 1 or np.count_nonzero(counts) < 2:
        return 0.0
    probabilities = counts / m
    window = draw_counts(probabilities, int(n), draws, np.random.default_rng(seed))
    reference = np.broadcast_to(counts, window.shape)
    values = jensen_shannon_rows(reference, window) if method == "jensenshannon" else psi_rows(reference, window, eps)
    return floor_of(values, z) * float(np.sqrt(1.0 + n / m))


def floor_bound(method: str, n: int, m: int, *, categories: int = 0, spread: float = 0.0, z: float = Z) -> float:
    """A cheap upper estimate of the noise floor; when it is below the threshold, no floor is drawn.

    Jensen-Shannon: ``JSD <= ln(2) / 2 * triangular discrimination <= ln(2) / 2 * chi2 / n``, with the
    chi-square of ``k - 1`` degrees of freedom at ``mean + z * sd``. PSI: twice the chi-square's.
    Wasserstein: ``sqrt(n) * W`` tends to ``integral |B(F(x))| dx`` (``B`` a Brownian bridge) whose
    mean is ``sqrt(2 / pi) * spread`` and standard deviation at most ``spread`` (``spread``:
    ``integral sqrt(F (1 - F)) dx`` over the normaliser, :func:`spread_of`).
    """
    scale = 1.0 / max(n, 1) + 1.0 / max(m, 1)
    if method == "wasserstein":
        return (np.sqrt(2.0 / np.pi) + z) * spread * float(np.sqrt(scale))
    df = max(categories - 1, 1)
    chi2 = (df + z * np.sqrt(2.0 * df)) * scale
    return float(np.sqrt(np.log(2.0) / 2.0 * chi2)) if method == "jensenshannon" else float(2.0 * chi2)


def spread_of(quantiles: np.ndarray) -> float:
    """``integral sqrt(F (1 - F)) dx`` of the distribution the quantile grid describes."""
    grid = quantiles.size
    levels = (np.arange(1, grid)) / grid
    return float(np.sum(np.sqrt(levels * (1.0 - levels)) * np.diff(quantiles)))


def quantile_grid(sorted_values: np.ndarray, size: int = QUANTILES) -> np.ndarray:
    """``size`` reference quantiles at the midpoints ``(j + 0.5) / size`` of sorted values."""
    positions = ((np.arange(size) + 0.5) / size * sorted_values.size).astype(np.int64)
    return sorted_values[np.minimum(positions, sorted_values.size - 1)]


def wasserstein_floor(quantiles: np.ndarray, m: int, n: int, norm: float, *, draws: int = DRAWS, z: float = Z,
                      seed: int = SEED) -> float:
    """Noise floor of the normalised Wasserstein distance on windows of ``n`` values (reference of ``m``).

    Windows of ``min(n, BASE_ROWS)`` values are drawn from the quantile grid (the
    reference's distribution), their distance to it is ``mean |x_(i) - Q(u)|`` over
    the grid, and the floor is scaled to ``n`` and ``m`` by ``sqrt(size * (1/n + 1/m))``.
    """
    if n < 1 or m < 1 or quantiles.size < 2:
        return 0.0
    size = int(min(n, BASE_ROWS))
    grid = quantiles.size
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.integers(0, grid, size=(draws, size)), axis=1)
    samples = quantiles[picks]
    positions = np.minimum(((np.arange(grid) + 0.5) / grid * size).astype(np.int64), size - 1)
    distances = np.abs(samples[:, positions] - quantiles).mean(axis=1) / norm
    return floor_of(distances, z) * float(np.sqrt(size * (1.0 / n + 1.0 / m)))
