"""Batch scoring: a CSV or Parquet file scored with a loaded model, chunk by chunk.

Memory stays flat in the file size: CSV is read with ``pandas.read_csv(chunksize=...)``,
Parquet with ``pyarrow.parquet.ParquetFile.iter_batches``; each chunk is validated with
the service's rules (:func:`nbprod.serving.validation.validate_frame`), scored and
appended to the output before the next is read.

Output: the contract columns as the model saw them (numbers as float, categories as
text, date-times as naive UTC timestamps), the other input columns as read, then
``prediction`` (the class label -- binary: the positive class where its probability is at
least the version's threshold; multiclass: the most probable class -- or the regression
value) and, for classification, ``probability`` (binary: the positive class's probability;
multiclass: the predicted class's) and, for multiclass, one ``probability_<label>`` column
per class (see :func:`probability_columns`). Rows failing validation go, as read, to
the rejects file with a ``reject_reason`` column and ``input_row`` (the row's position
among the input's data rows, from 0; the file is always written; empty when nothing
was rejected). CSV input columns are read as text and converted per the
contract, so a CSV in gives text for the non-contract columns. A CSV row with fewer fields than
the header is rejected (pandas would fill it with missing values); a file whose header names a
column twice, or whose first row has a field more than the header (pandas would shift every column),
is refused. Output and rejects are
written under temporary names and renamed when complete: a reader never sees half a
file, and a failed run leaves no output behind.
"""

from __future__ import annotations

import csv
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from nbprod.serving.validation import RequestError, cut, excerpt, validate_frame

CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz", ".txt", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
REASON = "reject_reason"
#: ``DataFrame.attrs`` key of a CSV chunk's rows with fewer fields than the header: position -> reason.
SHORT_ROWS = "short_rows"
ROW = "input_row"
#: Why a CSV is refused when the two readers that check it disagree (never seen; a guard against a quirk).
ROWS_DISAGREE = "pandas and Python's csv module read a different number of rows"


class ScoreError(Exception):
    """The input cannot be scored at all (missing, unreadable, wrong columns)."""


@dataclass
class ScoreSummary:
    """What a batch scoring run did."""

    input: Path
    output: Path
    rejects: Path
    model_name: str
    model_version: str
    rows_read: int = 0
    rows_scored: int = 0
    rows_rejected: int = 0
    chunks: int = 0
    unseen: dict[str, int] = field(default_factory=dict)

    def text(self) -> str:
        unseen = {name: count for name, count in self.unseen.items() if count}
        lines = [f"scored {self.rows_scored} of {self.rows_read} rows with models:/{self.model_name}/"
                 f"{self.model_version} -> {self.output}",
                 f"rejected {self.rows_rejected} rows -> {self.rejects}"]
        if unseen:
            lines.append(f"unseen categories (scored as missing): {unseen}")
        return "\n".join(lines)


def file_format(path: Path) -> str:
    """``csv`` or ``parquet`` from the file name."""
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    raise ScoreError(f"{path}: unknown file type; use one of {CSV_SUFFIXES + PARQUET_SUFFIXES}")


