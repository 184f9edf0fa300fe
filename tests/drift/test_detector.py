"""DriftDetector: estimator conventions, method selection, configuration, results."""

import inspect
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats as ss
from scipy.spatial.distance import jensenshannon

from nbprod.drift import (
    ColumnDrift, DatasetDrift, DriftDetector, infer_kind, performance_drift, prediction_drift,
)


def frame(n, seed=0, shift=0.0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "x": rng.normal(shift, 1, n),
        "y": rng.exponential(1 + shift, n),
        "k": rng.integers(0, 3, n),                      # numeric, 3 distinct values
        "c": pd.Series(rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1] if not shift
                                  else [0.1, 0.2, 0.3, 0.4])).astype("str"),
        "flag": rng.random(n) < 0.3,
    })


def test_init_stores_arguments_unchanged():
    kinds, thresholds = {"k": "categorical"}, {"wasserstein": 0.2}
    det = DriftDetector(columns=["x"], kinds=kinds, method={"numeric": "ks"}, thresholds=thresholds, drift_share=0.3)
    params = inspect.signature(DriftDetector).parameters
    assert set(vars(det)) == set(params)
    assert det.kinds is kinds and det.thresholds is thresholds and det.drift_share == 0.3
    DriftDetector(drift_share=7.0)  # no validation before fit


def test_fit_returns_self_and_learned_attributes_end_with_underscore():
    det = DriftDetector()
    before = set(vars(det))
    assert det.fit(frame(2000)) is det
    learned = set(vars(det)) - before
    assert learned and all(name.endswith("_") for name in learned)
    assert det.columns_ == ["x", "y", "k", "c", "flag"]
    assert det.kinds_ == {"x": "numeric", "y": "numeric", "k": "numeric", "c": "categorical", "flag": "categorical"}
    assert det.n_rows_reference_ == 2000
    assert set(det.missing_rates_) == set(det.columns_)


def test_compare_before_fit_raises():
    with pytest.raises(RuntimeError, match="not fitted"):
        DriftDetector().compare(frame(10))


def test_invalid_configuration_raises_at_fit():
    with pytest.raises(ValueError, match="drift_share"):
        DriftDetector(drift_share=1.5).fit(frame(10))
    with pytest.raises(ValueError, match="kinds"):
        DriftDetector(kinds={"x": "text"}).fit(frame(10))
    with pytest.raises(ValueError, match="does not apply"):
        DriftDetector(method="wasserstein").fit(frame(10))  # categorical columns too


def test_infer_kind():
    assert infer_kind(np.dtype("float32")) == "numeric"
    assert infer_kind(np.dtype("int64")) == "numeric"
    assert infer_kind(pd.Int64Dtype()) == "numeric"
    assert infer_kind(np.dtype("bool")) == "categorical"
    assert infer_kind(np.dtype("O")) == "categorical"
    assert infer_kind(pd.StringDtype()) == "categorical"
    assert infer_kind(pd.CategoricalDtype(["a"])) == "categorical"
    assert infer_kind(np.dtype("datetime64[ns]")) is None


def test_datetime_columns_skipped_and_kind_overrides():
    ref = frame(300).assign(ts=pd.date_range("2024-01-01", periods=300, freq="h"))
    det = DriftDetector(kinds={"k": "categorical"}).fit(ref)
    assert det.skipped_columns_ == ["ts"]
    assert det.kinds_["k"] == "categorical"
    result = det.compare(ref)
    ts = result.column("ts")
    assert ts.status == "unsupported_dtype" and ts.drifted is False and not ts.counted
    assert result.n_columns == 5


def test_auto_method_follows_reference_size():
    small = DriftDetector().fit(frame(1000)).compare(frame(500, seed=1))
    assert {c.column: c.method for c in small.columns} == {
        "x": "ks", "y": "ks", "k": "chisquare", "c": "chisquare", "flag": "chisquare"}
    large = DriftDetector().fit(frame(1001)).compare(frame(500, seed=1))
    assert {c.column: c.method for c in large.columns} == {
        "x": "wasserstein", "y": "wasserstein", "k": "jensenshannon", "c": "jensenshannon", "flag": "jensenshannon"}
    assert all(c.p_value is not None for c in small.columns)
    assert all(c.p_value is None for c in large.columns)


