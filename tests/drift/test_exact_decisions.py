"""Decisions equal to scipy's where an approximation could flip them: Wasserstein near the threshold, KS, PSI bins."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as ss

from nbprod.drift import DriftDetector

THRESHOLD = 0.1


def exact_wasserstein(ref, cur):
    return ss.wasserstein_distance(ref, cur) / np.std(ref)


@pytest.fixture(scope="module")
def outlier_reference():
    """1M N(0, 1) values and one at 1e5: every one of the 16,384 cells is ~6 units wide."""
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": np.append(rng.normal(0, 1, 1_000_000), 1e5)})


def test_wasserstein_near_threshold_with_an_outlier(outlier_reference):
    """The reviewer's case: equal-width cells over [min, max] gave 0.0998 (no drift) for an exact 0.1047."""
    ref = outlier_reference.x.to_numpy()
    cur = pd.DataFrame({"x": np.random.default_rng(1).normal(0, 14, 1_000_000)})
    expected = exact_wasserstein(ref, cur.x)
    assert abs(expected - THRESHOLD) < 0.01
    det = DriftDetector().fit(outlier_reference)
    x = det.compare(cur).column("x")
    assert x.drifted is bool(expected > THRESHOLD)
    assert x.statistic <= expected + 1e-12 <= x.statistic + x.error_bound + 1e-9
    assert x.error_bound < 1e-3  # the outlier is a cell edge of its own, the core cells stay narrow
    # A threshold within the bound of the approximation: the exact statistic decides.
    at_threshold = DriftDetector(thresholds={"wasserstein": expected}).fit(outlier_reference).compare(cur).column("x")
    assert at_threshold.exact is True and at_threshold.error_bound == 0.0
    assert at_threshold.statistic == pytest.approx(expected, rel=1e-12)
    just_below = DriftDetector(thresholds={"wasserstein": expected - 1e-6}).fit(outlier_reference).compare(cur)
    assert just_below.column("x").exact is True and just_below.column("x").drifted is True


@pytest.mark.parametrize("scale", [1.0, 5.0, 12.0, 13.0, 14.0, 20.0, 40.0])
def test_wasserstein_decision_is_scipys_whatever_the_bound(outlier_reference, scale):
    ref = outlier_reference.x.to_numpy()
    cur = np.random.default_rng(int(scale)).normal(0, scale, 200_000)
    det = DriftDetector().fit(outlier_reference)
    x = det.compare(pd.DataFrame({"x": cur})).column("x")
    expected = exact_wasserstein(ref, cur)
    assert x.drifted is bool(expected > THRESHOLD)
    if x.exact:
        assert x.statistic == pytest.approx(expected, rel=1e-9)
    else:  # approximate only when the threshold is out of the bound's reach
        assert x.statistic <= expected + 1e-12 <= x.statistic + x.error_bound + 1e-9
        assert abs(x.statistic - THRESHOLD) > x.error_bound


def test_wasserstein_stays_binned_far_from_the_threshold():
    rng = np.random.default_rng(2)
    ref, cur = rng.normal(0, 1, 50_000), rng.normal(0, 1, 50_000)
    x = DriftDetector().fit(pd.DataFrame({"x": ref})).compare(pd.DataFrame({"x": cur})).column("x")
    assert x.exact is False and 0.0 <= x.error_bound < 1e-3
    assert x.statistic == pytest.approx(exact_wasserstein(ref, cur), abs=x.error_bound + 1e-9)
    assert x.to_dict()["exact"] is False


@pytest.mark.parametrize("shape", [1.1, 2.5])
def test_ks_on_large_skewed_reference_matches_scipy(shape):
    """Pareto reference of 5,000 rows (KS configured): statistic, p-value and decisions are ks_2samp's."""
    rng = np.random.default_rng(3)
    ref = rng.pareto(shape, 5000)
    det = DriftDetector(method="ks").fit(pd.DataFrame({"v": ref}))
    agree, drifted = 0, 0
    for _ in range(40):
        cur = rng.pareto(shape, 2000) * 1.15
        res = det.compare(pd.DataFrame({"v": cur})).column("v")
        expected = ss.ks_2samp(ref, cur)
        assert res.method == "ks" and res.exact is True
        assert res.statistic == pytest.approx(expected.statistic, abs=1e-12)
        assert res.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
        agree += res.drifted is bool(expected.pvalue < 0.05)
        drifted += res.drifted
    assert agree == 40 and 0 < drifted < 40  # near the 5% boundary: both decisions occur


def test_ks_asymptotic_regime_matches_scipy():
    rng = np.random.default_rng(4)
    ref, cur = rng.pareto(1.5, 30_000), rng.pareto(1.5, 12_000) * 1.03
    res = DriftDetector(method="ks").fit(pd.DataFrame({"v": ref})).compare(pd.DataFrame({"v": cur})).column("v")
    expected = ss.ks_2samp(ref, cur)
    assert res.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert res.p_value == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-300)


def psi_on_deciles(ref, cur, eps=1e-4):
    """PSI by the textbook: reference deciles as edges, both samples counted by np.searchsorted."""
    edges = np.unique(np.quantile(ref, np.arange(1, 10) / 10))
    r = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=edges.size + 1) / ref.size
    c = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=edges.size + 1) / cur.size
    r, c = np.maximum(r, eps), np.maximum(c, eps)
    return float(np.sum((c - r) * np.log(c / r)))


def test_psi_uses_reference_deciles_on_skewed_data():
    rng = np.random.default_rng(5)
    ref, cur = rng.lognormal(0, 2.5, 20_000), rng.lognormal(0.3, 2.5, 10_000)
    det = DriftDetector().fit(pd.DataFrame({"x": ref}))
    x = det.compare(pd.DataFrame({"x": cur})).column("x")
    assert x.psi == pytest.approx(psi_on_deciles(ref, cur), rel=1e-9)
    assert det.profiles_["x"].psi_counts.tolist() == [2000.0] * 10


def test_psi_bins_parameter_and_ties():
    rng = np.random.default_rng(6)
    ref = np.r_[np.zeros(6000), rng.exponential(1.0, 4000)]  # 60% zeros: one bin for the tie block
    det = DriftDetector(psi_bins=5).fit(pd.DataFrame({"x": ref}))
    counts = det.profiles_["x"].psi_counts
    assert counts[0] == 6000 and counts.size == 3 and counts.min() > 0


def test_ks_without_kept_reference_values_raises_clearly():
    from nbprod.drift import profiles

    settings = profiles.Settings(small_sample_size=1000, discrete_max_unique=5, min_std=1e-3, psi_eps=1e-4)
    prof = profiles.fit_numeric(pd.Series(np.arange(100.0)), 64, 10, settings, keep_sorted=False)
    with pytest.raises(ValueError, match="'v': KS needs the sorted reference"):
        profiles.compare_numeric("v", prof, pd.Series(np.arange(50.0)), "ks", lambda m: 0.05, settings)
    wasserstein = profiles.compare_numeric("v", prof, pd.Series(np.arange(50.0)), "wasserstein",
                                           lambda m: 0.1, settings)
    assert wasserstein.exact is False and wasserstein.drifted is True  # binned, decided within its bound
