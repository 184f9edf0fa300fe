"""The prediction log: every prediction the service makes, as Parquet files (monitoring's input).

One row per predicted record, with the raw input columns of the model's contract
(as validated: numbers as float, categories as text -- unseen ones included, as sent --,
date-times as UTC timestamps) and these columns:

========================  ==========================================================
``time``                  when the request arrived (timestamp, UTC)
``request_id``            the service's own id of the request (the key labels are joined on)
``client_request_id``     the client's ``X-Request-ID`` when it sent one (an echo; never a join key)
``row``                   index of the record in its request
``model_name``            registered model name
``model_version``         registered model version (text)
``prediction``            the predicted class label as text (classification; binary: at the
                          version's threshold) or the value (regression, a number)
``probability``           binary: the positive class's probability; multiclass: the
                          predicted class's; null for regression
``classes``               the model's classes, a JSON list (``[0, 1]``, ``["No", "Yes"]``);
                          null for regression
``positive_class``        the positive class as text (binary); null otherwise
``probabilities``         one probability per class, in ``classes`` order (a list); null
                          for regression
========================  ==========================================================

Labels are stored as text so that every file has the same column types whatever the
labels' type (integers, booleans, text); :func:`read_prediction_log` gives them back as
the model's own labels (the text decoded through ``classes``): ``1`` for a 0/1 model,
``"Yes"`` for a Yes/No one. Files written before the ``classes`` column existed (0/1
predictions as integers) read the same way.

Durability. :class:`PredictionLogWriter` buffers rows in memory and a background
thread writes them in batches -- when ``flush_rows`` rows (or half of ``max_rows``) are
waiting or the oldest has waited ``flush_seconds`` -- as one new file
``predictions-<UTC time>-<host>-<pid>-<n>.parquet`` per batch (per contract, should the
served model change mid-batch; the host name keeps apart the files of service replicas
sharing one folder, whose processes all have pid 1 in their containers). Each file is
written under a temporary name starting with ``.``, fsynced, renamed into place, and
the folder fsynced after the rename: a reader never sees half a file, and a file once
named survives a power loss.

A failed write (a full disk: ``ENOSPC``; a read-only or vanished folder) keeps the batch
in memory and retries it with back-off (``RETRY_SECONDS`` doubling up to
``MAX_RETRY_SECONDS``), oldest first, so files stay in time order. The rows held in
memory -- buffered, being written, or kept after a failure -- are bounded by
``max_rows`` (``serve.log_max_rows``): when a request's rows would pass the bound,
:meth:`PredictionLogWriter.append` refuses them (policy ``refuse``, the default: the
service answers 503 ``log_full`` and serves no unlogged prediction) or counts them as
unlogged and lets the service answer (policy ``serve``; ``nbprod_prediction_log_unlogged_rows_total``
in ``/metrics``). A request larger than the bound is taken when nothing is held.

The bound is the durability bound. :meth:`PredictionLogWriter.close` (called by the
service on graceful shutdown, e.g. SIGTERM, after in-flight requests are answered)
writes everything held: nothing is lost (unless the disk stays full for the whole
``timeout``; the rows then lost are logged as an error). A crash (SIGKILL, power loss)
loses the rows held at that moment: at most ``max(serve.log_max_rows, serve.max_rows)``
answered predictions, and while writes succeed at most ``flush_rows`` rows or
``flush_seconds`` seconds of traffic (plus one batch being written). A row is appended
before its response is sent, so every answered request is in the log after a graceful
shutdown.

Corrupt files. A log file that cannot be read (truncated by a crash of the file system,
damaged, not Parquet) is moved into the ``quarantine/`` subfolder (:data:`QUARANTINE`)
with a warning by :func:`read_prediction_log`; the rest of the log is read, so
monitoring goes on.
"""

from __future__ import annotations

import collections
import errno
import functools
import itertools
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

log = logging.getLogger("nbprod.serving")