def test_detects_shift_and_not_noise():
    det = DriftDetector().fit(frame(20_000))
    same = det.compare(frame(20_000, seed=1))
    assert same.n_drifted == 0 and same.drifted is False and same.share == 0.0
    moved = det.compare(frame(20_000, seed=2, shift=0.5))
    assert set(moved.drifted_columns) == {"x", "y", "c"}
    assert moved.n_columns == 5 and moved.n_drifted == 3 and moved.share == pytest.approx(0.6)
    assert moved.drifted is True


def test_statistics_match_scipy_on_columns():
    ref, cur = frame(5000), frame(3000, seed=1, shift=0.3)
    result = DriftDetector().fit(ref).compare(cur)
    x = result.column("x")
    assert x.statistic == pytest.approx(ss.wasserstein_distance(ref.x, cur.x) / np.std(ref.x), abs=1e-4)
    c = result.column("c")
    keys = ["a", "b", "c", "d"]
    p = ref.c.value_counts().reindex(keys).to_numpy()
    q = cur.c.value_counts().reindex(keys).to_numpy()
    assert c.statistic == pytest.approx(jensenshannon(p, q), rel=1e-9)
    small = DriftDetector().fit(ref.head(800)).compare(cur)
    assert small.column("x").p_value == pytest.approx(ss.ks_2samp(ref.x.head(800), cur.x).pvalue, rel=1e-6)
    p8 = ref.c.head(800).value_counts().reindex(keys).to_numpy()
    assert small.column("c").p_value == pytest.approx(
        ss.chi2_contingency(np.vstack([p8, q]), correction=False).pvalue, rel=1e-8)


def test_methods_and_thresholds_per_kind_and_column():
    ref, cur = frame(3000), frame(3000, seed=1, shift=0.2)
    det = DriftDetector(method={"numeric": "psi", "c": "chisquare_gof", "y": "ks"},
                        thresholds={"psi": 0.5, "x": 0.001}, noise_floor=False).fit(ref)
    result = det.compare(cur)
    assert result.column("x").method == "psi" and result.column("x").threshold == 0.001
    # with the noise floor (the default), a threshold below what 3000 reference rows reach by chance is raised to it
    floored = DriftDetector(method={"numeric": "psi"}, thresholds={"x": 0.001}).fit(ref).compare(cur).column("x")
    assert floored.threshold == floored.noise_floor > 0.001 and floored.drifted is True
    assert result.column("k").method == "psi" and result.column("k").threshold == 0.5
    assert result.column("y").method == "ks" and result.column("y").threshold == 0.05
    assert result.column("c").method == "chisquare_gof"
    assert result.column("flag").method == "jensenshannon"
    assert result.column("x").drifted is True  # psi of a 0.2 shift > 0.001
    assert result.column("x").statistic == pytest.approx(result.column("x").psi)


def test_numeric_column_with_jensenshannon_uses_quantile_bins():
    ref, cur = frame(5000), frame(5000, seed=1, shift=1.0)
    result = DriftDetector(method={"x": "jensenshannon"}).fit(ref).compare(cur)
    assert result.column("x").method == "jensenshannon" and result.column("x").drifted


def test_discrete_numeric_becomes_continuous_when_window_has_many_values():
    ref = pd.DataFrame({"k": np.tile([0.0, 1.0, 2.0], 1000)})
    det = DriftDetector().fit(ref)
    few = det.compare(pd.DataFrame({"k": [0.0, 1.0, 2.0, 3.0] * 50}))
    assert few.column("k").method == "jensenshannon"
    assert few.column("k").unseen_count == 50 and few.column("k").unseen_examples == ("3.0",)
    many = det.compare(pd.DataFrame({"k": np.arange(200.0)}))
    assert many.column("k").method == "wasserstein" and many.column("k").drifted


