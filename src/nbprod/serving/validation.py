"""Input validation against a model's feature contract.

The same rules apply to JSON records (the prediction service, :class:`RecordValidator`)
and to frame chunks (batch scoring, :func:`validate_frame`):

- every contract column must be present; a missing column is an error;
- numeric columns take numbers (JSON numbers; in files, values that parse as numbers).
  Booleans, text, non-finite numbers (``Infinity``) and numbers that do not fit a float64
  (an integer of 400 digits, ``1e400``) are rejected;
- categorical columns take text; numbers and booleans are accepted and turned into
  text the way the training data was (``1`` and ``1.0`` -> ``"1"``, ``true`` -> ``"True"``).
  A value outside the categories seen in training is accepted, treated as missing by
  the model ("unseen", cold start) and reported as a warning;
- datetime columns take ISO 8601 text (``"2013-01-01T10:00:00Z"``, ``"2013-01-01 10:00"``);
  an offset-aware value is converted to UTC and the offset dropped, a naive one is
  taken as it is (training data in UTC is the convention). Numbers are rejected
  (epoch units would be ambiguous), and so are words relative to the clock (``"now"``,
  ``"today"``: a request and a re-scoring would disagree) and date-times outside
  pandas' range, :data:`DATETIME_MIN` to :data:`DATETIME_MAX` in UTC (1677-09-21 to
  2262-04-11: the pipeline's datetime64[ns] would wrap them silently);
- text (a category, a date-time) longer than ``max_text_chars`` (``serve.max_text_chars``)
  and text that is not valid Unicode (a lone surrogate such as ``"\ud800"``) are rejected;
  an error or a warning quotes at most :data:`ECHO_CHARS` characters of a client's value
  or column name;
- a JSON object with the same key twice (see :func:`loads`) is rejected;
- null, and NaN for numbers, are missing values: accepted in a column the contract
  marks nullable, rejected otherwise;
- columns the contract does not name are ignored and reported as a warning.

Nothing here imports pandas at module level, so the per-record path stays light.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from nbprod.model.contract import FeatureContract

#: At most this many problems are listed in one error.
MAX_PROBLEMS = 50
#: At most this many warnings are listed in one response.
MAX_WARNINGS = 50
#: At most this many characters of a client's value or column name are quoted back (errors, warnings).
ECHO_CHARS = 40
#: At most this many unknown column names are listed in one warning.
MAX_UNKNOWN_LISTED = 10
#: The date-times pandas holds (``pd.Timestamp.min``/``max`` to the microsecond, naive UTC): outside,
#: numpy's datetime64[ns] of the pipeline path would wrap them silently (3000-01-01 -> 1830-11-23).
DATETIME_MIN = datetime(1677, 9, 21, 0, 12, 43, 145225)
DATETIME_MAX = datetime(2262, 4, 11, 23, 47, 16, 854775)
#: How an error names that range.
DATETIME_RANGE = f"the date-times a model takes are {DATETIME_MIN} to {DATETIME_MAX} UTC"
#: Words pandas reads as a date-time relative to the clock: rejected, a re-scoring would not agree.
RELATIVE_DATETIMES = frozenset({"now", "today", "tomorrow", "yesterday"})
#: The largest float64: a number beyond it does not fit a numeric column.
FLOAT_MAX = sys.float_info.max


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


def excerpt(text: str, chars: int = ECHO_CHARS) -> str:
    """``repr`` of at most ``chars`` characters of a client's ``text`` (a value, a column name), then
    ``...`` and the length when cut: what an error or a warning may quote back."""
    if len(text) <= chars:
        return repr(text)
    return f"{text[:chars]!r}... ({len(text)} characters)"


def cut(text: str, chars: int = ECHO_CHARS) -> str:
    """At most ``chars`` characters of a client's ``text``, then ``...`` when cut."""
    return text if len(text) <= chars else text[:chars] + "..."


def _describe(value: Any) -> str:
    if type(value) is str:
        return f"str {excerpt(value)}"
    if type(value) is int and abs(value) > FLOAT_MAX:
        return f"int of {len(str(abs(value)))} digits"
    text = repr(value)
    return f"{type(value).__name__} {text[:ECHO_CHARS]}{'...' if len(text) > ECHO_CHARS else ''}"


class DuplicateKeys(dict):
    """A JSON object in which a key came more than once (the last value kept, as :mod:`json` does);
    ``duplicates`` names those keys. :class:`RecordValidator` rejects such a record."""

    duplicates: tuple = ()


def _object(pairs: list) -> dict:
    record = dict(pairs)
    if len(record) != len(pairs):
        seen: set = set()
        record = DuplicateKeys(record)
        record.duplicates = tuple(dict.fromkeys(key for key, _ in pairs if key in seen or seen.add(key)))
    return record