PREFIX = "predictions-"
SUFFIX = ".parquet"
#: Subfolder of the log where unreadable files are moved.
QUARANTINE = "quarantine"
#: First wait before a failed write is retried; doubled after each failure up to :data:`MAX_RETRY_SECONDS`.
RETRY_SECONDS = 0.05
MAX_RETRY_SECONDS = 2.0
#: Values converted to Arrow at a time by the writing thread, which then lets the service's threads run
#: (``time.sleep(0)``): converting a whole flush at once held the interpreter lock for tens of milliseconds,
#: a stall every request then waited out (the service's p99 under load)
CONVERT_VALUES = 2000
#: What the writer does with a request's rows when ``max_rows`` are held (``serve.log_policy``).
POLICIES = ("refuse", "serve")

#: Values kept once per request (the rest are per row).
REQUEST_META = ("rows", "time", "request_id", "client_request_id", "model_name", "model_version")
#: Columns of every prediction log, besides the model's input columns.
META_COLUMNS = ("time", "request_id", "client_request_id", "row", "model_name", "model_version", "prediction",
                "probability", "classes", "positive_class", "probabilities")


@dataclass
class Run:
    """Consecutive requests answered by one model (the same labels): their predictions and, for a
    classifier, their class probabilities (one array per request)."""

    labels: Any
    predictions: list = field(default_factory=list)
    scores: list | None = None


