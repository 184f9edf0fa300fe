"""``nbprod monitor --engine dask``: the windows of a partitioned log read and checked on a Dask cluster.

The rows stay in their files (the prediction log's, or a folder of Parquet files); the client holds
their names, the windows' bounds and row counts, and the history entries. Two rounds of futures, each
carrying file paths and window bounds, never rows:

1. one per file: its rows are read on a worker and cut into windows (:func:`nbprod.monitoring.windows.slice_windows`,
   on the window column the client resolved from the files' schemas); back come the rows of each window
   in that file, the rows without a time and whether any row has a label. The client merges the files'
   counts by adding them: the windows of the whole input and the files holding each.
2. one per window: a worker reads that window's rows from its files (in file order, as a local pass
   concatenates them) and checks it with :func:`nbprod.monitoring.check.check_windows`, the same
   function, reference and detector a local pass uses -- so its statistics, per-column decisions and
   dataset decision are a local pass's, exact tests (KS, the exact Wasserstein near a threshold) included.
   The reference and its fitted detector are loaded once per worker process.

The client then decides on the merged entries as a local pass does (:func:`nbprod.monitoring.monitor.run_pass`).
Windows in file order (no time places the rows) are not cut across files: use the local engine for them.
This module imports nothing of Dask: the client comes from :func:`nbprod.pipeline.dask_engine.connected`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from nbprod.monitoring import check, windows as windows_module

#: How a file is read: a prediction log file (:func:`nbprod.serving.prediction_log.read_log_file`) or Parquet.
LOG, PARQUET = "log", "parquet"


@dataclass(frozen=True)
class Part:
    """A window of the whole input as the client knows it: its bounds, rows and the files holding them."""

    start: pd.Timestamp
    end: pd.Timestamp
    rows: int
    files: tuple[str, ...]

    @property
    def key(self) -> tuple[str, str]:
        return windows_module.iso(self.start), windows_module.iso(self.end)


@dataclass(frozen=True)
class Reader:
    """How the files are read on a worker: ``kind`` (:data:`LOG` or :data:`PARQUET`), the log's time bounds
    and quarantine folder."""

    kind: str
    since: Any = None
    until: Any = None
    quarantine: str | None = None

    def read(self, path: str) -> pd.DataFrame | None:
        """The file's rows (None: an unreadable log file, moved into the quarantine)."""
        if self.kind == PARQUET:
            return pd.read_parquet(path)
        from nbprod.serving.prediction_log import read_log_file

        return read_log_file(Path(path), self.since, self.until, self.quarantine)

    def table(self, path: str) -> Any:
        """The file's rows as an Arrow table, a log's predictions not yet decoded (None: an unreadable log file,
        moved into the quarantine)."""
        if self.kind == PARQUET:
            import pyarrow.parquet as pq

            return pq.read_table(path)
        from nbprod.serving.prediction_log import read_log_table

        return read_log_table(Path(path), self.since, self.until, self.quarantine)

    def columns(self, schema: Sequence[str]) -> list[str]:
        """The columns of rows of files holding ``schema``'s: a log's laid out as
        :func:`~nbprod.serving.prediction_log.read_prediction_log` lays them out."""
        if self.kind == PARQUET:
            return list(schema)
        from nbprod.serving.prediction_log import META_COLUMNS

        return [*META_COLUMNS, *(name for name in schema if name not in META_COLUMNS)]

    def frame(self, tables: Sequence[Any], columns: Sequence[str]) -> pd.DataFrame:
        """A window's rows from its parts' Arrow ``tables`` (in file order), with each of ``columns``: a log's laid
        out as :func:`~nbprod.serving.prediction_log.read_prediction_log` lays out the whole log."""
        import pyarrow as pa

        runs: list[list[Any]] = []
        for table in tables:  # parts of the same schema converted together
            if runs and runs[-1][0].schema == table.schema:
                runs[-1].append(table)
            else:
                runs.append([table])
        frames = [pa.concat_tables(run).to_pandas() for run in runs]
        if self.kind == PARQUET:
            return with_columns(pd.concat(frames, ignore_index=True), columns)
        from nbprod.serving.prediction_log import decode_predictions, log_frame

        return log_frame([decode_predictions(frame) for frame in frames], columns)


