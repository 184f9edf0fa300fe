"""Fitted cell grids: Wasserstein on large windows without sorting them; PSI bins.

The reference range ``[lo, hi]`` is cut into ``n_cells`` equal cells, plus one
bin below ``lo`` and one above ``hi`` (``n_cells + 2`` bins). A sample is
summarised per bin by its count and its *slack*, ``sum(right_edge - x)``: one
vectorised pass (arithmetic cell index, two ``bincount``), linear in rows.

Wasserstein approximation
-------------------------
With these two numbers per bin, ``integral F(x) dx`` over every cell is exact
for both empirical CDFs (``width * F(left-) + slack / n``), and so are the two
tails outside ``[lo, hi]``, where the reference CDF is 0 or 1. The only
approximation is ``|integral (F_ref - F_cur)|`` in place of
``integral |F_ref - F_cur|`` inside a cell where the two CDFs cross: the result
is a lower bound of scipy's ``wasserstein_distance``, exact when the CDFs do not
cross inside any cell, and short by at most ``sum over crossing cells of
width * (mass_ref + mass_cur)`` -- at most one cell width, ``(hi - lo) /
n_cells``, per crossing that carries the whole mass (a one-row window). With
the default 16,384 cells the observed error on 1e4-1e6-row samples is about
1e-6 reference standard deviations. A single outlier in the reference makes
every cell wide, though, and the error with it: :func:`wasserstein_error_bound`
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

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CellGrid:
    """Equal-width cells over the reference range ``[lo, hi]``."""

    lo: float
    hi: float
    n_cells: int

    @property
    def right_edges(self) -> np.ndarray:
        """Right edge of each of the ``n_cells + 2`` bins (the below-bin's is ``lo``, the above-bin's ``hi``)."""
        edges = np.linspace(self.lo, self.hi, self.n_cells + 1)
        return np.concatenate([edges, [self.hi]])

    @property
    def widths(self) -> np.ndarray:
        """Width of each bin; 0 for the two open-ended outer bins."""
        edges = np.linspace(self.lo, self.hi, self.n_cells + 1)
        return np.concatenate([[0.0], np.diff(edges), [0.0]])


def make_grid(values: np.ndarray, n_cells: int) -> CellGrid:
    """A grid over the range of finite ``values`` (one cell when they are constant)."""
    lo, hi = float(np.min(values)), float(np.max(values))
    return CellGrid(lo, hi, n_cells if hi > lo else 1)


def cell_index(x: np.ndarray, grid: CellGrid) -> np.ndarray:
    """Bin of each value: 0 below ``lo``, 1..n_cells inside, ``n_cells + 1`` above ``hi``."""
    m = grid.n_cells
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
    idx += 1
    idx[x > grid.hi] = m + 1
    return idx


def summarize(x: np.ndarray, grid: CellGrid) -> tuple[np.ndarray, np.ndarray]:
    """Counts and slacks ``sum(right_edge - x)`` of finite values ``x`` per bin of ``grid``."""
    nbins = grid.n_cells + 2
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
    tails = cur_slack[0] / n_cur - cur_slack[-1] / n_cur  # sum(lo - x) below, sum(x - hi) above
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