def test_drift_share_rule():
    ref, cur = frame(3000), frame(3000, seed=1, shift=0.5)  # 3 of 5 columns drift
    assert DriftDetector(drift_share=0.6).fit(ref).compare(cur).drifted is True
    assert DriftDetector(drift_share=0.61).fit(ref).compare(cur).drifted is False


def test_missing_rates_and_unseen_categories():
    ref = pd.DataFrame({"v": np.r_[np.arange(90.0), [np.nan] * 10],
                        "c": ["a", "b"] * 45 + [None] * 10})
    cur = pd.DataFrame({"v": np.r_[np.arange(50.0), [np.nan] * 50],
                        "c": ["a"] * 40 + ["z"] * 30 + ["y"] * 20 + [None] * 10})
    result = DriftDetector().fit(ref).compare(cur)
    v = result.column("v")
    assert (v.missing_rate_reference, v.missing_rate_current) == (0.1, 0.5)
    assert v.missing_rate_change == pytest.approx(0.4)
    assert (v.n_reference, v.n_current) == (90, 50)
    c = result.column("c")
    assert c.unseen_count == 50 and c.unseen_share == pytest.approx(50 / 90)
    assert c.unseen_examples == ("z", "y")
    assert c.drifted


def test_category_and_object_dtypes_compare_alike():
    ref = pd.DataFrame({"c": pd.Categorical(["a", "b", "b", "c"] * 400)})
    cur = pd.DataFrame({"c": ["a", "b", "b", "c"] * 100})
    result = DriftDetector().fit(ref).compare(cur)
    assert result.column("c").statistic == pytest.approx(0.0) and result.column("c").unseen_count == 0


def test_results_frame_and_dict():
    result = DriftDetector().fit(frame(2000)).compare(frame(2000, seed=1, shift=0.5))
    assert isinstance(result, DatasetDrift) and all(isinstance(c, ColumnDrift) for c in result.columns)
    df = result.to_frame()
    assert list(df.column) == ["x", "y", "k", "c", "flag"]
    for field in ("column", "kind", "method", "statistic", "threshold", "drifted", "p_value", "psi",
                  "missing_rate_reference", "missing_rate_current", "unseen_count", "unseen_share",
                  "unseen_examples", "status"):
        assert field in df.columns
    d = result.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["n_columns"] == 5 and d["drifted"] is True and len(d["columns"]) == 5
    assert d["columns"][0]["column"] == "x"


def test_detector_reused_on_many_windows_is_stable():
    det = DriftDetector().fit(frame(5000))
    window = frame(1000, seed=3, shift=0.3)
    first = det.compare(window).to_dict()
    for seed in range(5):
        det.compare(frame(1000, seed=10 + seed))
    assert det.compare(window).to_dict() == first


def test_get_params_and_pickle_roundtrip():
    import pickle

    det = DriftDetector(drift_share=0.3, thresholds={"psi": 0.2}).fit(frame(3000))
    assert det.get_params()["drift_share"] == 0.3 and det.get_params()["thresholds"] == {"psi": 0.2}
    window = frame(500, seed=4, shift=0.4)
    clone = pickle.loads(pickle.dumps(det))
    assert clone.compare(window).to_dict() == det.compare(window).to_dict()


def test_prediction_drift():
    rng = np.random.default_rng(0)
    ref, same, moved = rng.beta(2, 5, 5000), rng.beta(2, 5, 2000), rng.beta(5, 2, 2000)
    assert prediction_drift(ref, same).drifted is False
    res = prediction_drift(ref, moved, name="proba")
    assert res.column == "proba" and res.method == "wasserstein" and res.drifted
    labels = prediction_drift(pd.Series(rng.integers(0, 2, 3000)), rng.integers(0, 2, 300), kind="categorical")
    assert labels.kind == "categorical" and labels.method == "jensenshannon"
    assert prediction_drift(ref, moved, method="ks").method == "ks"


