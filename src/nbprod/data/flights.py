"""The embedded default: NYC flights 2013, joined into one table of what is known at departure.

The question: will a flight arrive more than 15 minutes late? Only what is known at
the scheduled departure is kept: schedule, carrier, route, distance, the plane, and
the weather at the origin in the scheduled hour. ``dep_delay``, ``dep_time``,
``arr_time``, ``air_time`` and the like are leakage and never leave this module.

Flights with no arrival delay (cancelled or diverted) get a missing target here;
the rule in ``env.yaml`` (``data.missing_target``) decides in the prepare step:
``positive`` (the default: the passenger did not arrive on time, so the flight
counts as late) or ``drop``.
"""

from __future__ import annotations

import pandas as pd

LATE_MINUTES = 15
TARGET = "late"
SCHEDULE = ["carrier", "flight", "tailnum", "origin", "dest", "distance", "sched_dep_time", "sched_arr_time"]
WEATHER = ["temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip", "pressure", "visib"]
PLANE = {"year": "plane_year", "type": "plane_type", "manufacturer": "plane_manufacturer",
         "engines": "plane_engines", "seats": "plane_seats", "engine": "plane_engine"}
#: Columns of the flights table that are only known after departure.
LEAKAGE = ["dep_time", "dep_delay", "arr_time", "arr_delay", "air_time"]


def scheduled_departure(flights: pd.DataFrame) -> pd.Series:
    """Local scheduled departure time from year, month, day, hour and minute."""
    return pd.to_datetime(flights[["year", "month", "day", "hour", "minute"]])


def late_target(arr_delay: pd.Series) -> pd.Series:
    """1.0 when the arrival delay exceeds 15 minutes, 0.0 when not, missing when there is none."""
    return (arr_delay > LATE_MINUTES).astype("float64").where(arr_delay.notna())


def join_flights(flights: pd.DataFrame, weather: pd.DataFrame, planes: pd.DataFrame) -> pd.DataFrame:
    """One row per flight: schedule, plane and origin weather, the target, and no leakage."""
    weather_keys = weather.drop_duplicates(["origin", "time_hour"])[["origin", "time_hour", *WEATHER]]
    plane_info = planes[["tailnum", *PLANE]].rename(columns=PLANE)
    table = (
        flights.assign(scheduled_departure=scheduled_departure(flights),
                       late=late_target(flights["arr_delay"]))
        .merge(weather_keys, on=["origin", "time_hour"], how="left", validate="many_to_one")
        .merge(plane_info, on="tailnum", how="left", validate="many_to_one")
    )
    return table[["scheduled_departure", *SCHEDULE, *WEATHER, *PLANE.values(), TARGET]]
