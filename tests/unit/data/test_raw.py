"""nbprod.data.raw: loading the raw table, parsing its time column, sampling."""

from __future__ import annotations

import pandas as pd
import pytest

from nbprod.data.raw import load_raw, parse_time_column, sample_rows


def test_parse_time_column_parses_text():
    frame = pd.DataFrame({"t": ["2013-01-01", "2013-01-02 10:30"], "v": [1, 2]})
    out = parse_time_column(frame, "t")
    assert pd.api.types.is_datetime64_any_dtype(out["t"])
    assert out["t"].iloc[1] == pd.Timestamp("2013-01-02 10:30")
    assert frame["t"].dtype == object or pd.api.types.is_string_dtype(frame["t"])  # input untouched


def test_parse_time_column_reads_periods_as_text_into_integers_and_leaves_integers_alone():
    out = parse_time_column(pd.DataFrame({"t": ["2012", " 2013", "2014"]}), "t")
    assert out["t"].tolist() == [2012, 2013, 2014] and pd.api.types.is_integer_dtype(out["t"])
    months = parse_time_column(pd.DataFrame({"t": ["201312", None]}), "t")
    assert months["t"].iloc[0] == 201312 and pd.isna(months["t"].iloc[1])
    years = pd.DataFrame({"t": [2012, 2013]})
    assert parse_time_column(years, "t")["t"].tolist() == [2012, 2013]


def test_parse_time_column_leaves_unparseable_text_as_is():
    frame = pd.DataFrame({"t": ["2013-01-01", "yesterday-ish"]})
    out = parse_time_column(frame, "t")
    assert out["t"].tolist() == ["2013-01-01", "yesterday-ish"]
    assert not pd.api.types.is_datetime64_any_dtype(out["t"])


def test_parse_time_column_without_or_with_an_absent_time_column_is_a_no_op():
    frame = pd.DataFrame({"t": ["2013-01-01"]})
    assert parse_time_column(frame, None) is frame
    assert parse_time_column(frame, "") is frame
    assert parse_time_column(frame, "missing") is frame


def test_parse_time_column_keeps_datetimes():
    frame = pd.DataFrame({"t": pd.to_datetime(["2013-01-01"])})
    assert parse_time_column(frame, "t") is frame


def test_parse_time_column_leaves_numbers_for_validation_to_report():
    out = parse_time_column(pd.DataFrame({"t": [2012, 2013, 2014]}), "t")
    assert not pd.api.types.is_datetime64_any_dtype(out["t"])


def test_load_raw_from_a_csv_path(tmp_path):
    (tmp_path / "d.csv").write_text("t,y\n2013-01-01 05:00,1\n2013-01-02 06:00,0\n")
    frame = load_raw(str(tmp_path / "d.csv"), "t")
    assert pd.api.types.is_datetime64_any_dtype(frame["t"])
    assert frame["y"].tolist() == [1, 0]


def test_sample_rows_fraction_one_returns_all_rows():
    frame = pd.DataFrame({"a": range(10)})
    assert sample_rows(frame, 1, seed=0) is frame
    assert sample_rows(frame, 1.0, seed=0) is frame


def test_sample_rows_fraction_keeps_order_and_is_deterministic():
    frame = pd.DataFrame({"a": range(40)}, index=range(100, 140))
    half = sample_rows(frame, 0.5, seed=3)
    assert len(half) == 20
    assert half["a"].is_monotonic_increasing
    assert half.index.tolist() == list(range(20))
    assert half["a"].tolist() == sample_rows(frame, 0.5, seed=3)["a"].tolist()
    assert half["a"].tolist() != sample_rows(frame, 0.5, seed=4)["a"].tolist()


@pytest.mark.parametrize("fraction", [0, -0.5, 1.01, 2, float("nan")])
def test_sample_rows_fraction_bounds(fraction):
    with pytest.raises(ValueError, match=r"sample_frac must be in \(0, 1\]"):
        sample_rows(pd.DataFrame({"a": [1, 2]}), fraction, seed=0)
