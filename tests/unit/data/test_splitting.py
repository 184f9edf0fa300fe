"""nbprod.data.splitting: target rule, time and random splits, and their checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbprod.data.splitting import (SPLITS, apply_target_rule, as_labels, check_splits, describe_target,
                                   prepare_target, random_split, read_split, split_summary, split_table, time_split)

CUTS = ("2013-03-01", "2013-04-01", "2013-05-01")


@pytest.fixture
def monthly() -> pd.DataFrame:
    """Rows on and around each cut, in shuffled order."""
    stamps = pd.to_datetime(["2013-01-15 00:00", "2013-02-28 23:59:59", "2013-03-01 00:00", "2013-03-20 00:00",
                             "2013-04-01 00:00", "2013-04-30 12:00", "2013-05-01 00:00", "2013-06-01 00:00"], format="ISO8601")
    frame = pd.DataFrame({"when": stamps, "y": [0, 1, 0, 1, 0, 1, 0, 1], "id": range(8)})
    return frame.sample(frac=1, random_state=1)


def test_time_split_boundaries_go_to_the_later_split(monthly):
    parts = time_split(monthly, "when", *CUTS)
    assert list(parts) == list(SPLITS)
    assert parts["train"]["id"].tolist() == [0, 1]
    assert parts["valid"]["id"].tolist() == [2, 3]  # exactly 2013-03-01 is validation, not train
    assert parts["test"]["id"].tolist() == [4, 5]
    assert parts["new"]["id"].tolist() == [6, 7]
    assert all(part["when"].is_monotonic_increasing for part in parts.values())


def test_time_split_accepts_text_stamps(monthly):
    parts = time_split(monthly.assign(when=monthly["when"].astype(str)), "when", *CUTS)
    assert [len(part) for part in parts.values()] == [2, 2, 2, 2]


@pytest.mark.parametrize("cuts", [("2013-04-01", "2013-03-01", "2013-05-01"),
                                  ("2013-03-01", "2013-03-01", "2013-05-01"),
                                  ("2013-03-01", "2013-06-01", "2013-05-01")])
def test_time_split_dates_must_increase(monthly, cuts):
    with pytest.raises(ValueError, match="split dates must increase"):
        time_split(monthly, "when", *cuts)


def test_random_split_fractions_no_overlap_and_all_rows():
    frame = pd.DataFrame({"id": range(50), "y": [0, 1] * 25}, index=range(100, 150))
    parts = random_split(frame, 0.2, 0.3, seed=0)
    assert [len(parts[name]) for name in SPLITS] == [25, 10, 15, 0]
    ids = [set(parts[name]["id"]) for name in ("train", "valid", "test")]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert set().union(*ids) == set(range(50))
    assert all(part.index.is_monotonic_increasing for part in parts.values())
    assert list(parts["new"].columns) == ["id", "y"]


def test_random_split_is_deterministic_per_seed():
    frame = pd.DataFrame({"id": range(50)})
    first, again, other = (random_split(frame, 0.2, 0.2, seed) for seed in (1, 1, 2))
    assert first["valid"]["id"].tolist() == again["valid"]["id"].tolist()
    assert first["valid"]["id"].tolist() != other["valid"]["id"].tolist()


@pytest.mark.parametrize("valid, test", [(0, 0.2), (0.2, 0), (0.5, 0.5), (1.2, 0.1), (-0.1, 0.2)])
def test_random_split_bad_fractions(valid, test):
    with pytest.raises(ValueError, match="split fractions"):
        random_split(pd.DataFrame({"a": range(10)}), valid, test, seed=0)


def test_split_table_picks_time_or_random(monthly):
    split = dict(zip(("valid_start", "test_start", "new_start"), CUTS), valid_frac=0.25, test_frac=0.25)
    assert len(split_table(monthly, "when", split, seed=0)["new"]) == 2
    by_chance = split_table(monthly, None, split, seed=0)
    assert [len(by_chance[name]) for name in SPLITS] == [4, 2, 2, 0]


def test_missing_target_positive_for_classification():
    frame = pd.DataFrame({"y": [0.0, np.nan, 1.0]})
    out = apply_target_rule(frame, "y", "classification", "positive", positive_class=1)
    assert out["y"].tolist() == [0, 1, 1] and out["y"].dtype == np.int64


def test_missing_target_positive_fills_the_positive_text_label():
    frame = pd.DataFrame({"y": ["No", None, "Yes", "No"]})
    assert apply_target_rule(frame, "y", "classification", "positive", "Yes")["y"].tolist() == ["No", "Yes", "Yes",
                                                                                                "No"]
    assert apply_target_rule(frame, "y", "classification", "positive", "No")["y"].tolist() == ["No", "No", "Yes",
                                                                                               "No"]


def test_missing_target_positive_without_a_positive_class_is_refused():
    with pytest.raises(ValueError, match="only a binary target has: use data.missing_target: drop"):
        apply_target_rule(pd.DataFrame({"y": ["a", None, "b"]}), "y", "classification", "positive")


@pytest.mark.parametrize("values, expected, dtype", [
    (["Yes", "No"], ["Yes", "No"], object),
    (pd.array(["Yes", "No"], dtype="string"), ["Yes", "No"], object),
    (pd.Categorical([">50K", "<=50K"]), [">50K", "<=50K"], object),
    ([True, False], [True, False], bool),
    (pd.Series([True, None, False], dtype=object).dropna(), [True, False], bool),
    (pd.array([True, False], dtype="boolean"), [True, False], bool),
    ([1.0, 0.0], [1, 0], np.int64),
    (pd.array([2, 0], dtype="Int64"), [2, 0], np.int64),
])
def test_as_labels_keeps_the_labels_in_a_plain_dtype(values, expected, dtype):
    labels = as_labels(pd.Series(values, name="y"))
    assert labels.tolist() == expected and labels.dtype == dtype


def test_as_labels_refuses_fractional_numbers_naming_the_column():
    with pytest.raises(ValueError, match=r"classification target 'price' holds fractional numbers \(e.g. 0.5\)"):
        as_labels(pd.Series([1.0, 0.5], name="price"))


def test_missing_target_drop():
    frame = pd.DataFrame({"y": [0.0, np.nan, 1.0], "k": [1, 2, 3]})
    out = apply_target_rule(frame, "y", "classification", "drop")
    assert out["k"].tolist() == [1, 3] and out["y"].dtype == np.int64


def test_regression_always_drops_missing_targets():
    frame = pd.DataFrame({"y": [2.5, np.nan, -1.0]})
    out = apply_target_rule(frame, "y", "regression", "positive")
    assert out["y"].tolist() == [2.5, -1.0] and out["y"].dtype == np.float64


def test_apply_target_rule_does_not_modify_its_input():
    frame = pd.DataFrame({"y": [0.0, np.nan]})
    apply_target_rule(frame, "y", "classification", "positive", 1)
    assert frame["y"].isna().sum() == 1


def parts_of(train, valid=(0, 1), test=(0, 1)):
    return {"train": pd.DataFrame({"y": list(train)}), "valid": pd.DataFrame({"y": list(valid)}),
            "test": pd.DataFrame({"y": list(test)}), "new": pd.DataFrame({"y": []})}


def test_check_splits_accepts_good_splits_and_an_empty_new_split():
    check_splits(parts_of([0, 1, 1]), "y", "classification")
    check_splits(parts_of([0.5, 2.0]), "y", "regression")
    assert parts_of([0, 1])["new"].empty


@pytest.mark.parametrize("name", ["train", "valid", "test"])
def test_check_splits_empty_split(name):
    parts = parts_of([0, 1])
    parts[name] = parts[name].iloc[:0]
    with pytest.raises(ValueError, match=f"the {name} split is empty"):
        check_splits(parts, "y", "classification")


def test_check_splits_single_class_names_the_column_the_split_and_the_class():
    with pytest.raises(ValueError, match="target 'y' has a single class in the train split: 'Yes' "
                                         r"\(a classifier needs at least two"):
        check_splits(parts_of(["Yes", "Yes"], ["Yes", "No"], ["No", "Yes"]), "y", "classification")


def test_check_splits_single_class_message_shows_a_plain_value():
    with pytest.raises(ValueError, match=r"in the train split: 1 \("):
        check_splits(parts_of(np.array([1, 1])), "y", "classification")


def test_check_splits_accepts_three_classes():
    check_splits(parts_of(["a", "b", "c"], ["a", "c"], ["b"]), "y", "classification")
    assert parts_of(["a", "b", "c"])["train"]["y"].nunique() == 3


def test_check_splits_refuses_a_class_the_train_split_lacks():
    with pytest.raises(ValueError, match=r"classes in the test split that the train split lacks: \['d'\] "
                                         r"\(train has \['a', 'b', 'c'\]\)"):
        check_splits(parts_of(["a", "b", "c"], ["a"], ["a", "d"]), "y", "classification")


def test_prepare_target_infers_the_minority_class_before_filling_missing_targets():
    parts = parts_of(["No", "No", "Yes", None, None, None], ["No", "Yes", None], ["Yes", "No"])
    done, info = prepare_target(parts, "y", "classification", "positive")
    assert info == {"target": "y", "task": "classification", "classes": ["No", "Yes"], "positive_class": "Yes",
                    "positive_class_source": "inferred"}
    assert done["train"]["y"].tolist() == ["No", "No", "Yes", "Yes", "Yes", "Yes"]
    assert done["valid"]["y"].tolist() == ["No", "Yes", "Yes"]


def test_prepare_target_keeps_a_named_positive_class_spelled_as_the_data():
    done, info = prepare_target(parts_of([0.0, 1.0, 1.0, np.nan]), "y", "classification", "positive", "0")
    assert info["positive_class"] == 0 and type(info["positive_class"]) is int
    assert info["positive_class_source"] == "set"
    assert done["train"]["y"].tolist() == [0, 1, 1, 0]


def test_prepare_target_of_booleans():
    done, info = prepare_target(parts_of([True, False, False, None], [False], [True]), "y", "classification",
                                "positive", False)
    assert info["classes"] == [False, True] and info["positive_class"] is False
    assert done["train"]["y"].tolist() == [True, False, False, False] and done["train"]["y"].dtype == bool


def test_prepare_target_refuses_a_positive_class_that_is_not_a_label():
    with pytest.raises(ValueError, match=r"data.positive_class 'maybe' is not one of the target's classes "
                                         r"\['No', 'Yes'\]"):
        prepare_target(parts_of(["No", "Yes"], ["No"], ["Yes"]), "y", "classification", "drop", "maybe")


def test_prepare_target_multiclass_has_no_positive_class_and_refuses_filling_with_one():
    parts = parts_of(["a", "b", "c", None], ["a", None], ["b"])
    done, info = prepare_target(parts, "y", "classification", "drop")
    assert info["classes"] == ["a", "b", "c"] and info["positive_class"] is None
    assert info["positive_class_source"] is None
    assert done["train"]["y"].tolist() == ["a", "b", "c"] and done["valid"]["y"].tolist() == ["a"]
    with pytest.raises(ValueError, match="data.missing_target 'positive' applies to binary targets only; "
                                         "target 'y' has 3 classes"):
        prepare_target(parts, "y", "classification", "positive")


def test_prepare_target_single_class_before_any_fill():
    with pytest.raises(ValueError, match="single class in the train split: 'No'"):
        prepare_target(parts_of(["No", None], ["No"], ["Yes"]), "y", "classification", "positive")


def test_prepare_target_regression_drops_missing_and_has_no_classes():
    done, info = prepare_target(parts_of([1.5, np.nan, 2.0], [1.0], [3.0]), "y", "regression", "positive")
    assert done["train"]["y"].tolist() == [1.5, 2.0]
    assert info["classes"] is None and info["positive_class"] is None


def test_describe_target_states_the_positive_class_and_where_it_came_from():
    info = {"target": "y", "task": "classification", "classes": ["No", "Yes"], "positive_class": "Yes",
            "positive_class_source": "inferred"}
    assert describe_target(info) == ("Target 'y': binary classification, classes ['No', 'Yes']; positive class "
                                     "'Yes' (inferred: the minority class of the training rows).")
    assert "set by data.positive_class" in describe_target({**info, "positive_class_source": "set"})
    multi = {"target": "y", "task": "classification", "classes": ["a", "b", "c"], "positive_class": None}
    assert describe_target(multi) == "Target 'y': multiclass classification, 3 classes ['a', 'b', 'c']."


def test_check_splits_regression_has_no_class_rule():
    check_splits(parts_of([3.0, 3.0]), "y", "regression")  # a constant target is allowed here
    assert parts_of([3.0, 3.0])["train"]["y"].nunique() == 1


def test_split_summary_with_time(monthly):
    summary = split_summary(time_split(monthly, "when", *CUTS), "y", "when")
    assert summary.index.tolist() == list(SPLITS)
    assert summary.loc["train", "rows"] == 2 and summary.loc["train", "target_mean"] == 0.5
    assert summary.loc["valid", "from"] == pd.Timestamp("2013-03-01")
    assert summary.loc["new", "to"] == pd.Timestamp("2013-06-01")


def test_split_summary_of_class_labels():
    parts = parts_of(["No", "Yes", "Yes", "Yes"], ["No", "Yes"], ["No"])
    assert split_summary(parts, "y", None, ["No", "Yes"], "Yes")["positive_rate"].tolist()[:3] == [0.75, 0.5, 0.0]
    multi = split_summary(parts_of(["a", "b", "c", "c"]), "y", None, ["a", "b", "c"])
    assert multi.loc["train", ["share a", "share b", "share c"]].tolist() == [0.25, 0.25, 0.5]


def test_split_summary_without_time_and_with_an_empty_split():
    summary = split_summary(random_split(pd.DataFrame({"y": [0, 1, 1, 1] * 5}), 0.25, 0.25, seed=0), "y", None)
    assert "from" not in summary.columns
    assert summary.loc["new", "rows"] == 0 and pd.isna(summary.loc["new", "target_mean"])
    assert summary["rows"].sum() == 20


@pytest.mark.parametrize("cuts", [(2011, 2012, 2013), ("2011", "2012", "2013"),
                                  ("2011-01-01", "2012-01-01", "2013-01-01")])
def test_time_split_on_integer_years_with_period_or_date_cuts(cuts):
    frame = pd.DataFrame({"year": [2013, 2009, 2011, 2012, 2010, 2014], "y": [0, 1, 0, 1, 0, 1], "id": range(6)})
    parts = time_split(frame, "year", *cuts)
    assert {name: part["year"].tolist() for name, part in parts.items()} == {
        "train": [2009, 2010], "valid": [2011], "test": [2012], "new": [2013, 2014]}
    summary = split_summary(parts, "y", "year")
    assert summary.loc["train", "from"] == 2009 and summary.loc["new", "to"] == 2014


def test_time_split_on_yyyymm_months_and_dates_as_text():
    months = pd.DataFrame({"month": ["201311", "201312", "201401", "201402", "201403"], "y": [0, 1, 0, 1, 0]})
    parts = time_split(months, "month", "201312", 201401, "2014-02-15")
    assert [len(parts[name]) for name in SPLITS] == [1, 1, 2, 1]  # 201402 starts on 1 Feb: test, before 15 Feb
    text = pd.DataFrame({"day": ["2013-05-02", "2013-01-02", "2013-03-02", "2013-04-02"], "y": [0, 1, 0, 1]})
    parts = time_split(text, "day", *CUTS)
    assert parts["train"]["day"].tolist() == ["2013-01-02"] and parts["new"]["day"].tolist() == ["2013-05-02"]


@pytest.mark.parametrize("values, message", [(["red", "blue"], "column 'when' is not a time"),
                                             ([0.5, 1.5], "column 'when' is not a time"),
                                             ([2013, 2014], "split.valid_start 'soon' is not a time")])
def test_time_split_names_a_column_or_cut_that_is_not_a_time(values, message):
    frame = pd.DataFrame({"when": values, "y": [0, 1]})
    with pytest.raises(ValueError, match=message):
        time_split(frame, "when", "soon" if values[0] == 2013 else "2013-01-01", "2013-06-01", "2014-01-01")


@pytest.mark.parametrize("time_column", ["when", None])
def test_read_split_equals_split_table_of_the_whole_table(tmp_path, monthly, time_column):
    from nbprod import io

    table = monthly.assign(note=["a", None, "c", "d", "e", "f", "g", "h"], drop_me=1.5)
    table.loc[table["id"] == 3, "when"] = pd.NaT  # a row without a time is left out
    io.write_parquet(table, tmp_path / "raw.parquet")
    split = {"valid_start": CUTS[0], "test_start": CUTS[1], "new_start": CUTS[2], "valid_frac": 0.25, "test_frac": 0.25}
    parts = read_split(tmp_path / "raw.parquet", ["drop_me"], time_column, split, seed=3)
    whole = split_table(io.read_parquet(tmp_path / "raw.parquet").drop(columns=["drop_me"]), time_column, split, 3)
    assert list(parts) == list(SPLITS)
    for name in SPLITS:
        pd.testing.assert_frame_equal(parts[name], whole[name])
    assert sum(map(len, parts.values())) == (7 if time_column else 8)


def test_read_split_names_a_missing_column(tmp_path, monthly):
    from nbprod import io

    io.write_parquet(monthly, tmp_path / "raw.parquet")
    split = {"valid_start": CUTS[0], "test_start": CUTS[1], "new_start": CUTS[2]}
    with pytest.raises(ValueError, match=r"drop_columns names columns the data does not have: \['nope'\]"):
        read_split(tmp_path / "raw.parquet", ["nope"], "when", split, seed=0)
    with pytest.raises(ValueError, match="data.time_column 'when' is not a column of the data"):
        read_split(tmp_path / "raw.parquet", ["when"], "when", split, seed=0)
