"""What ``nbprod new`` reads from a table: each rule on a tiny frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbprod.scaffold import infer


def test_yes_no_target_is_binary_with_the_minority_class_positive():
    target = infer.infer_target(pd.Series(["No"] * 7 + ["Yes"] * 3, name="churn"))
    assert (target.task, target.kind, target.classes, target.positive_class) == \
        ("classification", "binary", ["No", "Yes"], "Yes")


def test_zero_one_target_takes_its_minority_class_and_booleans_are_classes():
    assert infer.infer_target(pd.Series([1, 1, 1, 0, 0], name="y")).positive_class == 0
    target = infer.infer_target(pd.Series([True, False, False], name="y"))
    assert (target.kind, target.classes, target.positive_class) == ("binary", [False, True], True)


def test_a_tie_makes_the_last_class_positive():
    assert infer.infer_target(pd.Series(["a", "b", "a", "b"], name="y")).positive_class == "b"


def test_few_whole_numbers_or_text_are_multiclass_and_other_numbers_regression():
    assert infer.infer_target(pd.Series([0, 1, 2, 2, 1], name="y")).kind == "multiclass"
    assert infer.infer_target(pd.Series(["x", "y", "z"], name="y")).classes == ["x", "y", "z"]
    assert infer.infer_target(pd.Series([0.5, 1.25, 3.0], name="y")).task == "regression"
    assert infer.infer_target(pd.Series(range(30), name="y")).task == "regression"


def test_the_task_can_be_forced_and_bad_targets_are_clear_errors():
    assert infer.infer_target(pd.Series([1, 2, 3], name="y"), "regression").task == "regression"
    with pytest.raises(infer.InferenceError, match="'y' has a single value"):
        infer.infer_target(pd.Series([1, 1, None], name="y"))
    with pytest.raises(infer.InferenceError, match="'y' is entirely missing"):
        infer.infer_target(pd.Series([None, None], name="y", dtype=float))
    with pytest.raises(infer.InferenceError, match="not numeric"):
        infer.infer_target(pd.Series(["a", "b"], name="y"), "regression")
    with pytest.raises(infer.InferenceError, match="60 distinct values"):
        infer.infer_target(pd.Series([f"c{i}" for i in range(60)], name="y"))


def frame_with_times() -> pd.DataFrame:
    days = pd.date_range("2021-01-01", periods=10, freq="D")
    return pd.DataFrame({"amount": np.arange(10.0), "day_text": days.strftime("%Y-%m-%d"),
                         "year": np.arange(2000, 2010), "stamp": days})


def test_time_column_prefers_datetimes_then_dates_as_text_then_periods():
    frame = frame_with_times()
    assert infer.infer_time_column(frame) == infer.TimeColumn("stamp", "datetime")
    assert infer.infer_time_column(frame.drop(columns="stamp")) == infer.TimeColumn("day_text", "text")
    assert infer.infer_time_column(frame[["amount", "year"]]) == infer.TimeColumn("year", "period")
    assert infer.infer_time_column(frame[["amount"]]) is None


def test_integers_are_periods_only_when_named_so_and_in_range():
    assert infer.is_period(pd.Series([201901, 201902, 201912], name="yyyymm"))
    assert not infer.is_period(pd.Series([201901, 201913], name="yyyymm"))
    assert not infer.is_period(pd.Series([2001, 2002], name="count"))
    assert not infer.is_period(pd.Series([1, 2], name="year"))


def test_text_that_is_not_dates_is_no_time_column():
    assert not infer.parses_as_dates(pd.Series(["a-1", "b-2", "c-3"]))
    assert not infer.parses_as_dates(pd.Series(["12", "13", "14"]))


def test_split_points_are_increasing_values_of_the_data_at_its_quantiles():
    days = pd.Series(pd.date_range("2020-01-01", periods=101, freq="D").strftime("%Y-%m-%d"), name="d")
    assert infer.split_points(days, "text") == {"valid_start": "2020-03-01", "test_start": "2020-03-11",
                                                "new_start": "2020-03-21"}
    assert infer.split_points(pd.Series([2001, 2002, 2003, 2004], name="year"), "period") == {
        "valid_start": "2002", "test_start": "2003", "new_start": "2004"}
    with pytest.raises(infer.InferenceError, match="3 distinct values"):
        infer.split_points(pd.Series([1, 2, 3], name="year"), "period")


@pytest.mark.parametrize("count", [4, 5, 7, 10, 1000])
def test_split_positions_leave_every_part_rows(count):
    positions = infer.split_positions(count)
    assert 0 < positions[0] < positions[1] < positions[2] <= count - 1


def test_column_kinds_put_numbers_apart_from_text_and_booleans():
    frame = pd.DataFrame({"n": [1.0, 2.0], "i": [1, 2], "t": ["a", "b"], "b": [True, False]})
    assert infer.column_kinds(frame, frame.columns) == (["t", "b"], ["n", "i"])


def test_identifiers_constants_and_leakage_are_dropped_with_their_reason():
    rows = 40
    target = np.array(["No"] * 30 + ["Yes"] * 10)
    frame = pd.DataFrame({
        "id": [f"r{i}" for i in range(rows)], "constant": 1, "empty": np.nan,
        "leak": np.where(target == "Yes", "churned", "active"), "noise": np.tile([1.5, 2.5, 3.5, 4.5], 10),
        "y": target,
    })
    found = infer.infer_target(frame["y"])
    reasons = {drop.column: drop.reason for drop in infer.infer_drops(frame, found, None)}
    assert set(reasons) == {"id", "constant", "empty", "leak"}
    assert reasons["id"].startswith("identifier")
    assert reasons["constant"].startswith("constant") and "entirely missing" in reasons["empty"]
    assert reasons["leak"].startswith("probable leakage") and "--keep leak" in reasons["leak"]
    kept = infer.infer_drops(frame, found, None, keep=["leak"])
    assert "leak" not in {drop.column for drop in kept}


def test_continuous_floats_are_no_identifiers_and_the_time_column_is_never_dropped():
    rng = np.random.default_rng(0)
    when = pd.date_range("2020-01-01", periods=30).strftime("%Y-%m-%d")
    frame = pd.DataFrame({"x": rng.normal(size=30), "when": when, "y": rng.normal(size=30)})
    found = infer.infer_target(frame["y"])
    assert infer.infer_drops(frame, found, "when") == []
    assert [drop.column for drop in infer.infer_drops(frame, found, None)] == ["when"]


def test_a_regression_feature_that_mirrors_the_target_is_leakage():
    rng = np.random.default_rng(1)
    y = rng.normal(size=200)
    frame = pd.DataFrame({"twice": 2 * y + 1, "other": rng.normal(size=200), "y": y})
    drops = infer.infer_drops(frame, infer.infer_target(frame["y"]), None)
    assert [drop.column for drop in drops] == ["twice"]


def test_schema_declares_types_nulls_ranges_and_the_target_classes():
    frame = pd.DataFrame({"when": pd.date_range("2020-01-01", periods=4), "n": [1, 2, None, 4],
                          "c": ["a", "b", "a", None], "y": ["No", "Yes", "No", "No"]})
    schema = infer.infer_schema(frame, infer.infer_target(frame["y"]), infer.TimeColumn("when", "datetime"),
                                ["c"], ["n"])
    assert schema == {"min_rows": 1, "columns": {
        "when": {"type": "datetime", "nullable": False},
        "c": {"type": "category", "max_null_rate": 0.39, "allowed": ["a", "b"]},
        "n": {"type": "number", "max_null_rate": 0.39, "min": 1.0, "max": 4.0},
        "y": {"nullable": False, "allowed": ["No", "Yes"]},
    }}
