"""nbprod.model.contract: kinds, specs and the JSON form of the feature contract."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from nbprod.model.contract import (ColumnSpec, FeatureContract, as_category_strings, column_spec,
                             contract_from_frame, infer_kind)


@pytest.mark.parametrize("series, kind", [
    (pd.Series([1, 2, 3]), "numeric"),
    (pd.Series([1.5, np.nan]), "numeric"),
    (pd.Series([True, False]), "categorical"),
    (pd.Series(["a", "b"]), "categorical"),
    (pd.Series(["a", None], dtype="string"), "categorical"),
    (pd.Series(["a", "b"], dtype="category"), "categorical"),
    (pd.Series(pd.to_datetime(["2013-01-01", "2013-02-01"])), "datetime"),
    (pd.Series(pd.to_datetime(["2013-01-01"]).tz_localize("UTC")), "datetime"),
])
def test_infer_kind(series, kind):
    assert infer_kind(series) == kind


def test_contract_learns_kinds_nullability_ranges_and_categories(frame):
    frame.loc[3, "z"] = np.nan
    contract = contract_from_frame(frame.drop(columns="y"))
    assert contract.names == ["x", "z", "c", "flag", "t"]
    assert contract.of_kind("numeric") == ["x", "z"]
    assert contract.of_kind("categorical") == ["c", "flag"]
    assert contract.of_kind("datetime") == ["t"]
    assert contract["x"] == ColumnSpec("x", "numeric", False, minimum=-2.0, maximum=2.0)
    assert contract["z"].nullable is True
    assert contract["flag"].categories == ("True", "False")
    assert contract["t"].categories == () and contract["t"].minimum is None


def test_numeric_range_ignores_missing_and_infinite_values():
    spec = column_spec(pd.Series([np.inf, 3.0, np.nan, -1.0, -np.inf], name="v"), "numeric", 10)
    assert (spec.minimum, spec.maximum, spec.nullable) == (-1.0, 3.0, True)


def test_all_missing_numeric_column_has_no_range():
    spec = column_spec(pd.Series([np.nan, np.nan], name="v"), "numeric", 10)
    assert spec.minimum is None and spec.maximum is None and spec.nullable


def test_categories_are_most_frequent_first_and_capped():
    series = pd.Series(["b", "a", "c", "a", "b", "a", None, "d"], name="s")
    spec = column_spec(series, "categorical", max_categories=2)
    assert spec.categories == ("a", "b")
    assert spec.nullable is True
    assert column_spec(series, "categorical", max_categories=10).categories[:2] == ("a", "b")
    assert set(column_spec(series, "categorical", max_categories=10).categories) == {"a", "b", "c", "d"}


def test_overrides_beat_inference():
    frame = pd.DataFrame({"code": [1, 2, 2], "amount": ["1.5", "2", "x"]})
    contract = contract_from_frame(frame, categorical=["code"], numeric=["amount"])
    assert contract["code"].kind == "categorical"
    assert contract["code"].categories == ("2", "1")
    assert contract["amount"].kind == "numeric"
    assert (contract["amount"].minimum, contract["amount"].maximum) == (1.5, 2.0)


def test_unknown_override_column_is_named():
    frame = pd.DataFrame({"a": [1]})
    with pytest.raises(KeyError, match=r"not in the data: \['ghost', 'phantom'\]"):
        contract_from_frame(frame, categorical=["ghost"], numeric=["phantom", "a"])


def test_dict_round_trip_through_json(frame):
    contract = contract_from_frame(frame.drop(columns="y"))
    data = json.loads(json.dumps(contract.to_dict()))
    assert FeatureContract.from_dict(data) == contract
    assert data["columns"][2]["categories"] == ["b", "a"]


def test_from_dict_accepts_missing_categories():
    contract = FeatureContract.from_dict({"columns": [{"name": "x", "kind": "numeric", "nullable": False}]})
    assert contract["x"] == ColumnSpec("x", "numeric", False)


def test_getitem_unknown_column_raises_key_error():
    with pytest.raises(KeyError, match="nope"):
        FeatureContract((ColumnSpec("x", "numeric", False),))["nope"]


def test_as_category_strings_keeps_missing_values_missing():
    values = as_category_strings(pd.Series(["a", None, np.nan, 3]))
    assert values.tolist() == ["a", None, None, "3"]
