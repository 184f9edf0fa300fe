"""Fitted cell grids: Wasserstein on large windows without sorting them; PSI bins.

The reference core ``[lo, hi]`` (between its :data:`TAIL_SHARE` and
``1 - TAIL_SHARE`` quantiles) is cut into ``n_cells`` equal cells; outside it,
the distinct reference values (at most :data:`TAIL_MAX_POINTS` a side) are cell
edges and each gap between two of them is cut into :data:`TAIL_SPLIT` equal cells, so that an outlier neither
widens the core cells nor shares a wide cell with the window. One bin below
the reference minimum and one above its maximum complete the grid. A sample is
summarised per bin by its count and its *slack*, ``sum(right_edge - x)``: one
vectorised pass (arithmetic cell index in the core, a binary search for the
few values outside it, two ``bincount``), linear in rows.

Wasserstein approximation
-------------------------
With these two numbers per bin, ``integral F(x) dx`` over every cell is exact
for both empirical CDFs (``width * F(left-) + slack / n``), and so are the two
tails outside the reference range, where its CDF is 0 or 1. The only
approximation is ``|integral (F_ref - F_cur)|`` in place of
``integral |F_ref - F_cur|`` inside a cell where the two CDFs cross: the result
is a lower bound of scipy's ``wasserstein_distance``, exact when the CDFs do not
cross inside any cell, and short by at most ``sum over crossing cells of
width * (mass_ref + mass_cur)`` -- at most one cell width per crossing that
carries the whole mass (a one-row window). With the default 16,384 cells the
observed error on 1e4-1e6-row samples is about 1e-6 reference standard
deviations. Cells can still be wide where the reference is sparse (between
far-apart outliers): :func:`wasserstein_error_bound`
computes the bound for each window (``2 * width * min(max D, -min D)`` over the
cells where ``D = F_ref - F_cur`` may change sign, never more than the bound
above), and the detector computes the exact statistic whenever the threshold
lies within that bound of the approximation, so the decision is scipy's.

KS is not binned: evaluated at cell edges it is short by up to the mass of a
cell, which on skewed data is far from small; the detector computes it exactly
(:func:`nbprod.drift.stats.ks_test`).

PSI bins
--------
:func:`quantile_edges` takes the reference's exact quantiles as bin edges and
:func:`edge_counts` places a sample in them with one comparison per edge
(linear in rows; faster than ``np.searchsorted`` for a few edges).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Share of the reference on each side kept out of the equal-width core, its values as cell edges.
TAIL_SHARE = 1e-3
#: Equal cells between consecutive reference values in the tails.
TAIL_SPLIT = 16
#: Most reference values used as tail edges on each side (evenly ranked beyond), so the grid's size
#: -- and the per-window cost over it -- does not grow with the reference.
TAIL_MAX_POINTS = 1024


@dataclass(frozen=True, eq=False)
class CellGrid:
    """Equal-width cells over the reference core ``[lo, hi]``, then one cell per reference value outside it.

    ``below`` / ``above`` are the distinct reference values under ``lo`` / over
    ``hi`` (its outermost :data:`TAIL_SHARE` on each side): each is a cell edge,
    so outliers neither widen the core cells nor share a cell with the window.
    """

    lo: float
    hi: float
    n_cells: int
    below: np.ndarray = field(default_factory=lambda: np.empty(0))
    above: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def edges(self) -> np.ndarray:
        """All cell edges, increasing: ``below``, the core's ``n_cells + 1`` edges, ``above``."""
        return np.concatenate([self.below, np.linspace(self.lo, self.hi, self.n_cells + 1), self.above])

    @property
    def span(self) -> float:
        """Distance from the first cell edge to the last (the reference range)."""
        first = self.below[0] if self.below.size else self.lo
        last = self.above[-1] if self.above.size else self.hi
        return float(last - first)

    @property
    def n_bins(self) -> int:
        """Cells plus the two open-ended outer bins."""
        return self.below.size + self.n_cells + self.above.size + 2

    @property
    def right_edges(self) -> np.ndarray:
        """Right edge of each bin (the below-bin's is the first edge, the above-bin's the last)."""
        edges = self.edges
        return np.concatenate([edges, edges[-1:]])

    @property
    def widths(self) -> np.ndarray:
        """Width of each bin; 0 for the two open-ended outer bins."""
        return np.concatenate([[0.0], np.diff(self.edges), [0.0]])


def make_grid(values: np.ndarray, n_cells: int) -> CellGrid:
    """A grid over finite ``values``: the core between their :data:`TAIL_SHARE` quantiles, their tails outside.

    The core is the whole range when the quantiles coincide (one cell when the values are constant).
    """
    lo, hi = (float(q) for q in np.quantile(values, [TAIL_SHARE, 1.0 - TAIL_SHARE]))
    if hi <= lo:
        lo, hi = float(np.min(values)), float(np.max(values))
        return CellGrid(lo, hi, n_cells if hi > lo else 1)
    below = _split_gaps(np.append(_tail_points(values[values < lo]), lo))[:-1]
    above = _split_gaps(np.insert(_tail_points(values[values > hi]), 0, hi))[1:]
    return CellGrid(lo, hi, n_cells, below, above)


def _tail_points(tail: np.ndarray) -> np.ndarray:
    """Distinct values of ``tail``, thinned to :data:`TAIL_MAX_POINTS` evenly ranked ones (the extremes kept)."""
    points = np.unique(tail)
    if points.size > TAIL_MAX_POINTS:
        points = points[np.unique(np.linspace(0, points.size - 1, TAIL_MAX_POINTS).round().astype(np.intp))]
    return points


