"""Input validation against a model's feature contract.

The same rules apply to JSON records (the prediction service, :class:`RecordValidator`)
and to frame chunks (batch scoring, :func:`validate_frame`):

- every contract column must be present; a missing column is an error;
- numeric columns take numbers (JSON numbers; in files, values that parse as numbers).
  Booleans, text and non-finite numbers (``Infinity``) are rejected;
- categorical columns take text; numbers and booleans are accepted and turned into
  text the way the training data was (``1`` and ``1.0`` -> ``"1"``, ``true`` -> ``"True"``).
  A value outside the categories seen in training is accepted, treated as missing by
  the model ("unseen", cold start) and reported as a warning;
- datetime columns take ISO 8601 text (``"2013-01-01T10:00:00Z"``, ``"2013-01-01 10:00"``);
  an offset-aware value is converted to UTC and the offset dropped, a naive one is
  taken as it is (training data in UTC is the convention). Numbers are rejected
  (epoch units would be ambiguous);
- null, and NaN for numbers, are missing values: accepted in a column the contract
  marks nullable, rejected otherwise;
- columns the contract does not name are ignored and reported as a warning.

Nothing here imports pandas at module level, so the per-record path stays light.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from nbprod.model.contract import FeatureContract

#: At most this many problems are listed in one error.
MAX_PROBLEMS = 50
#: At most this many warnings are listed in one response.
MAX_WARNINGS = 50


class RequestError(Exception):
    """A client error: HTTP ``status``, a machine-readable ``kind``, a message and details.

    ``details`` is a list of dicts with ``record`` (index in the request, when it
    applies), ``column`` (when it applies), ``problem`` (a kind) and ``message``.
    """

    def __init__(self, status: int, kind: str, message: str, details: Sequence[dict] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.details = list(details)

    def to_dict(self) -> dict[str, Any]:
        """The ``error`` object of the JSON response."""
        error: dict[str, Any] = {"kind": self.kind, "message": self.message}
        if self.details:
            error["details"] = self.details
        return error


@dataclass
class Validated:
    """Records that passed validation, column by column in contract order.

    ``columns`` maps each contract column to a list of Python values: floats (NaN when
    missing) for numeric columns, ``str``/``None`` for categorical ones, naive
    ``datetime``/``None`` for datetime ones. ``warnings`` lists unseen categories and
    ignored columns.
    """

    columns: dict[str, list]
    rows: int
    warnings: list[dict] = field(default_factory=list)


class _Missing:
    __slots__ = ()


MISSING = _Missing()


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


def parse_datetime(value: str) -> datetime:
    """ISO 8601 text to a naive datetime (UTC when the text has an offset); ValueError if not."""
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        import pandas as pd  # rare: formats fromisoformat does not know

        try:
            stamp = pd.Timestamp(value).to_pydatetime()
        except (ValueError, TypeError, OverflowError) as error:
            raise ValueError(str(error)) from None
        if stamp is None or stamp != stamp:  # NaT
            raise ValueError("not a date-time")
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(timezone.utc).replace(tzinfo=None)
    return stamp


def category_text(value: Any) -> str:
    """A scalar as category text, as :func:`nbprod.model.contract.as_category_strings` spells it:
    ``1`` -> ``"1"``, ``True`` -> ``"True"``, and a whole float ``1.0`` -> ``"1"`` (so that an integer
    column with missing values in training and an integer in a request are one category)."""
    if type(value) is str:
        return value
    if type(value) is float and value.is_integer():
        return str(int(value))
    return str(value)


def _missing(name: str, index: int) -> dict[str, Any]:
    """The problem record of a required column absent from one record."""
    return {"record": index, "column": name, "problem": "missing_column",
            "message": f"record {index}: required column {name!r} is missing"}


class Problems(list):
    """A list of problem dicts that keeps the first :data:`MAX_PROBLEMS` and counts the rest."""

    total = 0

    def append(self, problem: dict) -> None:  # type: ignore[override]
        self.total += 1
        if len(self) < MAX_PROBLEMS:
            super().append(problem)


class RecordValidator:
    """Check JSON records (dicts) against a contract, column by column.

    Building no pandas objects, it costs a few microseconds per value.
    """

    def __init__(self, contract: FeatureContract) -> None:
        self.contract = contract
        self.names = contract.names
        self.known = frozenset(self.names)
        self.categories = {spec.name: frozenset(spec.categories) for spec in contract.columns
                           if spec.kind == "categorical"}

    def check(self, records: Sequence[Any]) -> Validated:
        """Validate ``records`` (a non-empty list of dicts); raise :class:`RequestError` (422)."""
        problems = Problems()
        warnings: list[dict] = []
        for index, record in enumerate(records):
            if type(record) is not dict:
                problems.append({"record": index, "problem": "not_an_object",
                                 "message": f"record {index} is not a JSON object: {_describe(record)}"})
                if len(problems) >= MAX_PROBLEMS:
                    break
        if problems:
            raise RequestError(422, "not_an_object", problems[0]["message"], problems)
        columns: dict[str, list] = {}
        for spec in self.contract.columns:
            name = spec.name
            values = [record.get(name, MISSING) for record in records]
            if spec.kind == "numeric":
                columns[name] = self._numeric(name, spec.nullable, values, problems)
            elif spec.kind == "categorical":
                columns[name] = self._categorical(name, spec.nullable, values, problems, warnings)
            else:
                columns[name] = self._datetime(name, spec.nullable, values, problems)
        if problems:
            kinds = {problem["problem"] for problem in problems}
            kind = kinds.pop() if len(kinds) == 1 else "invalid_input"
            first = problems[0]["message"]
            more = f" (and {problems.total - 1} more problem(s), see details)" if problems.total > 1 else ""
            raise RequestError(422, kind, first + more, list(problems))
        for index, record in enumerate(records):
            if len(record) != len(self.names) or not self.known.issuperset(record):
                extra = sorted(str(key) for key in record if key not in self.known)
                if extra and len(warnings) < MAX_WARNINGS:
                    warnings.append({"record": index, "columns": extra, "problem": "unknown_columns",
                                     "message": f"record {index}: unknown column(s) {extra} ignored"})
        return Validated(columns, len(records), warnings)

    @staticmethod
    def _null(name: str, index: int, nullable: bool, problems: list, value: Any) -> None:
        if not nullable:
            problems.append({"record": index, "column": name, "problem": "null_not_allowed",
                             "message": f"record {index}, column {name!r}: missing value "
                                        f"({'NaN' if value is not None else 'null'}) not allowed"})

    def _numeric(self, name: str, nullable: bool, values: list, problems: list) -> list:
        out = values
        for index, value in enumerate(values):
            kind = type(value)
            if kind is float:
                if value != value:
                    self._null(name, index, nullable, problems, value)
                elif value in (math.inf, -math.inf):
                    problems.append({"record": index, "column": name, "problem": "not_finite",
                                     "message": f"record {index}, column {name!r}: {value} is not a finite number"})
                continue
            if kind is int:
                out[index] = float(value)
            elif value is None:
                self._null(name, index, nullable, problems, value)
                out[index] = math.nan
            elif value is MISSING:
                problems.append(_missing(name, index))
            else:
                problems.append({"record": index, "column": name, "problem": "wrong_type",
                                 "message": f"record {index}, column {name!r}: expected a number, "
                                            f"got {_describe(value)}"})
        return out

    def _categorical(self, name: str, nullable: bool, values: list, problems: list, warnings: list) -> list:
        known = self.categories[name]
        out = values
        for index, value in enumerate(values):
            kind = type(value)
            if kind is not str:
                if value is None or (kind is float and value != value):
                    self._null(name, index, nullable, problems, value)
                    out[index] = None
                    continue
                if value is MISSING:
                    problems.append(_missing(name, index))
                    continue
                if kind not in (int, float, bool):
                    problems.append({"record": index, "column": name, "problem": "wrong_type",
                                     "message": f"record {index}, column {name!r}: expected text, "
                                                f"got {_describe(value)}"})
                    continue
                value = out[index] = category_text(value)
            if value not in known and len(warnings) < MAX_WARNINGS:
                warnings.append({"record": index, "column": name, "problem": "unseen_category",
                                 "message": f"record {index}, column {name!r}: category {value!r} "
                                            "was not seen in training; treated as missing"})
        return out

    def _datetime(self, name: str, nullable: bool, values: list, problems: list) -> list:
        out = values
        for index, value in enumerate(values):
            if type(value) is str:
                try:
                    out[index] = parse_datetime(value)
                except ValueError:
                    problems.append({"record": index, "column": name, "problem": "wrong_type",
                                     "message": f"record {index}, column {name!r}: {value[:40]!r} is not "
                                                "an ISO 8601 date-time"})
            elif value is None or (type(value) is float and value != value):
                self._null(name, index, nullable, problems, value)
                out[index] = None
            elif value is MISSING:
                problems.append(_missing(name, index))
            else:
                problems.append({"record": index, "column": name, "problem": "wrong_type",
                                 "message": f"record {index}, column {name!r}: expected an ISO 8601 "
                                            f"date-time text, got {_describe(value)}"})
        return out


def frame_from_columns(contract: FeatureContract, columns: dict[str, list]):
    """A pandas DataFrame of validated columns, typed for the model (raw input columns)."""
    import numpy as np
    import pandas as pd

    data = {}
    for spec in contract.columns:
        values = columns[spec.name]
        if spec.kind == "numeric":
            data[spec.name] = np.asarray(values, dtype=float)
        elif spec.kind == "categorical":
            array = np.empty(len(values), dtype=object)
            array[:] = values
            data[spec.name] = array
        else:
            data[spec.name] = np.array(values, dtype="datetime64[ns]")  # None -> NaT
    return pd.DataFrame(data)


def validate_frame(frame, contract: FeatureContract):
    """Check a chunk of a file against the contract, row by row, with the record rules.

    Returns ``(clean, reasons, unseen)``: ``clean`` holds the contract columns converted
    (numeric float, categorical text/None, datetime naive UTC); ``reasons`` is a
    Series of text, None for good rows; ``unseen`` counts unseen categories per column.
    Raises :class:`RequestError` when a contract column is missing from the file.
    """
    import numpy as np
    import pandas as pd

    missing = [name for name in contract.names if name not in frame.columns]
    if missing:
        raise RequestError(422, "missing_column", f"input is missing required column(s) {missing}",
                           [{"column": name, "problem": "missing_column",
                             "message": f"required column {name!r} is missing"} for name in missing])
    n = len(frame)
    reasons = np.full(n, None, dtype=object)

    def flag(mask, text_of) -> None:
        for position in np.flatnonzero(mask):
            if reasons[position] is None:
                reasons[position] = text_of(position)

    clean: dict[str, Any] = {}
    unseen: dict[str, int] = {}
    for spec in contract.columns:
        name = spec.name
        raw = frame[name]
        isnull = raw.isna().to_numpy()
        if not spec.nullable:
            flag(isnull, lambda i, name=name: f"column {name!r}: missing value not allowed")
        if spec.kind == "numeric":
            if pd.api.types.is_bool_dtype(raw.dtype):
                flag(~isnull, lambda i, name=name: f"column {name!r}: expected a number, got a boolean")
                values = np.full(n, np.nan)
            elif pd.api.types.is_numeric_dtype(raw.dtype):
                values = raw.to_numpy(dtype=float, na_value=np.nan)
            else:
                objects = raw.astype(object)
                booleans = objects.map(lambda v: isinstance(v, bool)).to_numpy(dtype=bool)
                values = pd.to_numeric(objects.where(~booleans, None), errors="coerce").to_numpy(
                    dtype=float, na_value=np.nan)
                bad = (~isnull & np.isnan(values)) | booleans
                flag(bad, lambda i, name=name: f"column {name!r}: expected a number, "
                                               f"got {str(raw.iloc[i])[:40]!r}")
            flag(np.isinf(values), lambda i, name=name: f"column {name!r}: {values[i]} is not a finite number")
            clean[name] = values
        elif spec.kind == "categorical":
            objects = raw.astype(object)
            bad = objects.map(lambda v: v is not None and v == v and not isinstance(v, (str, int, float, bool, np.generic))
                              ).to_numpy(dtype=bool)
            flag(bad, lambda i, name=name: f"column {name!r}: expected text, got {type(raw.iloc[i]).__name__}")
            text = np.array([None if isnull[i] else category_text(v.item() if isinstance(v, np.generic) else v)
                             for i, v in enumerate(objects)], dtype=object)
            known = frozenset(spec.categories)
            unseen[name] = int(sum(1 for v in text if v is not None and v not in known))
            clean[name] = text
        else:
            if pd.api.types.is_datetime64_any_dtype(raw.dtype):
                stamps = pd.to_datetime(raw)
                if getattr(stamps.dt, "tz", None) is not None:
                    stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
                clean[name] = stamps.to_numpy(dtype="datetime64[ns]")
            else:
                objects = raw.astype(object)
                parsed = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
                for i, v in enumerate(objects):
                    if isnull[i]:
                        continue
                    if isinstance(v, str):
                        try:
                            parsed[i] = np.datetime64(parse_datetime(v), "ns")
                            continue
                        except ValueError:
                            text = f"{v[:40]!r} is not an ISO 8601 date-time"
                    else:
                        text = f"expected an ISO 8601 date-time text, got {type(v).__name__}"
                    if reasons[i] is None:
                        reasons[i] = f"column {name!r}: {text}"
                clean[name] = parsed
    return pd.DataFrame(clean, index=frame.index), pd.Series(reasons, index=frame.index, dtype=object), unseen


def unknown_columns(columns: Iterable[str], contract: FeatureContract) -> list[str]:
    """Input columns the contract does not name (ignored, reported)."""
    known = set(contract.names)
    return [name for name in columns if name not in known]
