"""Atomic writes: a reader never sees half a file, a failure leaves the old file intact."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pandas as pd


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    try:
        yield Path(temporary)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def write_parquet(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``frame`` to Parquet atomically."""
    with atomic_path(path) as temporary:
        frame.to_parquet(temporary, index=False)


def write_json(data: Any, path: str | os.PathLike) -> None:
    """Write ``data`` as indented JSON atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(data, indent=2, default=str) + "\n")


def write_text(text: str, path: str | os.PathLike) -> None:
    """Write ``text`` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(text)


#: How Arrow hands a Parquet file's columns to pandas (pandas 3): one block per column, each Arrow buffer freed
#: as soon as its column is converted. Measured on the 10x raw table (3.4 million rows, 800 MB in memory): a
#: peak of 1.1 GB instead of 1.5 GB, in 0.7 s instead of 1.9 s, the same frame.
LEAN_READ = {"self_destruct": True, "split_blocks": True}


def read_parquet(path: str | os.PathLike, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a Parquet file (``columns``: only those) into a frame equal to ``pd.read_parquet``'s, without
    holding the file's Arrow table and its pandas copy at once (:data:`LEAN_READ`, where pandas takes it)."""
    if int(pd.__version__.split(".")[0]) < 3:
        return pd.read_parquet(path, columns=columns)
    return pd.read_parquet(path, columns=columns, to_pandas_kwargs=LEAN_READ)


def parquet_layout(path: str | os.PathLike) -> tuple[list[str], int]:
    """A Parquet file's column names and number of rows, from its footer."""
    import pyarrow.parquet as pq

    metadata = pq.ParquetFile(path).metadata
    return list(metadata.schema.to_arrow_schema().names), metadata.num_rows


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text())


def relative_within(path: str | os.PathLike, record_file: str | os.PathLike | None) -> str:
    """``path`` relative to the folder of ``record_file`` when it is in it, else as given."""
    if record_file is None:
        return str(path)
    folder = Path(record_file).resolve().parent
    resolved = Path(path).resolve()
    return resolved.relative_to(folder).as_posix() if resolved.is_relative_to(folder) else str(path)


def beside(record_file: str | os.PathLike, path: str | os.PathLike) -> Path:
    """A file a record names: ``path`` relative to the folder of ``record_file`` (a whole path as it is)."""
    return Path(record_file).parent / path
