"""Small windows of many-category columns: sampling noise alone raises no alarm, a real shift still does.

A 150-category Zipf-like column, a reference of 50,000 rows (so ``auto`` uses the
Jensen-Shannon distance and the Wasserstein distance, not the p-value tests). Windows
of 100, 300 and 1,000 rows drawn from the reference itself must not drift; windows of
the same sizes from a shifted distribution must. All draws are seeded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbprod.drift import DriftDetector, noise

CATEGORIES = 150
SIZES = (100, 300, 1000)
DRAWS = 50


def zipf(categories: int = CATEGORIES, power: float = 1.1) -> np.ndarray:
    weights = 1.0 / np.arange(1, categories + 1) ** power
    return weights / weights.sum()


def table(n: int, probabilities: np.ndarray, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = np.array([f"c{i:03d}" for i in range(probabilities.size)])
    return pd.DataFrame({"c": rng.choice(names, n, p=probabilities), "x": rng.normal(shift, 1.0, n)})


def rotated(probabilities: np.ndarray, top: int = 20, by: int = 10) -> np.ndarray:
    """The popularity of the ``top`` categories rotated by ``by`` places (the category mix changes)."""
    result = probabilities.copy()
    result[:top] = np.roll(probabilities[:top], by)
    return result


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return table(50_000, zipf())


@pytest.fixture(scope="module")
def detector(reference):
    return DriftDetector().fit(reference)


@pytest.mark.parametrize("size", SIZES)
def test_windows_drawn_from_the_reference_raise_no_alarm(reference, detector, size):
    results = [detector.compare(reference.sample(size, random_state=seed)) for seed in range(DRAWS)]
    assert {r.column("c").method for r in results} == {"jensenshannon"}
    assert [r.column("c").column for r in results if r.column("c").drifted] == []
    assert [r.column("x").column for r in results if r.column("x").drifted] == []
    # the configured threshold alone would have raised an alarm on every one of them
    plain = DriftDetector(noise_floor=False).fit(reference)
    noisy = sum(bool(plain.compare(reference.sample(size, random_state=seed)).column("c").drifted)
                for seed in range(DRAWS))
    assert noisy == DRAWS
    assert all(r.column("c").threshold > 0.1 and r.column("c").threshold == r.column("c").noise_floor
               for r in results)


@pytest.mark.parametrize("size", SIZES)
def test_a_shifted_window_of_the_same_size_drifts(detector, size):
    shifted = [detector.compare(table(size, rotated(zipf()), shift=0.5, seed=1000 + seed)) for seed in range(DRAWS)]
    assert all(r.column("c").drifted for r in shifted)
    flagged_x = sum(bool(r.column("x").drifted) for r in shifted)
    assert flagged_x >= (0.9 if size == 100 else 1.0) * DRAWS  # half a standard deviation, on 100 rows: 48 of 50


def test_large_windows_keep_the_configured_threshold_and_draw_nothing(reference):
    detector = DriftDetector().fit(reference)
    result = detector.compare(table(200_000, rotated(zipf()), shift=0.5, seed=7))
    for name in ("c", "x"):
        column = result.column(name)
        assert column.drifted and column.threshold == 0.1 and np.isnan(column.noise_floor)
    assert all(not profile.floors for profile in detector.profiles_.values())


def test_a_floor_is_computed_once_per_window_size(reference):
    detector = DriftDetector().fit(reference)
    first = detector.compare(reference.sample(300, random_state=1)).column("c")
    (key,) = detector.profiles_["c"].floors
    assert key == ("jensenshannon", CATEGORIES, noise.size_bucket(300)) and 0.9 * 300 < key[2] <= 300
    again = detector.compare(reference.sample(290, random_state=2)).column("c")  # 290 and 300: the same floor (sizes within 5%)
    assert again.threshold == first.threshold and len(detector.profiles_["c"].floors) == 1
    assert [noise.size_bucket(n) for n in (1, 20, 21, 1000)] == [1, 20, 20, noise.size_bucket(1000)]
    assert all(n / noise.SIZE_STEP - 1 < noise.size_bucket(n) <= n for n in range(21, 5000, 7))


def test_the_cheap_bound_is_above_the_drawn_floor():
    counts = np.round(zipf() * 50_000)
    quantiles = noise.quantile_grid(np.sort(np.random.default_rng(0).exponential(size=50_000)))
    norm = float(np.std(quantiles))
    for size in (50, 300, 2_000, 20_000):
        assert noise.counts_floor(counts, size, "jensenshannon", 1e-4) < noise.floor_bound(
            "jensenshannon", size, int(counts.sum()), categories=CATEGORIES)
        assert noise.wasserstein_floor(quantiles, 50_000, size, norm) < noise.floor_bound(
            "wasserstein", size, 50_000, spread=noise.spread_of(quantiles) / norm)
    assert noise.counts_floor(counts, 300, "jensenshannon", 1e-4) == noise.counts_floor(counts, 300, "jensenshannon",
                                                                                          1e-4)