def test_performance_drift_classification_and_regression():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    good = np.clip(y * 0.6 + rng.normal(0.2, 0.2, y.size), 0, 1)
    res = performance_drift(y, good, reference=0.95, metric="roc_auc", floor=0.8, max_drop=0.05)
    assert res.status == "ok" and 0.5 < res.current <= 1
    assert res.drop == pytest.approx(0.95 - res.current)
    noisy = rng.random(y.size)
    bad = performance_drift(y, noisy, reference=0.95, floor=0.8)
    assert bad.below_floor and bad.degraded and bad.drop > 0.3
    acc = performance_drift(y, good, reference=0.9, metric="accuracy")
    assert acc.current == pytest.approx(np.mean((good >= 0.5) == y))
    target = rng.normal(size=500)
    mae = performance_drift(target, target + 1.0, reference=0.5, metric="mae", floor=0.8)
    assert mae.current == pytest.approx(1.0) and mae.drop == pytest.approx(0.5)
    assert mae.below_floor and mae.degraded  # error metrics: the floor is a ceiling
    json.dumps(mae.to_dict(), allow_nan=False)


def test_performance_drift_undefined_and_empty():
    one_class = performance_drift(np.ones(10), np.linspace(0, 1, 10), reference=0.9)
    assert one_class.status == "undefined" and not one_class.degraded and np.isnan(one_class.current)
    empty = performance_drift([], [], reference=0.9, floor=0.5)
    assert empty.status == "empty" and empty.n == 0 and not empty.below_floor
    with pytest.raises(ValueError):
        performance_drift([1], [1], reference=1.0, metric="bogus")


@pytest.mark.parametrize("name, value", [
    ("n_cells", 0), ("n_cells", 2.5), ("psi_bins", 0), ("psi_bins", 1), ("psi_eps", 0.0), ("min_std", -1.0),
    ("small_sample_size", -1), ("discrete_max_unique", "5"), ("max_missing_change", 1.5),
    ("max_unseen_share", -0.1), ("drift_share", float("nan")),
])
def test_bad_parameters_raise_at_fit_naming_them(name, value):
    det = DriftDetector(**{name: value})  # stored as given: no validation in __init__
    with pytest.raises(ValueError, match=name):
        det.fit(frame(300))
    with pytest.raises(ValueError, match="thresholds"):
        DriftDetector(thresholds={"wasserstein": -0.1}).fit(frame(300))


@pytest.mark.parametrize("where", ["reference", "window"])
def test_duplicated_column_names_raise_naming_them(where):
    good = frame(300)
    dup = pd.concat([good, good[["x", "c"]]], axis=1)
    with pytest.raises(ValueError, match=rf"{where} has duplicated column names: \['x', 'c'\]"):
        if where == "reference":
            DriftDetector().fit(dup)
        else:
            DriftDetector().fit(good).compare(dup)
    with pytest.raises(ValueError, match=r"columns names some columns more than once: \['x'\]"):
        DriftDetector(columns=["x", "y", "x"]).fit(good)


