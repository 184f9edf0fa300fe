"""nbprod.io: atomic writes."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pandas as pd
import pytest

from nbprod import io


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_write_and_read_json_round_trip_with_default_str(tmp_path):
    path = tmp_path / "deep" / "er" / "data.json"
    io.write_json({"a": [1, 2], "when": dt.date(2013, 1, 2), "where": Path("/x")}, path)
    assert io.read_json(path) == {"a": [1, 2], "when": "2013-01-02", "where": "/x"}
    assert path.read_text().endswith("}\n")


def test_write_parquet_round_trip_without_index(tmp_path):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", None]}, index=[10, 20])
    io.write_parquet(frame, tmp_path / "f.parquet")
    back = pd.read_parquet(tmp_path / "f.parquet")
    assert back.index.tolist() == [0, 1]
    assert back["a"].tolist() == [1, 2] and back["b"].tolist()[0] == "x"


def test_write_text_replaces_existing_file(tmp_path):
    path = tmp_path / "t.txt"
    io.write_text("old", path)
    io.write_text("new", path)
    assert path.read_text() == "new"
    assert leftovers(tmp_path) == []


def test_failing_writer_leaves_old_file_intact_and_no_temporary(tmp_path):
    path = tmp_path / "keep.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with io.atomic_path(path) as temporary:
            temporary.write_text("half")
            raise RuntimeError("boom")
    assert path.read_text() == "old"
    assert leftovers(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_failing_parquet_write_leaves_old_file_intact(tmp_path):
    path = tmp_path / "data.parquet"
    io.write_parquet(pd.DataFrame({"a": [1]}), path)
    with pytest.raises(Exception):
        io.write_parquet(pd.DataFrame({"a": [object()]}), path)  # pyarrow cannot store a bare object
    assert pd.read_parquet(path)["a"].tolist() == [1]
    assert leftovers(tmp_path) == []


def test_temporary_file_is_beside_the_target(tmp_path):
    with io.atomic_path(tmp_path / "sub" / "x.json") as temporary:
        assert temporary.parent == tmp_path / "sub"
        assert temporary.name.startswith(".x.json.") and temporary.name.endswith(".tmp")
        temporary.write_text("{}")


def test_written_file_follows_the_umask_not_0600(tmp_path):
    previous = os.umask(0o022)
    try:
        io.write_text("x", tmp_path / "shared.txt")
        io.write_json({}, tmp_path / "shared.json")
    finally:
        os.umask(previous)
    for name in ("shared.txt", "shared.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644


def test_read_parquet_gives_the_frame_pandas_reads(tmp_path):
    frame = pd.DataFrame({"n": [1, 2, 3], "x": [0.5, None, 2.0], "s": ["a", None, "c"],
                          "t": pd.to_datetime(["2013-01-01", None, "2013-01-03"])})
    io.write_parquet(frame, tmp_path / "f.parquet")
    pd.testing.assert_frame_equal(io.read_parquet(tmp_path / "f.parquet"), pd.read_parquet(tmp_path / "f.parquet"))
    pd.testing.assert_frame_equal(io.read_parquet(tmp_path / "f.parquet", columns=["s"]),
                                  pd.read_parquet(tmp_path / "f.parquet", columns=["s"]))