class Pending:
    """The rows of one contract waiting to be written, column by column: one list per input column and
    per meta value, extended by each request, so that the writing thread hands whole columns to Arrow."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.columns: dict[str, list] = {name: [] for name in names}
        #: one value per request: its rows, arrival time, ids and model
        self.meta: dict[str, list] = {name: [] for name in REQUEST_META}
        self.runs: list[Run] = []
        self.rows = 0

    def add(self, columns: Mapping[str, Sequence], predictions: Sequence, probabilities: Sequence | None,
            labels: Any, request: Mapping[str, Any]) -> None:
        """One request's rows: its validated ``columns``, its answer, and ``request``: its
        :data:`REQUEST_META` values but ``rows``."""
        for name, values in self.columns.items():
            values.extend(columns[name])
        rows = len(predictions)
        self.meta["rows"].append(rows)
        for name in REQUEST_META[1:]:
            self.meta[name].append(request[name])
        if probabilities is not None and labels is None:
            labels = _default_labels(int(probabilities.shape[1]))
        run = self.runs[-1] if self.runs else None
        if run is None or run.labels is not labels or (run.scores is None) != (probabilities is None):
            run = Run(labels, scores=None if probabilities is None else [])
            self.runs.append(run)
        run.predictions.append(predictions)
        if probabilities is not None:
            run.scores.append(probabilities)
        self.rows += rows


class PredictionLogWriter:
    """Buffer prediction rows in memory; write them as Parquet files from a background thread.

    ``max_rows``: rows held in memory at most (see the module docstring; None: no bound);
    ``policy``: ``refuse`` or ``serve``, what :meth:`append` does beyond it.
    """

    def __init__(self, folder: Path, flush_rows: int = 5000, flush_seconds: float = 2.0,
                 max_rows: int | None = None, policy: str = "refuse") -> None:
        if policy not in POLICIES:
            raise ValueError(f"prediction log policy {policy!r} is not one of {POLICIES}")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.flush_rows = max(1, int(flush_rows))
        self.flush_seconds = float(flush_seconds)
        self.max_rows = None if max_rows is None else max(1, int(max_rows))
        self.policy = policy
        # a batch is written once flush_rows rows wait, or half the bound: the bound is not reached by waiting
        self._flush_at = self.flush_rows if self.max_rows is None else max(1, min(self.flush_rows, self.max_rows // 2))
        self._buffer: dict[tuple[str, ...], Pending] = {}  # per contract, in arrival order
        self._rows = 0
        self._held = 0                      # rows not yet on disk: buffered + being written + failed
        self._failed: collections.deque = collections.deque()  # (rows, Arrow table) to retry, oldest first
        self._retry_at: float | None = None
        self._backoff = RETRY_SECONDS
        self._deadline: float | None = None  # set by close(): give up retrying after it
        self._oldest: float | None = None
        self._condition = threading.Condition()
        self._write_lock = threading.Lock()
        self._closed = False
        self._sequence = itertools.count()
        self.rows_written = 0
        self.files_written = 0
        self.write_errors = 0
        self.rows_unlogged = 0              # policy serve: answered but not logged (held rows at the bound)
        self.rows_refused = 0               # policy refuse: not answered because the bound was reached
        self.rows_lost = 0                  # could not be written before close() gave up, or not convertible
        self._thread = threading.Thread(target=self._loop, name="nbprod-prediction-log", daemon=True)
        self._thread.start()

    @property
    def rows_buffered(self) -> int:
        """Rows held in memory, not yet on disk (the log's lag)."""
        return self._held

    @property
    def failing(self) -> bool:
        """The last write failed and its rows wait for a retry."""
        return bool(self._failed)

    def append(self, contract_names: Sequence[str], columns: dict[str, list], predictions: Sequence,
               probabilities: Sequence | None, model_name: str, model_version: str,
               request_id: str, arrived: float, labels: Any = None, client_request_id: str | None = None) -> bool:
        """Queue the rows of one request (cheap: its values extend the buffer's columns, nothing converted).

        ``labels``: the model's :class:`~nbprod.model.labels.ClassLabels` (classification;
        without it the classes are taken to be ``0 .. k-1``, the positive one the last).
        Returns False when the rows were refused (``max_rows`` held, policy ``refuse``): the
        caller must not answer with them. Policy ``serve`` returns True, the rows counted as unlogged.
        ``client_request_id``: the client's ``X-Request-ID``, logged beside the service's ``request_id``.
        """
        rows = len(predictions)
        with self._condition:
            if self._closed:
                raise RuntimeError("prediction log is closed")
            if self.max_rows is not None and self._held and self._held + rows > self.max_rows:
                if self.policy == "refuse":
                    self.rows_refused += rows
                    return False
                self.rows_unlogged += rows
                return True
            names = tuple(contract_names)
            pending = self._buffer.get(names)
            if pending is None:
                pending = self._buffer[names] = Pending(names)
            pending.add(columns, predictions, probabilities, labels,
                        {"time": arrived, "request_id": request_id, "client_request_id": client_request_id,
                         "model_name": model_name, "model_version": model_version})
            self._rows += rows
            self._held += rows
            if self._oldest is None:  # the thread sleeps until the first row: wake it to start the clock
                self._oldest = time.monotonic()
                self._condition.notify()
            elif self._rows >= self._flush_at:
                self._condition.notify()
        return True

    def _take(self) -> list[Pending]:
        pending, self._buffer, self._rows, self._oldest = list(self._buffer.values()), {}, 0, None
        return pending

    def _due(self) -> float | None:
        """Seconds until the thread has work (0: now; None: wait for a row). Holds the condition."""
        now = time.monotonic()
        if self._failed:
            return max(0.0, (self._retry_at or now) - now)
        if self._closed or self._rows >= self._flush_at:
            return 0.0
        if self._oldest is not None:
            return max(0.0, self.flush_seconds - (now - self._oldest))
        return None

    def _loop(self) -> None:
        while True:
            with self._condition:
                while True:
                    wait = self._due()
                    if wait == 0.0:
                        break
                    self._condition.wait(wait)
                closed = self._closed
                pending = self._take()
            self._write(pending)
            if closed and (not self._failed or self._gave_up()):
                return

    def _gave_up(self) -> bool:
        """After close(): past its deadline with rows still failing (they are counted lost)."""
        if self._deadline is None or time.monotonic() < self._deadline:
            return False
        with self._condition:
            lost = sum(rows for rows, _ in self._failed)
            self._failed.clear()
            self._held -= lost
            self.rows_lost += lost
        log.error("prediction log: %d rows could not be written before shutdown and are lost", lost)
        return True

    def flush(self) -> None:
        """Write what is buffered now (and retry failed writes), from the calling thread."""
        with self._condition:
            pending = self._take()
        self._write(pending)

    def close(self, timeout: float = 60.0) -> None:
        """Stop the thread after it has written everything held (graceful shutdown).

        Failed writes are retried until ``timeout`` seconds have passed; rows still unwritten
        then are lost (logged, counted in ``rows_lost``).
        """
        with self._condition:
            self._closed = True
            self._deadline = time.monotonic() + timeout
            self._condition.notify()
        self._thread.join(timeout + 1.0)
        if not self._thread.is_alive():
            self.flush()  # rows appended between the thread's last take and its exit (none once closed)

    def _write(self, pending: list[Pending]) -> None:
        """Convert ``pending`` and write it after the earlier failed batches; keep what fails."""
        with self._write_lock:
            for table in self._tables(pending):
                self._failed.append(table)
            while self._failed:
                rows, table = self._failed[0]
                try:
                    self._write_table(table)
                except Exception as error:  # keep the batch; retry later
                    self.write_errors += 1
                    with self._condition:
                        self._retry_at = time.monotonic() + self._backoff
                        self._backoff = min(self._backoff * 2, MAX_RETRY_SECONDS)
                    if getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                        log.warning("prediction log: disk full writing %d rows; %d rows held, retrying",
                                    rows, self._held)
                    else:
                        log.exception("prediction log: writing %d rows failed; %d rows held, retrying",
                                      rows, self._held)
                    return
                self._failed.popleft()
                with self._condition:
                    self._held -= rows
                    self._retry_at, self._backoff = None, RETRY_SECONDS
                self.rows_written += rows
                self.files_written += 1

    def _tables(self, pending: list[Pending]) -> list[tuple[int, Any]]:
        """One ``(rows, Arrow table)`` per contract among ``pending`` (a batch that cannot be converted is
        a bug, not a disk problem: it is logged, counted lost, and not retried)."""
        tables = []
        for part in pending:
            try:
                table = _table(part)
            except Exception:  # never let logging take the service down; count and report
                self.write_errors += 1
                with self._condition:
                    self._held -= part.rows
                    self.rows_lost += part.rows
                log.exception("prediction log: %d requests could not be converted; %d rows lost",
                              len(part.meta["rows"]), part.rows)
                continue
            tables.append((table.num_rows, table))
        return tables

    def _write_table(self, table: Any) -> None:
        """Write ``table`` under a temporary name, fsync it, rename it into place, fsync the folder."""
        import pyarrow.parquet as pq

        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{PREFIX}{stamp}-{socket.gethostname()}-{os.getpid()}-{next(self._sequence):06d}{SUFFIX}"
        temporary = self.folder / f".{name}.tmp"
        try:
            with open(temporary, "wb") as stream:
                pq.write_table(table, stream)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.folder / name)
        except BaseException:
            temporary.unlink(missing_ok=True)  # a partial file on a full disk only takes more room
            raise
        fsync_folder(self.folder)


def fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX: fsync the directory; a no-op where it cannot be opened)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _table(pending: Pending):
    """One Arrow table of many requests' rows: their meta values, their answers and their input columns
    (whole, converted :data:`CONVERT_VALUES` at a time, the service's threads let in between: this runs in a
    background thread but holds the interpreter lock while it works)."""
    import numpy as np
    import pyarrow as pa

    meta = pending.meta
    counts = np.asarray(meta["rows"], dtype=np.int64)
    total = int(counts.sum())
    micros = np.repeat((np.asarray(meta["time"], dtype=np.float64) * 1e6).astype(np.int64), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    rows = (np.arange(total, dtype=np.int64) - starts).astype(np.int32)
    owner = pa.array(np.repeat(np.arange(counts.size), counts))  # the request of each row

    def repeated(name: str):  # one value per request, repeated by Arrow (not per row in Python)
        return pa.array(meta[name], pa.string()).take(owner)

    columns = {"time": pa.array(micros, pa.timestamp("us", tz="UTC")), "request_id": repeated("request_id"),
               "client_request_id": repeated("client_request_id"), "row": pa.array(rows, pa.int32()),
               "model_name": repeated("model_name"), "model_version": repeated("model_version")}
    time.sleep(0)
    columns.update(_outcome_columns(pending.runs, total))
    for name in pending.names:
        if name not in columns:
            time.sleep(0)
            columns[name] = _column_array(pending.columns[name])
    return pa.table(columns)


def _outcome_columns(runs: list[Run], total: int) -> dict[str, Any]:
    """``prediction``, ``probability``, ``classes``, ``positive_class`` and ``probabilities`` of ``total``
    rows (see :func:`_class_columns`; regression: the values, and nulls)."""
    import numpy as np
    import pyarrow as pa

    if all(run.scores is not None for run in runs):
        return _class_columns(runs)
    predictions = np.concatenate([np.asarray(values) for run in runs for values in run.predictions])
    return {"prediction": pa.array(predictions.astype(np.float64)),
            "probability": pa.nulls(total, pa.float64()), "classes": pa.nulls(total, pa.string()),
            "positive_class": pa.nulls(total, pa.string()),
            "probabilities": pa.nulls(total, pa.list_(pa.float64()))}


def _column_array(values: list):
    """:func:`_feature_array` of a whole column, :data:`CONVERT_VALUES` at a time, the other threads let in
    between (one Arrow array)."""
    import pyarrow as pa

    if len(values) <= CONVERT_VALUES:
        return _feature_array(values)
    kind = _value_kind(values)  # one kind for every part: their Arrow types agree
    parts = []
    for start in range(0, len(values), CONVERT_VALUES):
        if start:
            time.sleep(0)
        parts.append(_feature_array(values[start:start + CONVERT_VALUES], kind))
    return pa.concat_arrays(parts)


@functools.lru_cache(maxsize=8)
def _default_labels(width: int) -> Any:
    from nbprod.model.labels import ClassLabels

    return ClassLabels.of(range(width))


def predictions_text(predictions: Any) -> Any:
    """Predicted labels as text (see :func:`nbprod.model.labels.label_text`), vectorised for the usual kinds."""
    import numpy as np

    from nbprod.model.labels import labels_text

    values = np.asarray(predictions)
    if values.dtype.kind in "iubU":
        return values.astype(str).astype(object)
    return labels_text(values)


def _class_columns(runs: list[Run]) -> dict[str, Any]:
    """``prediction`` (text), ``probability``, ``classes``, ``positive_class`` and ``probabilities`` of
    classification rows, computed once per run of requests answered by the same model (same labels)."""
    import numpy as np
    import pyarrow as pa

    from nbprod.model.labels import label_text

    texts, probability, flat, widths, classes, positives = [], [], [], [], [], []
    for run in runs:
        labels = run.labels
        scores = np.concatenate([np.asarray(values, dtype=np.float64) for values in run.scores])
        rows = len(scores)
        texts.append(predictions_text(np.concatenate([np.asarray(values) for values in run.predictions])))
        probability.append(labels.positive_scores(scores) if labels.binary else scores.max(axis=1))
        flat.append(scores.ravel())
        widths.append(np.full(rows, scores.shape[1], dtype=np.int32))
        classes.append(np.repeat(np.array([labels.to_json()], dtype=object), rows))
        positives.append(np.repeat(np.array([label_text(labels.positive) if labels.binary else None], dtype=object),
                                   rows))
    offsets = np.concatenate([[0], np.cumsum(np.concatenate(widths))]).astype(np.int32)
    return {"prediction": pa.array(np.concatenate(texts), pa.string()),
            "probability": pa.array(np.concatenate(probability), pa.float64()),
            "classes": pa.array(np.concatenate(classes), pa.string()),
            "positive_class": pa.array(np.concatenate(positives), pa.string()),
            "probabilities": pa.ListArray.from_arrays(pa.array(offsets, pa.int32()),
                                                      pa.array(np.concatenate(flat), pa.float64()))}


def decode_predictions(frame: Any) -> Any:
    """``frame`` (one log file's rows) with its text ``prediction`` turned back into the model's labels
    through the ``classes`` column; rows without classes (regression, older files) unchanged."""
    import pandas as pd

    from nbprod.model.labels import decode_tag, label_text

    if "classes" not in frame.columns or not frame["classes"].notna().any():
        return frame
    decoded = frame["prediction"].astype(object).copy()
    for text in frame["classes"].dropna().unique():
        lookup = {label_text(label): label for label in decode_tag(text)}
        rows = (frame["classes"] == text).to_numpy()
        decoded[rows] = frame["prediction"][rows].map(lambda value: lookup.get(value, value)).to_numpy()
    return frame.assign(prediction=pd.Series(decoded.tolist(), index=frame.index).infer_objects())


def _value_kind(values: list) -> type:
    """The type of a column's first value that is not None (``NoneType``: all are)."""
    return type(next((value for value in values if value is not None), None))


def _feature_array(values: list, kind: type | None = None):
    """One input column as an Arrow array: numbers as float64 (NaN as null), date-times as UTC timestamps,
    anything else as text; ``kind``: the column's :func:`_value_kind` when ``values`` are a part of it."""
    import numpy as np
    import pyarrow as pa

    kind = _value_kind(values) if kind is None else kind
    if issubclass(kind, float):
        return pa.array(np.asarray(values, dtype=np.float64), pa.float64(), from_pandas=True)  # NaN -> null
    if issubclass(kind, datetime):  # aware: converted to UTC; naive: taken as UTC; None -> NaT -> null
        import pandas as pd  # (numpy converts datetime objects one by one: 10 ms per 5,000, the GIL held)

        stamps = pd.DatetimeIndex(pd.to_datetime(values, utc=True)).tz_localize(None).as_unit("us")
        return pa.array(stamps.to_numpy(), pa.timestamp("us"))
    if kind is type(None):
        return pa.nulls(len(values), pa.string())
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if value is None else str(value) for value in values], pa.string())


