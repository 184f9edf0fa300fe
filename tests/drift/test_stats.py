"""The drift statistics against scipy's own functions."""

import numpy as np
import pytest
from scipy import stats as ss
from scipy.spatial.distance import jensenshannon

from nbprod.drift import binning, stats


def _samples(rng, kind, n, shift=0.0):
    if kind == "normal":
        return rng.normal(shift, 1 + shift, n)
    if kind == "lognormal":
        return rng.lognormal(shift, 1.5, n)
    if kind == "integers":
        return rng.integers(1, 13, n).astype(float) + np.round(shift * 3)
    if kind == "mixture":
        return np.concatenate([rng.normal(shift, 1, n - n // 50), rng.normal(10, 0.1, n // 50)])
    raise ValueError(kind)


KINDS = ["normal", "lognormal", "integers", "mixture"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shift", [0.0, 0.5])
def test_wasserstein_matches_scipy(kind, shift):
    rng = np.random.default_rng(1)
    u, v = _samples(rng, kind, 3000), _samples(rng, kind, 1700, shift)
    assert stats.wasserstein_distance(u, v) == pytest.approx(ss.wasserstein_distance(u, v), rel=1e-12, abs=1e-12)
    expected = ss.wasserstein_distance(u, v) / np.std(u)
    assert stats.normalized_wasserstein(u, v) == pytest.approx(expected, rel=1e-12)


def test_normalized_wasserstein_constant_reference_uses_min_std():
    u = np.full(50, 3.0)
    v = np.array([3.0, 4.0])
    assert stats.normalized_wasserstein(u, v) == pytest.approx(0.5 / 0.001)
    assert stats.normalized_wasserstein(u, v, min_std=0.5) == pytest.approx(1.0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shift", [0.0, 0.5])
@pytest.mark.parametrize("n_cells", [4096, 16384])
def test_binned_wasserstein_close_to_scipy(kind, shift, n_cells):
    """The fitted approximation: within 1e-4 reference std of scipy (observed ~1e-6), never above it."""
    rng = np.random.default_rng(2)
    ref, cur = _samples(rng, kind, 50_000), _samples(rng, kind, 30_000, shift)
    grid = binning.make_grid(ref, n_cells)
    rc, rs = binning.summarize(ref, grid)
    cc, cs = binning.summarize(cur, grid)
    approx = binning.binned_wasserstein(grid, rc, rs, cc, cs)
    exact = ss.wasserstein_distance(ref, cur)
    assert approx <= exact + 1e-9
    assert abs(approx - exact) / np.std(ref) < 1e-4


def test_binned_wasserstein_exact_outside_reference_range():
    rng = np.random.default_rng(3)
    ref = rng.uniform(0, 1, 2000)
    cur = rng.uniform(-2, 5, 5000)
    grid = binning.make_grid(ref, 1024)
    approx = binning.binned_wasserstein(grid, *binning.summarize(ref, grid), *binning.summarize(cur, grid))
    assert approx == pytest.approx(ss.wasserstein_distance(ref, cur), rel=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_ks_statistic_matches_scipy(kind):
    rng = np.random.default_rng(5)
    ref, cur = _samples(rng, kind, 800), _samples(rng, kind, 20_000, 0.2)
    assert stats.ks_statistic(ref, cur) == pytest.approx(ss.ks_2samp(ref, cur).statistic, abs=1e-12)


@pytest.mark.parametrize("n_cur", [1, 5, 900, 25_000])
def test_ks_test_matches_scipy_auto(n_cur):
    rng = np.random.default_rng(6)
    ref, cur = rng.normal(0, 1, 700), rng.normal(0.15, 1, n_cur)
    d, p = stats.ks_test(ref, cur)
    expected = ss.ks_2samp(ref, cur)
    assert d == pytest.approx(expected.statistic, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-12)


def test_ks_pvalue_matches_scipy_asymptotic():
    rng = np.random.default_rng(7)
    ref, cur = rng.normal(0, 1, 900), rng.normal(0.05, 1, 3000)
    expected = ss.ks_2samp(ref, cur, method="asymp")
    assert stats.ks_pvalue(expected.statistic, ref.size, cur.size) == pytest.approx(expected.pvalue, rel=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_chi_square_test_matches_chi2_contingency(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 8))
    ref = rng.integers(0, 200, k).astype(float)
    cur = rng.integers(0, 200, k).astype(float)
    ref[0] += 1
    cur[0] += 1
    res = ss.chi2_contingency(np.vstack([ref, cur]), correction=False)
    stat, p = stats.chi_square_test(ref, cur)
    assert stat == pytest.approx(res.statistic, rel=1e-10)
    assert p == pytest.approx(res.pvalue, rel=1e-8, abs=1e-300)


def test_chi_square_test_binary_equals_two_proportion_z_test():
    ref, cur = np.array([300.0, 700.0]), np.array([360.0, 640.0])
    p1, p2 = ref[0] / ref.sum(), cur[0] / cur.sum()
    pooled = (ref[0] + cur[0]) / (ref.sum() + cur.sum())
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / ref.sum() + 1 / cur.sum()))
    assert stats.chi_square_test(ref, cur)[1] == pytest.approx(2 * ss.norm.sf(abs(z)), rel=1e-9)


def test_chi_square_test_keeps_unseen_categories_and_degenerate_cases():
    stat, p = stats.chi_square_test(np.array([10.0, 10.0, 0.0]), np.array([10.0, 10.0, 5.0]))
    res = ss.chi2_contingency(np.array([[10, 10, 0], [10, 10, 5]]), correction=False)
    assert (stat, p) == pytest.approx((res.statistic, res.pvalue))
    assert stats.chi_square_test(np.array([5.0]), np.array([7.0])) == (0.0, 1.0)
    assert stats.chi_square_test(np.array([5.0, 0.0]), np.array([0.0, 0.0])) == (0.0, 1.0)


@pytest.mark.parametrize("seed", range(4))
def test_chi_square_gof_matches_scipy_chisquare(seed):
    rng = np.random.default_rng(seed)
    ref = rng.integers(1, 300, 6).astype(float)
    cur = rng.integers(0, 300, 6).astype(float)
    res = ss.chisquare(cur, ref * cur.sum() / ref.sum())
    stat, p = stats.chi_square_gof(ref, cur)
    assert stat == pytest.approx(res.statistic, rel=1e-10)
    assert p == pytest.approx(res.pvalue, rel=1e-8, abs=1e-300)


def test_chi_square_gof_unseen_category_is_infinite():
    assert stats.chi_square_gof(np.array([5.0, 5.0, 0.0]), np.array([5.0, 5.0, 1.0])) == (float("inf"), 0.0)


@pytest.mark.parametrize("seed", range(4))
def test_jensen_shannon_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    p, q = rng.integers(0, 50, 9).astype(float), rng.integers(0, 50, 9).astype(float)
    p[0] += 1
    q[1] += 1
    assert stats.jensen_shannon_distance(p, q) == pytest.approx(jensenshannon(p, q), rel=1e-10, abs=1e-12)


def test_jensen_shannon_bounds():
    assert stats.jensen_shannon_distance(np.array([1.0, 0.0]), np.array([1.0, 0.0])) == 0.0
    assert stats.jensen_shannon_distance(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(np.sqrt(np.log(2)))


def test_psi_formula():
    ref, cur = np.array([50.0, 30.0, 20.0]), np.array([40.0, 30.0, 30.0])
    r, c = ref / ref.sum(), cur / cur.sum()
    assert stats.psi(ref, cur) == pytest.approx(np.sum((c - r) * np.log(c / r)))
    assert stats.psi(ref, ref * 3) == pytest.approx(0.0)
    assert np.isfinite(stats.psi(np.array([1.0, 0.0]), np.array([0.0, 1.0])))
    assert np.isnan(stats.psi(np.array([0.0, 0.0]), np.array([1.0, 1.0])))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shift", [0.0, 0.5])
def test_wasserstein_error_bound_covers_the_shortfall(kind, shift):
    rng = np.random.default_rng(9)
    ref = np.append(_samples(rng, kind, 20_000), 1e4)  # one outlier: wide cells
    cur = _samples(rng, kind, 5_000, shift)
    grid = binning.make_grid(ref, 1024)
    rc, rs = binning.summarize(ref, grid)
    cc, cs = binning.summarize(cur, grid)
    shortfall = ss.wasserstein_distance(ref, cur) - binning.binned_wasserstein(grid, rc, rs, cc, cs)
    bound = binning.wasserstein_error_bound(grid, rc, cc)
    assert -1e-9 <= shortfall <= bound + 1e-9
    assert bound <= np.sum(grid.widths * (rc / rc.sum() + cc / cc.sum()))  # the module docstring's cruder bound


def test_wasserstein_error_bound_is_zero_without_crossing():
    ref = np.linspace(0.0, 1.0, 1001)
    grid = binning.make_grid(ref, 10)
    rc = binning.summarize(ref, grid)[0]
    assert binning.wasserstein_error_bound(grid, rc, binning.summarize(ref + 5.0, grid)[0]) == 0.0


def test_ks_statistic_presorted_reference():
    rng = np.random.default_rng(10)
    ref, cur = np.sort(rng.pareto(1.5, 30_000)), rng.pareto(1.5, 50_000) * 1.15
    assert stats.ks_statistic(ref, cur, presorted=True) == pytest.approx(ss.ks_2samp(ref, cur).statistic, abs=1e-12)
    values, counts = stats.sorted_unique(np.array([1.0, 1.0, 2.0, 5.0, 5.0, 5.0]))
    assert values.tolist() == [1.0, 2.0, 5.0] and counts.tolist() == [2, 1, 3]


@pytest.mark.parametrize("kind", KINDS + ["heavy"])
def test_quantile_edges_are_reference_deciles(kind):
    rng = np.random.default_rng(8)
    ref = rng.lognormal(0, 2.5, 20_000) if kind == "heavy" else _samples(rng, kind, 20_000)
    edges = binning.quantile_edges(np.sort(ref), 10)
    counts = binning.edge_counts(ref, edges)
    expected = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=edges.size + 1)
    assert counts.tolist() == expected.tolist() and counts.sum() == ref.size
    if kind == "integers":  # 12 tied values: a bin holds whole values, so shares are multiples of ~1/12
        largest_tie = np.unique(ref, return_counts=True)[1].max() / ref.size
        assert counts.min() > 0 and np.all(counts / ref.size <= 0.1 + largest_tie)
    else:
        assert counts.size == 10 and np.all(np.abs(counts / ref.size - 0.1) <= 1e-3)


def test_quantile_edges_with_a_tie_block():
    ref = np.sort(np.r_[np.zeros(500), np.arange(1.0, 501.0)])  # half the reference is 0
    edges = binning.quantile_edges(ref, 10)
    counts = binning.edge_counts(ref, edges)
    assert counts[0] == 500  # the tie block is one bin, not several empty ones
    assert counts.min() > 0 and counts.size == 6
    assert edges[0] > 0.0


def test_grid_core_and_tails():
    rng = np.random.default_rng(11)
    ref = np.append(rng.normal(size=100_000), [-50.0, 1e5])
    grid = binning.make_grid(ref, 1024)
    assert grid.lo == pytest.approx(np.quantile(ref, binning.TAIL_SHARE))
    assert grid.hi == pytest.approx(np.quantile(ref, 1 - binning.TAIL_SHARE))
    assert grid.span == 1e5 + 50.0 and grid.edges[0] == -50.0 and grid.edges[-1] == 1e5
    assert np.all(np.diff(grid.edges) > 0) and grid.widths.size == grid.n_bins
    assert (grid.hi - grid.lo) / grid.n_cells < 7.0 / 1024  # core cells ~7 std / n_cells, not 1e5 / n_cells
    counts = binning.summarize(ref, grid)[0]
    assert counts.sum() == ref.size and counts[0] == 0
    constant = binning.make_grid(np.full(10, 3.0), 1024)
    assert (constant.n_cells, constant.span, constant.n_bins) == (1, 0.0, 3)


@pytest.mark.parametrize("scale", [1.0, 1e6, 1e160])  # above the min_std floor
def test_normalized_wasserstein_does_not_overflow_on_huge_values(scale):
    rng = np.random.default_rng(3)
    reference, current = rng.normal(size=2000) * scale, rng.normal(size=500) * scale + 5 * scale
    expected = ss.wasserstein_distance(reference / scale, current / scale) / np.std(reference / scale)
    assert stats.normalized_wasserstein(reference, current) == pytest.approx(expected, rel=1e-9)
    assert stats.stable_std(reference) == pytest.approx(np.std(reference / scale) * scale, rel=1e-12)