def test_missing_rate_and_unseen_alarms_do_not_change_drifted_by_default():
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"v": rng.normal(size=5000), "c": rng.choice(["a", "b"], 5000)})
    cur = pd.DataFrame({"v": rng.normal(size=5000), "c": rng.choice(["a", "b"], 5000)})
    cur.loc[:749, "v"] = np.nan                      # missing rate 0 -> 0.15
    cur.loc[:399, "c"] = "new"                       # 8% unseen
    result = DriftDetector().fit(ref).compare(cur)
    v, c = result.column("v"), result.column("c")
    assert v.missing_rate_change == pytest.approx(0.15) and v.missing_drifted and not v.unseen_drifted
    assert c.unseen_share == pytest.approx(0.08) and c.unseen_drifted and not c.missing_drifted
    assert v.drifted is False  # the statistic's decision, unchanged (values still N(0, 1))
    assert result.n_missing_alarms == 1 and result.n_unseen_alarms == 1
    assert result.alarm_columns == {"missing": ["v"], "unseen": ["c"]}
    d = result.to_dict()
    assert d["n_missing_alarms"] == 1 and d["columns"][0]["missing_drifted"] is True
    lenient = DriftDetector(max_missing_change=0.2, max_unseen_share=0.1).fit(ref).compare(cur)
    assert lenient.n_missing_alarms == 0 and lenient.n_unseen_alarms == 0
    counted = DriftDetector(alarms_count_as_drift=True).fit(ref).compare(cur)
    assert counted.column("v").drifted is True and counted.n_drifted == result.n_drifted + 1 + (not c.drifted)


def test_performance_drift_drops_unlabelled_rows():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 1000).astype(float)
    score = np.clip(y * 0.5 + rng.normal(0.25, 0.2, y.size), 0, 1)
    partly = y.copy()
    partly[:300] = np.nan
    for metric in ("accuracy", "roc_auc", "f1"):
        res = performance_drift(partly, score, reference=0.9, metric=metric)
        full = performance_drift(y[300:], score[300:], reference=0.9, metric=metric)
        assert res.status == "ok" and res.n == 700 and res.n_unlabelled == 300
        assert res.current == pytest.approx(full.current)
    as_objects = performance_drift(np.array([None, 1, 0, 1, 0], dtype=object), [0.9, 0.8, 0.3, 0.6, 0.7],
                                   reference=0.9)
    assert as_objects.n_unlabelled == 1 and as_objects.current == pytest.approx(0.75)
    nothing = performance_drift(np.full(5, np.nan), np.ones(5), reference=0.9, metric="accuracy")
    assert nothing.status == "empty" and nothing.n_unlabelled == 5 and nothing.reason == "no labelled rows"


def test_performance_drift_multiclass_roc_auc():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 600)
    proba = rng.dirichlet([1, 1, 1], y.size)
    proba[np.arange(y.size), y] += 0.6
    proba /= proba.sum(axis=1, keepdims=True)
    res = performance_drift(y, proba, reference=0.95)
    assert res.status == "ok" and res.current == pytest.approx(roc_auc_score(y, proba, multi_class="ovr"))
    one_score = performance_drift(y, proba[:, 0], reference=0.95)
    assert one_score.status == "undefined" and "probability matrix" in one_score.reason
    two_classes = performance_drift(y[y < 2], proba[y < 2], reference=0.95)
    assert two_classes.status == "undefined" and "2 classes for 3 columns" in two_classes.reason
    binary = performance_drift(y[y < 2], proba[y < 2][:, :2], reference=0.95)
    assert binary.current == pytest.approx(roc_auc_score(y[y < 2], proba[y < 2][:, 1]))


def test_single_row_window_result_says_its_size():
    det = DriftDetector().fit(frame(5000))
    result = det.compare(frame(1, seed=3))
    assert result.n_rows_current == 1 and result.to_dict()["n_rows_current"] == 1
    assert all(c.n_current == 1 for c in result.columns)


def test_huge_values_drift_like_ordinary_ones():
    rng = np.random.default_rng(3)
    scale = 1e160  # squares overflow float64: the std must not become inf (and the distance 0)
    det = DriftDetector().fit(pd.DataFrame({"x": rng.normal(size=2000) * scale}))
    column = det.compare(pd.DataFrame({"x": rng.normal(size=500) * scale + 5 * scale})).column("x")
    assert column.drifted and column.statistic == pytest.approx(5.0, abs=0.2)


def test_performance_drift_drops_rows_without_a_score():
    result = performance_drift([0, 1, 1, 0, None], [0.1, float("nan"), 0.8, 0.3, 0.5], reference=0.8)
    assert result.status == "ok" and result.n == 3 and result.n_unlabelled == 1 and result.current == 1.0