def default_rejects(output: Path) -> Path:
    """``out.parquet`` -> ``out.rejects.parquet`` (same folder, same format)."""
    name = output.name
    for suffix in sorted(CSV_SUFFIXES + PARQUET_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return output.with_name(name[: -len(suffix)] + ".rejects" + name[-len(suffix):])
    return output.with_name(name + ".rejects")


def read_csv(source: Any, chunksize: int | None = None, sep: str = ","):
    """``pandas.read_csv`` as scoring reads CSV (a file here, a request body in the service): every cell as
    text, pandas' missing-value markers (empty, ``NA``, ``null``...) as missing; the contract converts."""
    import pandas as pd

    return pd.read_csv(source, chunksize=chunksize, dtype=str, sep=sep)


def read_chunks(path: Path, chunk_rows: int) -> Iterator[Any]:
    """DataFrames of at most ``chunk_rows`` rows; :class:`ScoreError` if unreadable."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.is_file():
        raise ScoreError(f"input file {path} does not exist")
    kind = file_format(path)
    try:
        if kind == "parquet":
            parquet = pq.ParquetFile(path)
            for batch in parquet.iter_batches(batch_size=chunk_rows):
                yield batch.to_pandas()
        else:
            separator = "\t" if path.name.lower().endswith(".tsv") else ","
            check_header(pd.read_csv(path, header=None, nrows=1, dtype=str, sep=separator), path)
            counts, rows = None, 0
            with read_csv(path, chunksize=chunk_rows, sep=separator) as reader:
                for chunk in reader:
                    if not isinstance(chunk.index, pd.RangeIndex):
                        fields = len(chunk.columns) + chunk.index.nlevels
                        header = [str(name) for name in chunk.columns]
                        raise ScoreError(f"{path}: data row 0: {long_row_problem(fields, header)}; pandas "
                                         "would shift every column (a trailing separator?)")
                    if counts is None and len(chunk.columns) > 1 and chunk.iloc[:, -1].isna().any():
                        # a short row ends in a missing value: only then are the fields counted (from the start)
                        counts = field_counts(path, separator)
                        next(counts)  # the header's
                        skipped = sum(1 for _ in itertools.islice(counts, rows))
                        if skipped != rows:
                            raise ScoreError(f"{path}: {ROWS_DISAGREE}")
                    rows += len(chunk)
                    yield chunk if counts is None else mark_short_rows(chunk, counts, path)
            if counts is not None and next(counts, None) is not None:
                raise ScoreError(f"{path}: {ROWS_DISAGREE}")
    except ScoreError:
        raise
    except (pa.ArrowException, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError,
            csv.Error) as error:
        raise ScoreError(f"cannot read {path} as {kind}: {error}") from error


def field_counts(path: Path, separator: str) -> Iterator[int]:
    """The number of fields of the header, then of each data row of a CSV file (see :func:`csv_rows`)."""
    with open_text(path) as handle:
        for row in csv_rows(handle, separator):
            yield len(row)


def csv_rows(handle: Any, separator: str = ",") -> Iterator[list[str]]:
    """The rows of CSV text (the header, then the data rows) as Python's csv module reads them, blank
    lines skipped as pandas skips them: what counts the fields of each row (``pandas.read_csv`` fills a
    short row with missing values without a word, and shifts the columns of a long first row)."""
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))  # pandas has no bound on a field
    for row in csv.reader(handle, delimiter=separator):
        if row and (len(row) > 1 or row[0].strip()):
            yield row


def open_text(path: Path) -> Any:
    """A CSV file as text, decompressed the way pandas infers it from the name (UTF-8, BOM dropped)."""
    import bz2
    import gzip
    import io
    import lzma
    import zipfile

    name = path.name.lower()
    openers = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
    for suffix, opener in openers.items():
        if name.endswith(suffix):
            return opener(path, "rt", encoding="utf-8-sig", newline="")
    if name.endswith(".zip"):
        archive = zipfile.ZipFile(path)
        return io.TextIOWrapper(archive.open(archive.namelist()[0]), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def mark_short_rows(chunk: Any, counts: Iterator[int], path: Path) -> Any:
    """``chunk`` with ``attrs[SHORT_ROWS]``: the reject reason of each row (by position) that has fewer
    fields than the header (``counts``: :func:`field_counts` after the header)."""
    import numpy as np

    try:
        fields = np.fromiter(counts, dtype=np.int64, count=len(chunk))
    except ValueError:
        raise ScoreError(f"{path}: {ROWS_DISAGREE}") from None
    header = [str(name) for name in chunk.columns]
    chunk.attrs[SHORT_ROWS] = {int(position): short_row_reason(int(fields[position]), header)
                               for position in np.flatnonzero(fields < len(header))}
    return chunk


def short_row_reason(fields: int, header: list[str]) -> str:
    """Why a row with ``fields`` fields, fewer than the ``header`` names, is not scored: it names the first
    column without a field (``nbprod score`` rejects the row; the service answers 422 ``short_row``)."""
    return (f"the row has {fields} field(s), the header {len(header)}: none from column "
            f"{excerpt(header[fields])} on")


def long_row_problem(fields: int, header: list[str]) -> str:
    """Why a CSV with a data row of more ``fields`` than the ``header`` names is refused (``nbprod score``
    refuses the file, the service the request, 400)."""
    return (f"the row has more fields than the header ({fields}, the header {len(header)}): a field after the "
            f"last column {excerpt(header[-1])}")


def repeated_names(names: list[str]) -> list[str]:
    """The names ``names`` holds more than once, sorted; empty names do not count (pandas names each
    ``Unnamed: N``, and a first line of data has them: the missing columns are what to say then)."""
    import collections

    return sorted(name for name, count in collections.Counter(names).items() if count > 1 and name.strip())


def header_problem(names: list[str]) -> str | None:
    """Why a CSV header naming a column twice is refused (pandas would rename the second ``name.1``, and the
    model would silently take the first), or None."""
    twice = repeated_names(names)
    return f"column(s) more than once in the header: {[cut(name) for name in twice]}" if twice else None


def check_header(first_line: Any, path: Path) -> None:
    """Refuse a CSV header naming a column twice (:func:`header_problem`); ``first_line``: the first line
    read as data."""
    names = first_line.iloc[0].tolist() if len(first_line) else []
    problem = header_problem(["" if name is None or name != name else str(name) for name in names])  # NaN: empty
    if problem:
        raise ScoreError(f"{path}: {problem}")


class _Sink:
    """Appends DataFrames to a CSV or Parquet file under a temporary name; ``commit`` renames it."""

    def __init__(self, path: Path, schema: Any | None = None) -> None:
        self.path = path
        self.kind = file_format(path)
        self.temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self.schema = schema
        self.writer = None
        self.started = False
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, frame: Any) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.kind == "csv":
            frame.to_csv(self.temporary, mode="a" if self.started else "w", header=not self.started, index=False)
        else:
            if self.schema is None:
                self.schema = pa.Table.from_pandas(frame, preserve_index=False).schema.remove_metadata()
            table = pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
            if self.writer is None:
                self.writer = pq.ParquetWriter(self.temporary, self.schema)
            self.writer.write_table(table)
        self.started = True

    def commit(self, empty: Any) -> None:
        if not self.started:
            self.write(empty)
        if self.writer is not None:
            self.writer.close()
        os.replace(self.temporary, self.path)

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.temporary.unlink(missing_ok=True)


def _output_schema(model: Any, input_schema: Any, extra: list[str]):
    import pyarrow as pa

    fields = []
    for spec in model.contract.columns:
        kind = {"numeric": pa.float64(), "categorical": pa.string(), "datetime": pa.timestamp("ns")}[spec.kind]
        fields.append(pa.field(spec.name, kind))
    for name in extra:
        fields.append(input_schema.field(name) if input_schema is not None else pa.field(name, pa.string()))
    if model.labels is not None:
        fields += [pa.field("prediction", pa.array(model.labels.array()).type), pa.field("probability", pa.float64())]
        fields += [pa.field(name, pa.float64()) for name in probability_columns(model.labels)]
    else:
        fields.append(pa.field("prediction", pa.float64()))
    return pa.schema(fields)


def probability_columns(labels: Any) -> list[str]:
    """``probability_<label>`` per class of a multiclass model (``labels``: its
    :class:`~nbprod.model.labels.ClassLabels`), in the model's class order; none for a binary one."""
    return [] if labels is None or labels.binary else [f"probability_{text}" for text in labels.texts]


def scored_columns(labels: Any, predictions: Any, probabilities: Any) -> dict[str, Any]:
    """The output columns of one scored chunk: ``prediction``, ``probability`` and the per-class ones."""
    import numpy as np

    columns: dict[str, Any] = {"prediction": predictions}
    if probabilities is None:
        return columns
    if labels.binary:
        columns["probability"] = labels.positive_scores(probabilities)
        return columns
    columns["probability"] = np.max(probabilities, axis=1)
    columns.update(zip(probability_columns(labels), np.asarray(probabilities, dtype=float).T))
    return columns


def score_file(model: Any, input_path: Path, output: Path, rejects: Path | None = None,
               chunk_rows: int = 50_000, max_text_chars: int | None = None) -> ScoreSummary:
    """Score ``input_path`` with ``model`` (a :class:`~nbprod.serving.model_source.LoadedModel`).

    ``max_text_chars`` (``serve.max_text_chars``, as the service; None: no bound): a row with a longer
    text value in a contract column is rejected.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    input_path, output = Path(input_path), Path(output)
    rejects = Path(rejects) if rejects is not None else default_rejects(output)
    file_format(output), file_format(rejects)  # fail early on a bad name
    if input_path.resolve() in (output.resolve(), rejects.resolve()):
        raise ScoreError("the output and rejects files must differ from the input file")
    summary = ScoreSummary(input_path, output, rejects, model.name, model.version)
    chunks = read_chunks(input_path, chunk_rows)
    try:
        first = next(chunks)
    except StopIteration:
        raise ScoreError(f"{input_path} has no rows and no header") from None
    input_schema = pq.ParquetFile(input_path).schema_arrow if file_format(input_path) == "parquet" else None
    names = model.contract.names
    produced = {"prediction", "probability", *probability_columns(model.labels)}
    extra = [name for name in first.columns if name not in names and name not in produced]
    if input_schema is None:
        input_schema = pa.schema([pa.field(str(name), pa.string()) for name in first.columns])
    out_sink = _Sink(output, _output_schema(model, input_schema, extra))
    reject_sink = _Sink(rejects, input_schema.append(pa.field(REASON, pa.string())).append(pa.field(ROW, pa.int64())))
    empty_out = pd.DataFrame({f.name: pd.Series([], dtype=object) for f in out_sink.schema})
    empty_rejects = first.head(0).assign(**{REASON: pd.Series([], dtype=object), ROW: pd.Series([], dtype="int64")})

    def process(chunk: Any) -> None:
        short = chunk.attrs.pop(SHORT_ROWS, {})  # (pandas copies attrs along every operation)
        try:
            clean, reasons, unseen = validate_frame(chunk, model.contract, max_text_chars)
        except RequestError as error:
            raise ScoreError(f"{input_path}: {error.message}") from None
        for column, count in unseen.items():
            summary.unseen[column] = summary.unseen.get(column, 0) + count
        for position, reason in short.items():
            reasons.iloc[position] = reason  # the cause of any missing value the row seems to have
        bad = reasons.notna().to_numpy()
        first_row = summary.rows_read
        summary.rows_read += len(chunk)
        summary.chunks += 1
        if bad.any():
            reject_sink.write(chunk[bad].assign(**{REASON: reasons[bad].to_numpy(),
                                                   ROW: first_row + np.flatnonzero(bad)}))
            summary.rows_rejected += int(bad.sum())
        good = clean[~bad]
        if len(good):
            predictions, probabilities = model.predict(good.reset_index(drop=True))
            scored = pd.concat([good, chunk.loc[~bad, extra]], axis=1)  # one copy, however wide the file
            for name, values in scored_columns(model.labels, predictions, probabilities).items():
                scored[name] = values
            out_sink.write(scored)
            summary.rows_scored += len(good)

    try:
        process(first)
        for chunk in chunks:
            process(chunk)
        out_sink.commit(empty_out)
        reject_sink.commit(empty_rejects)
    except BaseException:
        out_sink.abort()
        reject_sink.abort()
        raise
    return summary