def _as_utc(value: Any):
    import pandas as pd

    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def empty_log_frame():
    """The frame :func:`read_prediction_log` returns for an empty log: meta columns, no rows."""
    import pandas as pd

    return pd.DataFrame({
        "time": pd.Series([], dtype="datetime64[us, UTC]"),
        "request_id": pd.Series([], dtype="str"),
        "client_request_id": pd.Series([], dtype="str"),
        "row": pd.Series([], dtype="int32"),
        "model_name": pd.Series([], dtype="str"),
        "model_version": pd.Series([], dtype="str"),
        "prediction": pd.Series([], dtype="float64"),
        "probability": pd.Series([], dtype="float64"),
        "classes": pd.Series([], dtype="str"),
        "positive_class": pd.Series([], dtype="str"),
        "probabilities": pd.Series([], dtype=object),
    })


def quarantine_file(file: Path, reason: str, quarantine: Path | None = None) -> Path | None:
    """Move an unreadable log file into ``quarantine`` (default: the log's :data:`QUARANTINE` subfolder),
    with a warning naming it and why; the new path (None when it could not be moved: it is then skipped)."""
    folder = Path(quarantine) if quarantine is not None else file.parent / QUARANTINE
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / file.name
        os.replace(file, target)
    except OSError as error:
        log.warning("prediction log file %s is unreadable (%s) and could not be moved aside (%s): skipped",
                    file, reason, error)
        return None
    log.warning("prediction log file %s is unreadable (%s): moved to %s; the rest of the log is read",
                file.name, reason, target)
    return target