def loads(text: str) -> Any:
    """JSON ``text`` parsed as :func:`json.loads` does, except that an object with a key twice becomes
    a :class:`DuplicateKeys` (json would keep the last value silently). ValueError when not JSON,
    RecursionError when nested deeper than the parser goes."""
    return json.loads(text, object_pairs_hook=_object)


class DateOutOfRange(ValueError):
    """A date-time outside :data:`DATETIME_MIN` .. :data:`DATETIME_MAX` (UTC)."""


def text_problem(value: str, max_text_chars: int | None) -> tuple[str, str] | None:
    """``(kind, what is wrong)`` when text may not be taken: over ``max_text_chars`` characters
    (``too_long``) or not valid Unicode, a lone surrogate (``invalid_text``); None when fine."""
    if max_text_chars is not None and len(value) > max_text_chars:
        return "too_long", (f"text of {len(value)} characters is over the limit of {max_text_chars} "
                            f"(serve.max_text_chars): {value[:ECHO_CHARS]!r}...")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "invalid_text", f"{excerpt(value)} is not valid Unicode text (a lone surrogate)"
    return None


def parse_datetime(value: str) -> datetime:
    """ISO 8601 text to a naive datetime (UTC when the text has an offset).

    Raises
    ------
    DateOutOfRange
        When the date-time (in UTC) is outside :data:`DATETIME_MIN` .. :data:`DATETIME_MAX`.
    ValueError
        When the text is not a date-time, or one relative to the clock (``now``).
    """
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        if value.strip().lower() in RELATIVE_DATETIMES:
            raise ValueError("a date-time relative to the clock") from None
        stamp = _pandas_datetime(value)
    if stamp.tzinfo is not None:
        try:
            stamp = stamp.astimezone(timezone.utc).replace(tzinfo=None)
        except OverflowError:  # 9999-12-31T23:59:59-01:00 is in year 10000 in UTC
            raise DateOutOfRange("outside the years 1 to 9999 in UTC") from None
    if not DATETIME_MIN <= stamp <= DATETIME_MAX:
        raise DateOutOfRange(f"out of range ({stamp.isoformat()} in UTC)")
    return stamp


