"""``nbprod monitor`` on the local engine: the log's windows cut one file at a time and checked one at a time.

The process never holds the whole log, so its memory is flat in the logged rows: at most one file's rows
while cutting, one window's rows while checking, and the reference. Two steps:

1. cut: each file is read alone as an Arrow table (:meth:`nbprod.monitoring.cluster.Reader.table`), its rows
   placed in windows as a frame's are (:func:`nbprod.monitoring.windows.place`), and each window's part of it
   written to a temporary folder (Arrow IPC, lz4-compressed); the pass keeps each window's bounds, rows and parts.
2. check: the windows in time order, each read back alone (its parts in file order, decoded and laid out as
   :func:`~nbprod.serving.prediction_log.read_prediction_log` lays out the whole log; the parts deleted once
   read) and checked by :func:`nbprod.monitoring.check.check_windows` -- the function, reference and detector
   of a pass on a frame (:class:`~nbprod.monitoring.monitor.LocalRows`) and of the dask engine's workers
   (:mod:`nbprod.monitoring.cluster`). A window's frame holds the rows, columns and dtypes the whole log's
   frame holds for it, so its statistics and decisions are a pass on the whole log's.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from nbprod.monitoring import check, windows as windows_module
from nbprod.monitoring.cluster import FileRows, Part, Reader, file_columns


#: Compression of the spooled parts. Measured on a 10M-row log (426 MB of Parquet): the temporary folder peaked
#: at 998 MB with lz4 against 3,029 MB uncompressed (a tmpfs holds it in memory), for 28.6 s against 26.0 s.
SPOOL_COMPRESSION = "lz4"


def spool_options() -> Any:
    """Arrow IPC options of a spooled part (:data:`SPOOL_COMPRESSION`)."""
    import pyarrow as pa

    return pa.ipc.IpcWriteOptions(compression=SPOOL_COMPRESSION)


@dataclass
class Cut:
    """How rows are placed in windows: by ``column`` (None: file order, from ``base``), ``window``, ``origin``."""

    column: str | None
    window: str
    origin: Any
    base: pd.Timestamp

    def groups(self, table: Any, first: int) -> tuple[dict[tuple[pd.Timestamp, pd.Timestamp], np.ndarray], int]:
        """The positions of each window's rows in ``table`` (rows ``first``.. of the input), and its rows without a
        time."""
        if self.column is None:
            size = windows_module.row_count(self.window)
            numbers = (first + np.arange(table.num_rows)) // size if size else np.zeros(table.num_rows, dtype=int)
            return {windows_module.row_window_bounds(self.base, int(number)): np.flatnonzero(numbers == number)
                    for number in np.unique(numbers)}, 0
        known, starts, ends = windows_module.place(table.column(self.column).to_pandas(), self.column, self.window,
                                                   self.origin)
        kept = np.flatnonzero(known)
        groups = windows_module.groups(starts, ends)
        return {key: kept[positions] for key, positions in groups.items()}, int(len(known) - len(kept))


@dataclass
class SpooledRows(FileRows):
    """The rows of ``files`` (read by ``reader``), cut into windows through ``folder`` and checked here (see the
    module's text); what :func:`nbprod.monitoring.monitor.run_pass` takes in place of a frame."""

    files: list[str]
    reader: Reader
    folder: Path
    counted: int = 0
    schema: list[str] = field(default_factory=list)
    has_labels: bool = False
    parts_written: int = 0

    @property
    def columns(self) -> list[str]:
        """The rows' columns (the union over the files that have rows, laid out as the whole log's frame)."""
        return self.reader.columns(self.schema)

    def slice(self, settings: Mapping[str, Any], reference_columns: Sequence[str], notes: list[str],
              now: Any = None) -> tuple[str | None, list[Part], int]:
        """Step 1: the window column, the windows (their parts written), the rows without a time."""
        from nbprod.monitoring.monitor import slice_notes

        monitor, cut = settings["monitor"], None
        rows: dict[tuple, int] = {}
        parts: dict[tuple, list[str]] = {}
        without_time = 0
        for table in self._tables(settings["data"]["target"]):
            cut = cut or self._cut(settings, now)
            groups, missing = cut.groups(table, self.counted - table.num_rows)
            without_time += missing
            for key, positions in groups.items():
                rows[key] = rows.get(key, 0) + len(positions)
                parts.setdefault(key, []).append(self._write(table.take(positions)))
        if cut is None:  # as a pass on a frame with no rows: no window, nothing to note
            return None, [], 0
        windows = [Part(start, end, rows[start, end], tuple(parts[start, end])) for start, end in sorted(rows)]
        notes.extend(slice_notes(cut.column, len(windows), without_time, self.columns, reference_columns, monitor))
        return cut.column, windows, without_time

    def check(self, slices: Sequence[Part], reference: Any, settings: Mapping[str, Any], **options: Any
              ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Step 2: :func:`~nbprod.monitoring.check.check_windows` of the windows, each read when its turn comes."""
        return check.check_windows((self.window(part) for part in slices), reference, settings, **options)

    def window(self, part: Part) -> windows_module.Window:
        """The rows of window ``part`` from its parts (deleted once read: a window is read once)."""
        import pyarrow as pa

        tables = []
        for path in part.files:
            with pa.memory_map(path) as source:
                tables.append(pa.ipc.open_file(source).read_all())
            Path(path).unlink()
        return windows_module.Window(part.start, part.end, self.reader.frame(tables, self.schema))

    def _tables(self, target: str) -> Iterator[Any]:
        """Each file's rows (files with none skipped), counting them, their columns and labels on the way."""
        for path in self.files:
            table = self.reader.table(path)
            if table is None or not table.num_rows:
                continue
            self.counted += table.num_rows
            self.schema += [name for name in table.column_names if name not in self.schema]
            self.has_labels = self.has_labels or (target in table.column_names
                                                  and bool(table.column(target).to_pandas().notna().any()))
            yield table

    def _cut(self, settings: Mapping[str, Any], now: Any) -> Cut:
        """How this input's rows are placed: by the column the files' schemas name (as the dask engine's)."""
        monitor = settings["monitor"]
        column = windows_module.resolve_column(monitor["window_column"], settings["data"]["time_column"],
                                               self.reader.columns(file_columns(self.files)))
        windows_module.rows_per_window(monitor["window"], column)
        return Cut(column, monitor["window"], settings["split"]["new_start"], windows_module.file_order_base(now))

    def _write(self, table: Any) -> str:
        """``table`` as a part file of the folder; its path."""
        import pyarrow as pa

        self.parts_written += 1
        path = str(self.folder / f"part-{self.parts_written:06d}.arrow")
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema, options=spool_options()) as writer:
            writer.write_table(table)
        return path


@contextlib.contextmanager
def spooled(files: Sequence[str], reader: Reader) -> Iterator[SpooledRows]:
    """:class:`SpooledRows` of ``files`` whose parts live in a temporary folder, removed on exit."""
    with tempfile.TemporaryDirectory(prefix="nbprod-monitor-") as folder:
        yield SpooledRows(list(files), reader, Path(folder))