def _read_file(file: Path, quarantine: Path | None):
    """One log file as a pyarrow table, or None (unreadable: moved aside by :func:`quarantine_file`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(file)
    except FileNotFoundError:  # moved aside by a concurrent reader
        return None
    except (pa.ArrowException, OSError) as error:
        quarantine_file(file, f"{type(error).__name__}: {str(error)[:200]}", quarantine)
        return None


def log_files(folder: str | os.PathLike, since: Any = None) -> list[Path]:
    """The log's files in ``folder`` in flush order (never one being written), less those flushed before
    ``since`` (a file's name is its flush time, later than every row in it)."""
    import pandas as pd

    path = Path(folder)
    files = sorted(path.glob(f"{PREFIX}*{SUFFIX}")) if path.is_dir() else []
    if since is None:
        return files
    low = _as_utc(since)
    kept = []
    for file in files:
        try:
            flushed = pd.Timestamp(datetime.strptime(file.name[len(PREFIX):].split("-")[0], "%Y%m%dT%H%M%S%fZ"),
                                   tz="UTC")
        except ValueError:
            flushed = None
        if flushed is None or flushed >= low:
            kept.append(file)
    return kept


def read_log_file(file: Path, since: Any = None, until: Any = None, quarantine: str | os.PathLike | None = None):
    """The rows of one log file with ``since <= time < until`` (see :func:`read_prediction_log`), or None when
    the file is unreadable (moved into ``quarantine``) or gone."""
    table = _read_file(file, None if quarantine is None else Path(quarantine))
    if table is None:
        return None
    frame = decode_predictions(table.to_pandas())
    return frame[in_time_range(frame["time"], since, until)] if since is not None or until is not None else frame


def in_time_range(times: Any, since: Any = None, until: Any = None) -> Any:
    """Which request ``times`` (a Series) are ``since <= time < until`` (a boolean array; None: no bound)."""
    import numpy as np

    keep = np.ones(len(times), dtype=bool)
    if since is not None:
        keep &= (times >= _as_utc(since)).to_numpy()
    if until is not None:
        keep &= (times < _as_utc(until)).to_numpy()
    return keep


def read_log_table(file: Path, since: Any = None, until: Any = None, quarantine: str | os.PathLike | None = None):
    """:func:`read_log_file`'s rows as an Arrow table, their predictions not yet decoded (:func:`log_frame` does
    it); None when the file is unreadable (moved into ``quarantine``) or gone."""
    import pyarrow as pa

    table = _read_file(file, None if quarantine is None else Path(quarantine))
    if table is None or (since is None and until is None):
        return table
    return table.filter(pa.array(in_time_range(table.column("time").to_pandas(), since, until)))


def read_prediction_log(folder: str | os.PathLike, since: Any = None, until: Any = None,
                        quarantine: str | os.PathLike | None = None):
    """The prediction log in ``folder`` as a DataFrame, rows with ``since <= time < until``.

    ``since``/``until``: anything :class:`pandas.Timestamp` takes; naive values are UTC.
    Columns: :data:`META_COLUMNS` then the model's input columns (the union over
    files, should the contract have changed; missing values where a file lacks one).
    A missing or empty folder gives an empty frame with the meta columns. Files being
    written (temporary names) are never read. Rows are in file (flush) order. A file
    that cannot be read (truncated, corrupt) is moved into ``quarantine`` (default:
    ``<folder>/quarantine``, see :meth:`nbprod.project.Project.prediction_log_quarantine`)
    with a warning, and the others are read.
    """
    frames = []
    for file in log_files(folder, since):
        frame = read_log_file(file, since, until, quarantine)
        if frame is not None and len(frame):
            frames.append(frame)
    return log_frame(frames)


def log_frame(frames: list, columns: Sequence[str] | None = None):
    """Log files' decoded rows (``frames``, in file order) as one frame: :data:`META_COLUMNS` first (None where
    older files lack one), then the others, each ``columns`` among them (absent ones as missing values);
    no rows: :func:`empty_log_frame`."""
    import pandas as pd

    if not frames:
        return empty_log_frame()
    result = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
    if result["prediction"].dtype == object:  # files of several label types, or older files among newer
        result["prediction"] = result["prediction"].infer_objects()
    for name in META_COLUMNS:  # older files lack the class columns
        if name not in result.columns:
            result[name] = None
    features = [name for name in result.columns if name not in META_COLUMNS]
    features += [name for name in columns or () if name not in result.columns]
    return result.reindex(columns=[*META_COLUMNS, *features]) if columns else result[[*META_COLUMNS, *features]]