class FileRows:
    """What a pass asks of rows kept in files, known once they are cut: their number (``counted``), whether some
    have a label (``has_labels``) and the files' columns (``schema``)."""

    counted: int
    has_labels: bool
    schema: list[str]

    def __len__(self) -> int:
        return self.counted

    def labelled(self, target: str) -> bool:
        """Whether some row has a value of ``target`` (known once the rows are cut)."""
        return self.has_labels

    def logged_scores(self) -> bool:
        """Whether the rows carry the model's logged output (``probability`` or ``prediction``)."""
        return "probability" in self.schema or "prediction" in self.schema


@dataclass
class ClusterRows(FileRows):
    """Rows in ``files``, cut into windows and checked on the cluster of ``client`` (see the module's text);
    what :func:`nbprod.monitoring.monitor.run_pass` takes in place of a frame."""

    client: Any
    files: list[str]
    reader: Reader
    counted: int = 0
    column: str | None = None
    schema: list[str] = field(default_factory=list)
    has_labels: bool = False

    def __post_init__(self) -> None:
        self.schema = file_columns(self.files)

    @property
    def columns(self) -> list[str]:
        """The union of the files' columns, in the order they appear."""
        return self.schema

    def slice(self, settings: Mapping[str, Any], reference_columns: Sequence[str], notes: list[str],
              now: Any = None) -> tuple[str | None, list[Part], int]:
        """Round 1: the window column, the windows of all files (their counts added), the rows without a time."""
        from nbprod.monitoring.monitor import slice_notes

        if not self.files:  # as a local pass with no rows: no window, nothing to note
            return None, [], 0
        monitor = settings["monitor"]
        column = windows_module.resolve_column(monitor["window_column"], settings["data"]["time_column"],
                                               self.schema)
        if column is None:
            raise windows_module.WindowError(
                f"the dask engine places rows in windows by time, and no time places these rows (monitor.window_column "
                f"{monitor['window_column']}): monitor windows in file order with the local engine")
        token = uuid.uuid4().hex
        futures = [self.client.submit(file_windows, path, self.reader, column, monitor["window"],
                                      settings["split"]["new_start"], settings["data"]["target"],
                                      key=f"nbprod-monitor-read-{token}-{index}", pure=False)
                   for index, path in enumerate(self.files)]
        counts = gathered(self.client, futures)
        parts, without_time = merge_counts(self.files, counts)
        self.counted = sum(count["rows"] for count in counts)
        self.has_labels = any(count["labelled"] for count in counts)
        notes.extend(slice_notes(column, len(parts), without_time, self.schema, reference_columns, monitor))
        self.column = column
        return column, parts, without_time

    def check(self, slices: Sequence[Part], reference: Any, settings: Mapping[str, Any], *,
              recorded: Mapping[tuple[str, str], Mapping[str, Any]] | None = None, **options: Any
              ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Round 2: each window checked on a worker; ``(changed, all)`` as
        :func:`~nbprod.monitoring.check.check_windows` gives them."""
        recorded = recorded or {}
        token = uuid.uuid4().hex
        # the champion's scorer and its predictions on the reference go to each worker once, not with each window
        shared = {name: options.pop(name, None) for name in ("scorer", "predicted_reference")}
        shared = {name: value if value is None else self.client.scatter(value, broadcast=True, hash=False)
                  for name, value in shared.items()}
        futures = []
        for index, part in enumerate(slices):
            known = {part.key: recorded[part.key]} if part.key in recorded else {}
            futures.append(self.client.submit(check_part, part, self.reader, self.column, self.schema,
                                              str(reference.path), settings, {**options, "recorded": known},
                                              shared.get("scorer"), shared.get("predicted_reference"),
                                              key=f"nbprod-monitor-check-{token}-{index}", pure=False))
        changed, entries = [], []
        for ours, every in gathered(self.client, futures):
            changed.extend(ours)
            entries.extend(every)
        return changed, entries


def gathered(client: Any, futures: list[Any]) -> list[Any]:
    """The futures' results in order (the ones not done cancelled when one failed)."""
    try:
        return client.gather(futures)
    finally:
        client.cancel([future for future in futures if not future.done()])


def file_columns(files: Sequence[str]) -> list[str]:
    """The union of the Parquet files' columns, read from their schemas (an unreadable file adds none)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns: dict[str, None] = {}
    for path in files:
        try:
            columns.update(dict.fromkeys(pq.read_schema(path).names))
        except (pa.ArrowException, OSError):  # its worker moves it into the quarantine
            continue
    return list(columns)


def file_windows(path: str, reader: Reader, column: str, window: str, origin: Any, target: str) -> dict[str, Any]:
    """Round 1 on a worker: ``{"rows", "without_time", "labelled", "windows": [(start, end, rows)]}`` of one file."""
    frame = reader.read(path)
    if frame is None or frame.empty:
        return {"rows": 0, "without_time": 0, "labelled": False, "windows": []}
    cut, without_time = windows_module.slice_windows(frame, column, window, origin)
    return {"rows": int(len(frame)), "without_time": without_time,
            "labelled": target in frame.columns and bool(frame[target].notna().any()),
            "windows": [(part.start, part.end, part.rows) for part in cut]}


def merge_counts(files: Sequence[str], counts: Sequence[Mapping[str, Any]]) -> tuple[list[Part], int]:
    """The windows of all ``files`` (rows added, files in order) in time order; and the rows without a time."""
    rows: dict[tuple[pd.Timestamp, pd.Timestamp], int] = {}
    holders: dict[tuple[pd.Timestamp, pd.Timestamp], list[str]] = {}
    for path, count in zip(files, counts):
        for start, end, number in count["windows"]:
            rows[start, end] = rows.get((start, end), 0) + number
            holders.setdefault((start, end), []).append(path)
    parts = [Part(start, end, rows[start, end], tuple(holders[start, end])) for start, end in sorted(rows)]
    return parts, sum(count["without_time"] for count in counts)


def window_rows(part: Part, reader: Reader, column: str, window: str, origin: Any,
                columns: Sequence[str]) -> windows_module.Window:
    """The rows of window ``part`` from its files, in file order, with every column of the input."""
    pieces = []
    for path in part.files:
        frame = reader.read(path)
        if frame is None:
            continue
        cut, _ = windows_module.slice_windows(frame, column, window, origin)
        pieces += [piece.frame for piece in cut if piece.key == part.key]
    frame = pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0].reset_index(drop=True)
    return windows_module.Window(part.start, part.end, with_columns(frame, columns))


def with_columns(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``frame`` with each of ``columns`` (absent ones added, with no value: as a concatenation of all files has
    them)."""
    missing = [name for name in columns if name not in frame.columns]
    return frame.reindex(columns=[*frame.columns, *missing]) if missing else frame


def check_part(part: Part, reader: Reader, column: str, columns: Sequence[str], reference_path: str,
               settings: Mapping[str, Any], options: Mapping[str, Any], scorer: Any = None,
               predicted_reference: Any = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Round 2 on a worker: window ``part`` checked as a local pass checks it (``options``, ``scorer`` and
    ``predicted_reference``: :func:`~nbprod.monitoring.check.check_windows`'s)."""
    monitor = settings["monitor"]
    window = window_rows(part, reader, column, monitor["window"], settings["split"]["new_start"], columns)
    reference, detector = fitted_reference(reference_path, settings)
    return check.check_windows([window], reference, settings, detector=detector, scorer=scorer,
                               predicted_reference=predicted_reference, **options)


_REFERENCE: dict[tuple, tuple[Any, Any]] = {}


def fitted_reference(path: str, settings: Mapping[str, Any]) -> tuple[check.Reference, Any]:
    """The reference at ``path`` and its detector, fitted once per worker process (the last one kept)."""
    stat = Path(path).stat()
    key = (path, stat.st_mtime_ns, stat.st_size, repr(settings["monitor"]), repr(settings["data"]))
    if key not in _REFERENCE:
        reference = check.read_reference(Path(path), settings)
        _REFERENCE.clear()
        _REFERENCE[key] = reference, check.detector_for(reference, settings["monitor"]["drift_share"])
    return _REFERENCE[key]
