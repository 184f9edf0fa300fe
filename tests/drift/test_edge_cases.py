"""Defined behaviour, never a crash: empty windows, single rows, all-NaN, constant and missing columns."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as ss

from nbprod.drift import DriftDetector


def reference(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "x": rng.normal(size=n),
        "c": pd.Series(rng.choice(["a", "b", "c"], n)).astype("str"),
        "const": np.full(n, 7.0),
    })


def assert_serialisable(result):
    json.dumps(result.to_dict(), allow_nan=False)
    assert len(result.to_frame()) == len(result.columns)


@pytest.mark.parametrize("n_ref", [200, 3000])
def test_empty_window_gives_no_decision(n_ref):
    det = DriftDetector().fit(reference(n_ref))
    result = det.compare(reference(n_ref).iloc[:0])
    assert result.status == "empty" and result.drifted is None
    assert result.n_rows_current == 0 and result.n_columns == 0 and result.n_drifted == 0
    assert math.isnan(result.share)
    assert [c.status for c in result.columns] == ["empty"] * 3
    assert all(c.drifted is None for c in result.columns)
    assert_serialisable(result)
    assert DriftDetector().fit(reference()).compare(pd.DataFrame()).status == "empty"


@pytest.mark.parametrize("n_ref", [200, 3000])
def test_single_row_window(n_ref):
    ref = reference(n_ref)
    result = DriftDetector().fit(ref).compare(ref.iloc[[5]])
    assert result.status == "ok" and result.n_rows_current == 1
    x = result.column("x")
    assert x.n_current == 1 and x.status == "ok"
    if n_ref <= 1000:
        assert x.p_value == pytest.approx(ss.ks_2samp(ref.x, ref.x.iloc[[5]]).pvalue)
    else:
        # The binned approximation: the two CDFs cross inside the cell of the single value,
        # an error bounded by that cell's width (reported as error_bound) -- see nbprod.drift.binning.
        expected = ss.wasserstein_distance(ref.x, ref.x.iloc[[5]]) / np.std(ref.x)
        assert x.statistic == pytest.approx(expected, abs=5e-4)
        assert x.statistic <= expected + 1e-12 <= x.statistic + x.error_bound + 1e-12
    assert result.column("c").status == "ok" and isinstance(result.drifted, bool)
    assert_serialisable(result)


def test_single_row_reference():
    det = DriftDetector().fit(reference(1))
    result = det.compare(reference(50, seed=1))
    assert result.column("x").status == "ok" and result.column("x").method == "ks"
    assert_serialisable(result)


def test_all_nan_column_in_window_drifts():
    ref = reference()
    cur = reference(500, seed=1).assign(x=np.nan, c=None)
    result = DriftDetector().fit(ref).compare(cur)
    for name in ("x", "c"):
        col = result.column(name)
        assert col.status == "no_current_values" and col.drifted is True and col.method is None
        assert col.missing_rate_current == 1.0 and col.n_current == 0
    assert result.n_columns == 3 and result.n_drifted == 2
    assert_serialisable(result)


def test_all_nan_column_in_reference():
    ref = reference().assign(x=np.nan, c=pd.Series([None] * 3000, dtype="object"))
    det = DriftDetector(kinds={"c": "categorical"}).fit(ref)
    assert det.missing_rates_["x"] == 1.0
    filled = det.compare(reference(500, seed=1))
    assert filled.column("x").status == "no_reference_values" and filled.column("x").drifted is True
    assert filled.column("c").status == "no_reference_values" and filled.column("c").drifted is True
    still_empty = det.compare(reference(500, seed=1).assign(x=np.nan, c=None))
    assert still_empty.column("x").status == "no_values" and still_empty.column("x").drifted is False
    assert still_empty.column("x").counted
    assert_serialisable(filled)


def test_infinities_count_as_missing():
    ref = reference()
    cur = reference(100, seed=1)
    cur.loc[:9, "x"] = np.inf
    x = DriftDetector().fit(ref).compare(cur).column("x")
    assert x.missing_rate_current == pytest.approx(0.1) and x.n_current == 90


def test_constant_reference_column():
    ref = reference()
    det = DriftDetector().fit(ref)
    same = det.compare(reference(500, seed=1)).column("const")
    assert same.status == "ok" and same.method == "jensenshannon" and same.statistic == 0.0 and not same.drifted
    spread = pd.DataFrame({"const": np.linspace(6.0, 8.0, 100)})
    moved = DriftDetector(columns=["const"]).fit(ref).compare(spread).column("const")
    # More than discrete_max_unique values: Wasserstein normalised by max(std, min_std) = 0.001.
    assert moved.method == "wasserstein" and moved.drifted
    assert moved.statistic == pytest.approx(ss.wasserstein_distance(ref.const, spread.const) / 0.001, rel=1e-6)
    custom = DriftDetector(columns=["const"], min_std=1.0).fit(ref).compare(spread).column("const")
    assert custom.statistic == pytest.approx(ss.wasserstein_distance(ref.const, spread.const), rel=1e-6)


def test_constant_reference_column_small_sample_ks():
    ref = pd.DataFrame({"v": np.full(100, 2.0)})
    res = DriftDetector(method="ks").fit(ref).compare(pd.DataFrame({"v": [2.0, 2.0, 3.0]})).column("v")
    assert res.p_value == pytest.approx(ss.ks_2samp(ref.v, [2.0, 2.0, 3.0]).pvalue)


def test_column_missing_from_window():
    ref = reference()
    cur = reference(500, seed=1).drop(columns=["c"])
    result = DriftDetector().fit(ref).compare(cur)
    c = result.column("c")
    assert c.status == "missing_column" and c.drifted is True and c.counted
    assert math.isnan(c.missing_rate_current)
    assert result.n_columns == 3 and result.n_drifted == 1
    lenient = DriftDetector(missing_column_drifts=False).fit(ref).compare(cur)
    assert lenient.column("c").drifted is False and lenient.n_drifted == 0 and lenient.n_columns == 3
    assert_serialisable(result)


def test_column_absent_from_reference():
    ref = reference()
    det = DriftDetector(columns=["x", "ghost"]).fit(ref)
    assert det.absent_columns_ == ["ghost"] and det.columns_ == ["x"]
    cur = reference(500, seed=1).assign(ghost=1.0, extra="new")
    result = det.compare(cur)
    assert result.column("ghost").status == "not_in_reference"
    assert result.column("ghost").drifted is False and not result.column("ghost").counted
    assert result.n_columns == 1
    result = DriftDetector().fit(ref).compare(cur)
    assert result.column("extra").status == "not_in_reference" and result.n_columns == 3
    assert_serialisable(result)


def test_empty_reference():
    det = DriftDetector().fit(reference().iloc[:0])
    result = det.compare(reference(100))
    assert {c.status for c in result.columns} == {"no_reference_values"}
    assert result.drifted is True
    assert_serialisable(result)


def test_non_numeric_values_in_numeric_column_count_as_missing():
    ref = reference()
    cur = reference(100, seed=1).astype({"x": object})
    cur.loc[:4, "x"] = "oops"
    x = DriftDetector().fit(ref).compare(cur).column("x")
    assert x.status == "ok" and x.n_current == 95 and x.missing_rate_current == pytest.approx(0.05)


def test_series_and_dict_inputs():
    det = DriftDetector().fit({"x": np.arange(50.0)})
    assert det.compare(pd.Series(np.arange(50.0), name="x")).column("x").statistic == pytest.approx(0.0)