def _pandas_datetime(value: str) -> datetime:
    """Text fromisoformat does not know, read by pandas (rare); ValueError if not a date-time."""
    import pandas as pd

    try:
        stamp = pd.Timestamp(value)
    except pd.errors.OutOfBoundsDatetime:
        raise DateOutOfRange("out of range") from None
    except (ValueError, TypeError, OverflowError) as error:
        raise ValueError(str(error)) from None
    if stamp is None or stamp is pd.NaT:
        raise ValueError("not a date-time")
    return stamp.to_pydatetime(warn=False)


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

    def __init__(self, contract: FeatureContract, max_text_chars: int | None = None) -> None:
        self.contract = contract
        self.max_text_chars = max_text_chars  # the service sets serve.max_text_chars on the models it loads
        self.names = contract.names
        self.known = frozenset(self.names)
        self.categories = {spec.name: frozenset(spec.categories) for spec in contract.columns
                           if spec.kind == "categorical"}

    def check(self, records: Sequence[Any], max_text_chars: int | None = None) -> Validated:
        """Validate ``records`` (a non-empty list of dicts); raise :class:`RequestError` (422).

        ``max_text_chars`` (``serve.max_text_chars``) bounds the length of text values; None: the
        validator's own bound (None: no bound).
        """
        if max_text_chars is None:
            max_text_chars = self.max_text_chars
        problems = Problems()
        warnings: list[dict] = []
        self._objects(records, problems)
        if problems:
            kinds = {problem["problem"] for problem in problems}
            raise RequestError(422, kinds.pop() if len(kinds) == 1 else "invalid_input",
                               problems[0]["message"], problems)
        columns: dict[str, list] = {}
        for spec in self.contract.columns:
            name = spec.name
            values = [record.get(name, MISSING) for record in records]
            if spec.kind == "numeric":
                columns[name] = self._numeric(name, spec.nullable, values, problems)
            elif spec.kind == "categorical":
                columns[name] = self._categorical(name, spec.nullable, values, problems, warnings, max_text_chars)
            else:
                columns[name] = self._datetime(name, spec.nullable, values, problems, max_text_chars)
        if problems:
            kinds = {problem["problem"] for problem in problems}
            kind = kinds.pop() if len(kinds) == 1 else "invalid_input"
            first = problems[0]["message"]
            more = f" (and {problems.total - 1} more problem(s), see details)" if problems.total > 1 else ""
            raise RequestError(422, kind, first + more, list(problems))
        for index, record in enumerate(records):
            if len(record) != len(self.names) or not self.known.issuperset(record):
                if len(warnings) < MAX_WARNINGS:
                    warnings.append(self._unknown(index, record))
        return Validated(columns, len(records), warnings)

    @staticmethod
    def _objects(records: Sequence[Any], problems: Problems) -> None:
        """Problems of records that are not JSON objects, or objects with a key twice."""
        for index, record in enumerate(records):
            if type(record) is dict:
                continue
            if isinstance(record, DuplicateKeys):
                column = str(record.duplicates[0])
                problems.append({"record": index, "column": cut(column), "problem": "duplicate_key",
                                 "message": f"record {index}, column {excerpt(column)}: the key is given more "
                                            "than once (a JSON object takes each key once)"})
            else:
                problems.append({"record": index, "problem": "not_an_object",
                                 "message": f"record {index} is not a JSON object: {_describe(record)}"})
            if len(problems) >= MAX_PROBLEMS:
                break

    def _unknown(self, index: int, record: dict) -> dict:
        """The warning of columns the contract does not name (at most :data:`MAX_UNKNOWN_LISTED`, names cut)."""
        extra = sorted(str(key) for key in record if key not in self.known)
        listed = [cut(key) for key in extra[:MAX_UNKNOWN_LISTED]]
        more = f" and {len(extra) - len(listed)} more" if len(extra) > len(listed) else ""
        return {"record": index, "columns": listed, "problem": "unknown_columns",
                "message": f"record {index}: unknown column(s) {listed}{more} ignored"}

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
                                     "message": f"record {index}, column {name!r}: {value} is not a finite number "
                                                "(Infinity, or beyond the float64 range)"})
                continue
            if kind is int:
                try:
                    out[index] = float(value)
                except OverflowError:
                    problems.append({"record": index, "column": name, "problem": "out_of_range",
                                     "message": f"record {index}, column {name!r}: {_describe(value)} does not "
                                                f"fit a float64 (at most {FLOAT_MAX:.4g} in size)"})
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

    def _categorical(self, name: str, nullable: bool, values: list, problems: list, warnings: list,
                     max_text_chars: int | None) -> list:
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
            if value in known:
                continue
            wrong = text_problem(value, max_text_chars)
            if wrong is not None:
                problems.append({"record": index, "column": name, "problem": wrong[0],
                                 "message": f"record {index}, column {name!r}: {wrong[1]}"})
            elif len(warnings) < MAX_WARNINGS:
                warnings.append({"record": index, "column": name, "problem": "unseen_category",
                                 "message": f"record {index}, column {name!r}: category {excerpt(value)} "
                                            "was not seen in training; treated as missing"})
        return out

    def _datetime(self, name: str, nullable: bool, values: list, problems: list, max_text_chars: int | None) -> list:
        out = values
        for index, value in enumerate(values):
            if type(value) is str:
                wrong = text_problem(value, max_text_chars)
                if wrong is not None:
                    problems.append({"record": index, "column": name, "problem": wrong[0],
                                     "message": f"record {index}, column {name!r}: {wrong[1]}"})
                    continue
                try:
                    out[index] = parse_datetime(value)
                except DateOutOfRange as error:
                    problems.append({"record": index, "column": name, "problem": "out_of_range",
                                     "message": f"record {index}, column {name!r}: {excerpt(value)} is "
                                                f"{error}; {DATETIME_RANGE}"})
                except ValueError:
                    problems.append({"record": index, "column": name, "problem": "wrong_type",
                                     "message": f"record {index}, column {name!r}: {excerpt(value)} is not "
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


def validate_frame(frame, contract: FeatureContract, max_text_chars: int | None = None):
    """Check a chunk of a file against the contract, row by row, with the record rules.

    Returns ``(clean, reasons, unseen)``: ``clean`` holds the contract columns converted
    (numeric float, categorical text/None, datetime naive UTC); ``reasons`` is a
    Series of text, None for good rows; ``unseen`` counts unseen categories per column.
    ``max_text_chars`` (``serve.max_text_chars``; None: no bound) bounds text values.
    Raises :class:`RequestError` when a contract column is missing from the file.
    """
    import numpy as np
    import pandas as pd

    missing = [name for name in contract.names if name not in frame.columns]
    if missing:
        raise RequestError(422, "missing_column", f"input is missing required column(s) {missing}",
                           [{"column": name, "problem": "missing_column",
                             "message": f"required column {name!r} is missing"} for name in missing])
    reasons = np.full(len(frame), None, dtype=object)

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
            clean[name] = _numeric_column(raw, isnull, name, flag)
        elif spec.kind == "categorical":
            clean[name], unseen[name] = _categorical_column(raw, isnull, spec, flag, reasons, max_text_chars)
        else:
            clean[name] = _datetime_column(raw, isnull, name, flag, reasons, max_text_chars)
    return pd.DataFrame(clean, index=frame.index), pd.Series(reasons, index=frame.index, dtype=object), unseen


def _numeric_column(raw, isnull, name: str, flag) -> Any:
    """A file's numeric column as floats (NaN when missing or bad); bad values flagged."""
    import numpy as np
    import pandas as pd

    n = len(raw)
    if pd.api.types.is_bool_dtype(raw.dtype):
        flag(~isnull, lambda i: f"column {name!r}: expected a number, got a boolean")
        return np.full(n, np.nan)
    if pd.api.types.is_numeric_dtype(raw.dtype):
        values = raw.to_numpy(dtype=float, na_value=np.nan)
        flag(np.isinf(values), lambda i: f"column {name!r}: {values[i]} is not a finite number")
        return values
    objects = raw.astype(object)
    booleans = objects.map(lambda v: isinstance(v, bool)).to_numpy(dtype=bool)
    values = pd.to_numeric(objects.where(~booleans, None), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = (~isnull & np.isnan(values)) | booleans
    flag(bad, lambda i: f"column {name!r}: expected a number, got {excerpt(str(raw.iloc[i]))}")

    def infinite(i: int) -> str:
        text = str(raw.iloc[i])
        if text.strip().lstrip("+-").lower() in ("inf", "infinity"):
            return f"column {name!r}: {excerpt(text)} is not a finite number"
        return f"column {name!r}: {excerpt(text)} does not fit a float64 (at most {FLOAT_MAX:.4g} in size)"

    flag(np.isinf(values), infinite)
    return values


def _categorical_column(raw, isnull, spec: Any, flag, reasons, max_text_chars: int | None) -> tuple[Any, int]:
    """A file's categorical column as text/None and the count of unseen categories; bad values flagged."""
    import numpy as np

    name = spec.name
    objects = raw.astype(object)
    bad = objects.map(lambda v: v is not None and v == v and not isinstance(v, (str, int, float, bool, np.generic))
                      ).to_numpy(dtype=bool)
    flag(bad, lambda i: f"column {name!r}: expected text, got {type(raw.iloc[i]).__name__}")
    text = np.array([None if isnull[i] or bad[i] else category_text(v.item() if isinstance(v, np.generic) else v)
                     for i, v in enumerate(objects)], dtype=object)
    known = frozenset(spec.categories)
    count = 0
    for i, value in enumerate(text):
        if value is None or value in known:
            continue
        wrong = text_problem(value, max_text_chars)
        if wrong is None:
            count += 1
        else:
            text[i] = None
            if reasons[i] is None:
                reasons[i] = f"column {name!r}: {wrong[1]}"
    return text, count


def _datetime_column(raw, isnull, name: str, flag, reasons, max_text_chars: int | None) -> Any:
    """A file's datetime column as naive UTC datetime64[ns] (NaT when missing or bad); bad values flagged."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        stamps = pd.to_datetime(raw)
        if getattr(stamps.dt, "tz", None) is not None:
            stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
        outside = ((stamps < pd.Timestamp(DATETIME_MIN)) | (stamps > pd.Timestamp(DATETIME_MAX))).to_numpy()
        flag(outside, lambda i: f"column {name!r}: {stamps.iloc[i]} UTC is out of range; {DATETIME_RANGE}")
        return stamps.where(~outside).to_numpy(dtype="datetime64[ns]")
    parsed = np.full(len(raw), np.datetime64("NaT"), dtype="datetime64[ns]")
    for i, v in enumerate(raw.astype(object)):
        if isnull[i]:
            continue
        if isinstance(v, str):
            wrong = text_problem(v, max_text_chars)
            try:
                if wrong is not None:
                    text = wrong[1]
                else:
                    parsed[i] = np.datetime64(parse_datetime(v), "ns")
                    continue
            except DateOutOfRange as error:
                text = f"{excerpt(v)} is {error}; {DATETIME_RANGE}"
            except ValueError:
                text = f"{excerpt(v)} is not an ISO 8601 date-time"
        else:
            text = f"expected an ISO 8601 date-time text, got {type(v).__name__}"
        if reasons[i] is None:
            reasons[i] = f"column {name!r}: {text}"
    return parsed


def unknown_columns(columns: Iterable[str], contract: FeatureContract) -> list[str]:
    """Input columns the contract does not name (ignored, reported)."""
    known = set(contract.names)
    return [name for name in columns if name not in known]