def _split_gaps(points: np.ndarray) -> np.ndarray:
    """``points`` (increasing) with each gap between consecutive ones cut into :data:`TAIL_SPLIT` equal cells."""
    steps = np.arange(TAIL_SPLIT) / TAIL_SPLIT
    inner = points[:-1, None] + np.diff(points)[:, None] * steps
    return np.append(inner.ravel(), points[-1])


def cell_index(x: np.ndarray, grid: CellGrid) -> np.ndarray:
    """Bin of each value: 0 below the first edge, then the cells in order, ``n_bins - 1`` from the last edge on."""
    m, k = grid.n_cells, grid.below.size
    if grid.hi <= grid.lo:
        idx = np.ones(x.size, dtype=np.intp)
        idx[x < grid.lo] = 0
        idx[x > grid.hi] = 2
        return idx
    t = x - grid.lo
    t *= m / (grid.hi - grid.lo)
    np.floor(t, out=t)
    np.clip(t, -1.0, m - 1.0, out=t)
    idx = t.astype(np.intp)
    del t
    idx += k + 1
    low = np.flatnonzero(x < grid.lo)
    idx[low] = np.searchsorted(grid.below, x[low], side="right")
    high = np.flatnonzero(x > grid.hi)
    idx[high] = k + m + 1 + np.searchsorted(grid.above, x[high], side="right")
    return idx


def summarize(x: np.ndarray, grid: CellGrid) -> tuple[np.ndarray, np.ndarray]:
    """Counts and slacks ``sum(right_edge - x)`` of finite values ``x`` per bin of ``grid``."""
    nbins = grid.n_bins
    idx = cell_index(x, grid)
    counts = np.bincount(idx, minlength=nbins).astype(np.float64)
    slack = grid.right_edges[idx]
    slack -= x
    sums = np.bincount(idx, weights=slack, minlength=nbins)
    return counts, sums


def binned_wasserstein(
    grid: CellGrid,
    ref_counts: np.ndarray,
    ref_slack: np.ndarray,
    cur_counts: np.ndarray,
    cur_slack: np.ndarray,
) -> float:
    """Wasserstein distance from per-bin summaries (see the module docstring for the bound)."""
    n_ref, n_cur = ref_counts.sum(), cur_counts.sum()
    f_ref = np.concatenate([[0.0], np.cumsum(ref_counts)[:-1]]) / n_ref  # F(left edge -)
    f_cur = np.concatenate([[0.0], np.cumsum(cur_counts)[:-1]]) / n_cur
    inner = grid.widths * (f_ref - f_cur) + ref_slack / n_ref - cur_slack / n_cur
    tails = cur_slack[0] / n_cur - cur_slack[-1] / n_cur  # sum(min - x) below, sum(x - max) above
    return float(np.abs(inner[1:-1]).sum() + tails)


def wasserstein_error_bound(grid: CellGrid, ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Largest possible shortfall of :func:`binned_wasserstein` below the exact distance.

    Inside a cell ``D = F_ref - F_cur`` stays within ``[lo, hi]`` with
    ``lo = F_ref(left) - F_cur(right)`` and ``hi = F_ref(right) - F_cur(left)``;
    when ``lo < 0 < hi`` it may change sign there and the approximation may miss
    ``2 * min(integral D+, integral D-) <= 2 * width * min(hi, -lo)``.

    Parameters
    ----------
    grid : CellGrid
        The grid both samples were summarised on.
    ref_counts, cur_counts : numpy.ndarray
        Counts per bin of the two samples.

    Returns
    -------
    float
        The bound, in the units of the data (0 when no cell can hold a crossing).
    """
    c_ref = np.cumsum(ref_counts) / ref_counts.sum()
    c_cur = np.cumsum(cur_counts) / cur_counts.sum()
    hi = c_ref - np.concatenate([[0.0], c_cur[:-1]])
    lo = np.concatenate([[0.0], c_ref[:-1]]) - c_cur
    crossing = (lo < 0.0) & (hi > 0.0)
    return float(2.0 * np.sum(grid.widths[crossing] * np.minimum(hi, -lo)[crossing]))


def quantile_edges(sorted_values: np.ndarray, n_bins: int) -> np.ndarray:
    """Inner bin edges at the reference quantiles ``1/n_bins, ..., (n_bins-1)/n_bins``.

    A bin holds the values ``edge[i-1] <= x < edge[i]``. Tied quantiles (one
    value holding more than a bin's share) give a single edge, so a block of
    ties stays in one bin; an edge at the reference minimum is dropped, as it
    would leave the first bin empty. Data with ties thus gets fewer bins.

    Parameters
    ----------
    sorted_values : numpy.ndarray
        Finite reference values, sorted (at least one).
    n_bins : int
        Wanted number of bins.

    Returns
    -------
    numpy.ndarray
        Increasing edges: ``len(edges) + 1`` bins.
    """
    edges = np.unique(np.quantile(sorted_values, np.arange(1, n_bins) / n_bins))
    return edges[edges > sorted_values[0]]


def edge_counts(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of ``x`` in the ``len(edges) + 1`` bins of :func:`quantile_edges`."""
    below = [np.count_nonzero(x < e) for e in edges]
    return np.diff(np.array([0, *below, x.size], dtype=np.float64))
