"""The catalog of bad input the service and ``nbprod score`` are tried with, and the answer each must get.

Shared by ``tests/serving/test_served_bad_input.py`` (asserts every answer) and
``benchmarks/bench_bad_input.py`` (writes the answers into ``reports/benchmarks/robustness.json``).

Three tables:

- :data:`VALUE_CASES`: one bad value in one column of the second of two records. Each case spells
  the value as JSON text (``json``) and as a CSV field (``csv``; None when CSV cannot say it, or says
  something valid). Every protocol sends the same case through its own request builder
  (:data:`PROTOCOLS`: nbprod's JSON list and ``{"records": ...}``, MLflow's four wrappers on
  ``/invocations``, ``text/csv``; a KServe v2 builder can join the list); ``nbprod score`` reads the
  CSV spelling from a file and must reject that row with a reason naming the column.
- :data:`BODY_CASES`: bodies that are wrong as a whole (not JSON, not UTF-8, wrong shape, too big).
- :data:`CSV_FILE_CASES`: files ``nbprod score`` must refuse, or read right (ragged rows, headers).

The model of the serving tests takes ``carrier``, ``origin``, ``dest`` (categorical),
``distance``, ``sched_dep_time`` (numeric) and ``time_hour`` (datetime), none nullable.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any, Callable

from conftest import MODEL_NAME

#: Stands for the bad value in a record until a builder splices in its spelling.
PLACEHOLDER = "\x00bad-value\x00"
#: A case's ``json`` that drops the column from the record instead.
DROP = object()
#: ``serve.max_text_chars`` of env.yaml (the servers of the tests keep it).
MAX_TEXT_CHARS = 1000


@dataclass(frozen=True)
class ValueCase:
    """One bad value: ``json`` and ``csv`` spell it; ``kind``/``text`` are the JSON protocols' error
    kind and a part of its message; ``reason`` a part of ``nbprod score``'s reject reason."""

    name: str
    column: str
    json: Any
    csv: str | None
    kind: str
    text: str
    reason: str | None = None
    status: int = 422


@dataclass(frozen=True)
class BodyCase:
    """A request body wrong as a whole: the status, error kind and a part of the message it gets;
    ``where`` the (record, column) the first detail names, when the problem has a place."""

    name: str
    body: Callable[[list[dict]], bytes]
    status: int
    kind: str
    text: str
    where: tuple[int, str | None] | None = None


@dataclass(frozen=True)
class Served:
    """How the service answers a CSV body (``Content-Type: text/csv`` on ``/predict`` and ``/invocations``):
    the status, the error kind and a part of its message; ``where`` the (record, column) its first detail
    names (record None: the header)."""

    status: int
    kind: str = ""
    text: str = ""
    where: tuple[int | None, str | None] | None = None


OK = Served(200)


@dataclass(frozen=True)
class CsvFileCase:
    """A file for ``nbprod score``: ``outcome`` is ``"refused"`` (the whole file, exit 2, message holds
    ``text``), ``"rejected"`` (the rows ``rows`` go to the rejects, reason holds ``text``) or ``"scored"``
    (every row scored). ``rows``: the rows rejected. ``served``: the service's answer to the same text sent as a CSV body (a file
    refused is a 400, a row rejected a 422 naming it, as ``record N``)."""

    name: str
    text: Callable[[list[dict]], bytes]
    outcome: str
    text_part: str = ""
    rows: tuple[int, ...] = ()
    served: Served = OK


LONG = "x" * (MAX_TEXT_CHARS + 1)
HUGE_INT = "1" * 400

VALUE_CASES: list[ValueCase] = [
    # numbers
    ValueCase("integer of 400 digits", "distance", HUGE_INT, HUGE_INT, "out_of_range", "does not fit a float64",
              "does not fit a float64"),
    ValueCase("negative integer of 400 digits", "distance", "-" + HUGE_INT, "-" + HUGE_INT, "out_of_range",
              "does not fit a float64", "does not fit a float64"),
    ValueCase("float beyond float64 (1e400)", "distance", "1e400", "1e400", "not_finite", "not a finite number",
              "does not fit a float64"),
    ValueCase("Infinity literal", "distance", "Infinity", "inf", "not_finite", "not a finite number",
              "not a finite number"),
    ValueCase("-Infinity literal", "sched_dep_time", "-Infinity", "-Infinity", "not_finite", "not a finite number",
              "not a finite number"),
    ValueCase("NaN literal, column not nullable", "distance", "NaN", "NaN", "null_not_allowed", "(NaN) not allowed",
              "missing value not allowed"),
    ValueCase("null, column not nullable", "sched_dep_time", "null", "", "null_not_allowed", "(null) not allowed",
              "missing value not allowed"),
    ValueCase("boolean for a number", "distance", "true", "true", "wrong_type", "expected a number, got bool",
              "expected a number"),
    ValueCase("number as text", "distance", '"1400"', None, "wrong_type", "expected a number, got str '1400'"),
    ValueCase("text for a number", "distance", '"far"', "far", "wrong_type", "expected a number, got str 'far'",
              "expected a number, got 'far'"),
    ValueCase("number with a unit", "distance", '"12 km"', "12 km", "wrong_type", "expected a number",
              "expected a number, got '12 km'"),
    ValueCase("hexadecimal text for a number", "distance", '"0x10"', "0x10", "wrong_type", "expected a number",
              "expected a number, got '0x10'"),
    ValueCase("thousands separator", "distance", '"1,400"', '"1,400"', "wrong_type", "expected a number",
              "expected a number, got '1,400'"),
    ValueCase("empty string for a number", "distance", '""', None, "wrong_type", "expected a number, got str ''"),
    ValueCase("whitespace for a number", "distance", '"   "', "   ", "wrong_type", "expected a number",
              "expected a number"),
    ValueCase("array for a number", "distance", "[1400]", "[1400]", "wrong_type", "expected a number, got list",
              "expected a number"),
    ValueCase("object for a number", "sched_dep_time", '{"value": 5}', '"{""value"": 5}"', "wrong_type",
              "expected a number, got dict", "expected a number"),
    ValueCase("array nested 500 deep", "distance", "[" * 500 + "]" * 500, None, "wrong_type",
              "expected a number, got list"),
    # categories
    ValueCase("object for a category", "carrier", '{"code": "UA"}', None, "wrong_type", "expected text, got dict"),
    ValueCase("array for a category", "origin", '["EWR", "JFK"]', None, "wrong_type", "expected text, got list"),
    ValueCase("null category, column not nullable", "carrier", "null", "", "null_not_allowed", "(null) not allowed",
              "missing value not allowed"),
    ValueCase(f"category of {MAX_TEXT_CHARS + 1} characters", "dest", json.dumps(LONG), LONG, "too_long",
              f"over the limit of {MAX_TEXT_CHARS}", f"over the limit of {MAX_TEXT_CHARS}"),
    ValueCase("category with a lone surrogate", "dest", '"\\ud800JFK"', None, "invalid_text", "not valid Unicode"),
    ValueCase("category that is a lone surrogate only", "carrier", '"\\udfff"', None, "invalid_text",
              "not valid Unicode"),
    # date-times
    ValueCase("date-time past year 9999 in UTC", "time_hour", '"9999-12-31T23:59:59-01:00"',
              "9999-12-31T23:59:59-01:00", "out_of_range", "outside the years 1 to 9999", "outside the years 1 to 9999"),
    ValueCase("date-time before year 1 in UTC", "time_hour", '"0001-01-01T00:30:00+01:00"',
              "0001-01-01T00:30:00+01:00", "out_of_range", "outside the years 1 to 9999", "outside the years 1 to 9999"),
    ValueCase("naive date-time in year 3000", "time_hour", '"3000-01-01T00:00:00"', "3000-01-01T00:00:00",
              "out_of_range", "out of range (3000-01-01T00:00:00 in UTC)", "out of range"),
    ValueCase("date-time in year 1500", "time_hour", '"1500-06-01"', "1500-06-01", "out_of_range",
              "the date-times a model takes are", "the date-times a model takes are"),
    ValueCase("date-time just past pandas' maximum", "time_hour", '"2262-04-11T23:47:17"', "2262-04-11T23:47:17",
              "out_of_range", "out of range", "out of range"),
    ValueCase("date-time inside the range by its offset only", "time_hour", '"2262-04-11T23:00:00-01:00"',
              "2262-04-11T23:00:00-01:00", "out_of_range", "out of range (2262-04-12T00:00:00 in UTC)", "out of range"),
    ValueCase("'now' for a date-time", "time_hour", '"now"', "now", "wrong_type", "'now' is not an ISO 8601",
              "'now' is not an ISO 8601"),
    ValueCase("'today' for a date-time", "time_hour", '"today"', "today", "wrong_type", "'today' is not an ISO 8601",
              "'today' is not an ISO 8601"),
    ValueCase("epoch seconds for a date-time", "time_hour", "1357034400", "1357034400", "wrong_type",
              "expected an ISO 8601 date-time text, got int", "is not an ISO 8601"),
    ValueCase("boolean for a date-time", "time_hour", "false", None, "wrong_type",
              "expected an ISO 8601 date-time text, got bool"),
    ValueCase("month 13", "time_hour", '"2013-13-01T10:00:00"', "2013-13-01T10:00:00", "wrong_type",
              "is not an ISO 8601", "is not an ISO 8601"),
    ValueCase("30 February", "time_hour", '"2013-02-30"', "2013-02-30", "wrong_type", "is not an ISO 8601",
              "is not an ISO 8601"),
    ValueCase("offset beyond 24 hours", "time_hour", '"2013-01-01T10:00:00+25:00"', "2013-01-01T10:00:00+25:00",
              "wrong_type", "is not an ISO 8601", "is not an ISO 8601"),
    ValueCase("time-zone name instead of an offset", "time_hour", '"2013-01-01T10:00:00 EST"',
              "2013-01-01T10:00:00 EST", "wrong_type", "is not an ISO 8601", "is not an ISO 8601"),
    ValueCase("empty string for a date-time", "time_hour", '""', None, "wrong_type", "'' is not an ISO 8601"),
    ValueCase("whitespace for a date-time", "time_hour", '"   "', "   ", "wrong_type", "is not an ISO 8601",
              "is not an ISO 8601"),
    ValueCase(f"date-time text of {MAX_TEXT_CHARS + 1} characters", "time_hour", json.dumps("2013" + LONG),
              "2013" + LONG, "too_long", f"over the limit of {MAX_TEXT_CHARS}", f"over the limit of {MAX_TEXT_CHARS}"),
    # records
    ValueCase("required column missing", "origin", DROP, None, "missing_column",
              "record 1: required column 'origin' is missing"),
]

#: Values that look odd and are right: sent through every protocol, they must be answered 200 with the
#: prediction of the same row spelt plainly (``plain``).
ACCEPTED_VALUES: list[tuple[str, str, str, Any]] = [
    # (name, column, JSON spelling, the plain value it means)
    ("-0 for a number", "distance", "-0", 0),
    ("integer-valued float for a whole-number column", "sched_dep_time", "517.0", 517),
    ("exponent notation", "distance", "1.4e3", 1400),
    ("date-time with an offset", "time_hour", '"2013-01-01T00:00:00-05:00"', "2013-01-01T05:00:00Z"),
    ("date-time without a time zone (taken as UTC)", "time_hour", '"2013-01-01T05:00:00"', "2013-01-01T05:00:00Z"),
    ("date-time with a space, no seconds", "time_hour", '"2013-01-01 05:00"', "2013-01-01T05:00:00Z"),
    ("date-time with nanoseconds", "time_hour", '"2013-01-01T05:00:00.000000001Z"', "2013-01-01T05:00:00Z"),
    ("escaped text for a known category", "carrier", '"\\u0055A"', "UA"),
]


def value_rows(good: list[dict], case: ValueCase) -> list[dict]:
    """Two good records, the second with the case's column set to the placeholder (or dropped)."""
    second = {key: value for key, value in good[1].items() if not (case.json is DROP and key == case.column)}
    if case.json is not DROP:
        second[case.column] = PLACEHOLDER
    return [dict(good[0]), second]


def json_text(data: Any, spelling: str | None) -> bytes:
    """``data`` as JSON with the placeholder replaced by ``spelling`` (raw JSON text)."""
    text = json.dumps(data)
    if spelling is not None:
        text = text.replace(json.dumps(PLACEHOLDER), spelling)
    return text.encode("utf-8")


def csv_text(rows: list[dict], spelling: str | None = None) -> bytes:
    """``rows`` as CSV (header from the first) with the placeholder replaced by ``spelling`` (a raw field)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    text = out.getvalue()
    if spelling is not None:
        text = text.replace(PLACEHOLDER, spelling)
    return text.encode("utf-8")


@dataclass(frozen=True)
class Protocol:
    """How one protocol asks ``path`` for predictions of records, with a bad value spelt in JSON or CSV."""

    name: str
    path: str
    content_type: str
    build: Callable[[list[dict], str | None], bytes]
    spelling: str = "json"      # which spelling of a ValueCase it sends: "json" or "csv"


def split_body(rows: list[dict], spelling: str | None) -> bytes | None:
    """MLflow's ``dataframe_split`` of ``rows`` (None when the rows differ in their columns: it cannot say that)."""
    columns = list(rows[0])
    if any(list(row) != columns for row in rows):
        return None
    return json_text({"dataframe_split": {"columns": columns, "data": [[row[name] for name in columns]
                                                                        for row in rows]}}, spelling)


def v2_body(rows: list[dict], spelling: str | None) -> bytes | None:
    """An Open Inference Protocol (KServe v2) request: one input tensor per column, typed from the first (good)
    row. None when it cannot say the case: rows of different columns, or a value that is itself an array or
    an object (a tensor's element cannot be one: v2 answers that as a shape error, 400)."""
    columns = list(rows[0])
    if any(list(row) != columns for row in rows) or (spelling or " ").lstrip()[:1] in ("[", "{"):
        return None
    inputs = [{"name": name, "shape": [len(rows)], "datatype": "BYTES" if isinstance(rows[0][name], str) else "FP64",
               "data": [row[name] for row in rows]} for name in columns]
    return json_text({"inputs": inputs}, spelling)


#: The protocols that take records: nbprod's JSON on ``/predict``, MLflow's wrappers on ``/invocations``,
#: CSV on ``/predict`` and the Open Inference Protocol's tensors on ``/v2/models/{name}/infer``.
PROTOCOLS: list[Protocol] = [
    Protocol("json-list", "/predict", "application/json", lambda rows, spelling: json_text(rows, spelling)),
    Protocol("json-records", "/predict", "application/json",
             lambda rows, spelling: json_text({"records": rows}, spelling)),
    Protocol("mlflow-dataframe_records", "/invocations", "application/json",
             lambda rows, spelling: json_text({"dataframe_records": rows}, spelling)),
    Protocol("mlflow-dataframe_split", "/invocations", "application/json", split_body),
    Protocol("mlflow-instances", "/invocations", "application/json",
             lambda rows, spelling: json_text({"instances": rows}, spelling)),
    Protocol("mlflow-inputs", "/invocations", "application/json",
             lambda rows, spelling: json_text({"inputs": rows}, spelling)),
    Protocol("csv", "/predict", "text/csv", lambda rows, spelling: csv_text(rows, spelling), "csv"),
    Protocol("kserve-v2", f"/v2/models/{MODEL_NAME}/infer", "application/json", v2_body),
]


def _records(good: list[dict], count: int = 2) -> list[dict]:
    return [dict(record) for record in good[:count]]


def _duplicate(good: list[dict], column: str, spelling: str) -> bytes:
    """Two records, the second with ``column`` given a second time (``spelling``: raw JSON) at its end."""
    second = json.dumps(good[1])[:-1] + f', "{column}": {spelling}}}'
    return f"[{json.dumps(good[0])}, {second}]".encode("utf-8")


def _dumps(data: Any) -> bytes:
    return json.dumps(data).encode("utf-8")


BODY_CASES: list[BodyCase] = [
    BodyCase("empty body", lambda g: b"", 400, "malformed_json", "not valid JSON"),
    BodyCase("whitespace-only body", lambda g: b" \n\t ", 400, "malformed_json", "not valid JSON"),
    BodyCase("null body", lambda g: b"null", 400, "bad_shape", "got NoneType"),
    BodyCase("boolean body", lambda g: b"true", 400, "bad_shape", "got bool"),
    BodyCase("number body", lambda g: b"42", 400, "bad_shape", "got int"),
    BodyCase("string body", lambda g: b'"carrier=UA"', 400, "bad_shape", "got str"),
    BodyCase("NaN body", lambda g: b"NaN", 400, "bad_shape", "got float"),
    BodyCase("truncated JSON", lambda g: _dumps(g[0])[:-7], 400, "malformed_json", "not valid JSON"),
    BodyCase("trailing garbage after JSON", lambda g: _dumps(g[0]) + b" }", 400, "malformed_json", "Extra data"),
    BodyCase("single quotes (Python dict text)", lambda g: repr(g[0]).encode(), 400, "malformed_json",
             "not valid JSON"),
    BodyCase("not UTF-8 (Latin-1 byte)", lambda g: _dumps(_records(g)).replace(b'"carrier": "', b'"carrier": "\xc1', 1), 400,
             "malformed_json", "not UTF-8"),
    BodyCase("UTF-16 text", lambda g: json.dumps(g[0]).encode("utf-16"), 400, "malformed_json", "not UTF-8"),
    BodyCase("UTF-8 byte-order mark", lambda g: b"\xef\xbb\xbf" + _dumps(g[0]), 400, "malformed_json", "BOM"),
    BodyCase("nested 20,000 deep", lambda g: b"[" * 20_000 + b"]" * 20_000, 400, "malformed_json", "nests deeper"),
    BodyCase("record nested 20,000 deep in a value",
             lambda g: _dumps([g[0]])[:-2] + b', "distance": ' + b"[" * 20_000 + b"]" * 20_000 + b"}]", 400,
             "malformed_json", "nests deeper"),
    BodyCase("empty list", lambda g: b"[]", 422, "empty_input", "the list is empty"),
    BodyCase("empty records wrapper", lambda g: b'{"records": []}', 422, "empty_input", "the list is empty"),
    BodyCase("list of lists", lambda g: _dumps([g[0], list(g[1].values())]), 422, "not_an_object",
             "record 1 is not a JSON object", (1, None)),
    BodyCase("list of nulls", lambda g: b"[null]", 422, "not_an_object", "record 0 is not a JSON object", (0, None)),
    BodyCase("records wrapper holding an object", lambda g: _dumps({"records": g[0]}), 400, "bad_shape",
             "must hold a list of objects"),
    BodyCase("records wrapper with another key", lambda g: _dumps({"records": g[:1], "x": 1}), 400, "bad_shape",
             "keys ['records', 'x']"),
    BodyCase("duplicate key with another value", lambda g: _duplicate(g, "distance", '"far"'), 422,
             "duplicate_key", "column 'distance': the key is given more than once", (1, "distance")),
    BodyCase("duplicate key with the same value", lambda g: _duplicate(g, "origin", json.dumps(g[1]["origin"])),
             422, "duplicate_key", "column 'origin'", (1, "origin")),
    BodyCase("two bad values in two records", lambda g: _dumps([{**g[0], "distance": "far"},
                                                               {**g[1], "time_hour": "soon"}]),
             422, "wrong_type", "(and 1 more problem(s), see details)", (0, "distance")),
    BodyCase("many bad records (details capped)", lambda g: _dumps([{**g[0], "distance": None}] * 50), 422,
             "null_not_allowed", "(and 49 more problem(s)", (0, "distance")),
    BodyCase("too many rows", lambda g: _dumps([g[0]] * 51), 413, "too_many_rows", "51 records is over the limit"),
    BodyCase("oversized body", lambda g: _dumps([{**g[0], "pad": "x" * 60_000}]), 413, "body_too_large",
             "over the limit"),
]

#: Bodies that are odd and right: answered 200 (``check`` looks at the answer).
ACCEPTED_BODIES: list[tuple[str, Callable[[list[dict]], bytes], Callable[[dict], bool]]] = [
    ("2,000 unknown columns (listed 10, counted)",
     lambda g: _dumps([{**g[0], **{f"extra_{i}": i for i in range(2000)}}]),
     lambda body: "and 1990 more" in body["warnings"][0]["message"] and len(body["warnings"][0]["columns"]) == 10),
    ("unknown column with a 5,000-character name (quoted cut)",
     lambda g: _dumps([{**g[0], "n" * 5000: 1}]),
     lambda body: len(json.dumps(body["warnings"])) < 400),
    ("unknown unicode column names", lambda g: _dumps([{**g[0], "délai ✈": 1, "距离": 2}]),
     lambda body: body["warnings"][0]["columns"] == sorted(["délai ✈", "距离"])),
    (f"unseen category of {MAX_TEXT_CHARS} characters (quoted cut)",
     lambda g: _dumps([{**g[0], "dest": "y" * MAX_TEXT_CHARS}]),
     lambda body: body["warnings"][0]["problem"] == "unseen_category" and len(body["warnings"][0]["message"]) < 200),
    ("empty and whitespace categories (unseen, scored as missing)",
     lambda g: _dumps([{**g[0], "dest": ""}, {**g[1], "carrier": " UA "}]),
     lambda body: {w["problem"] for w in body["warnings"]} == {"unseen_category"}),
    ("number for a category", lambda g: _dumps([{**g[0], "dest": 42}]),
     lambda body: "'42'" in body["warnings"][0]["message"]),
]


def _csv(rows: list[dict]) -> bytes:
    return csv_text(rows)


CSV_FILE_CASES: list[CsvFileCase] = [
    CsvFileCase("empty file", lambda g: b"", "refused", "cannot read",
                served=Served(400, "malformed_csv", "the CSV body is empty")),
    CsvFileCase("header only", lambda g: _csv(g[:1]).split(b"\n")[0] + b"\n", "scored",
                served=Served(422, "empty_input", "the list is empty")),
    CsvFileCase("missing header (data on the first line)", lambda g: b"\n".join(_csv(g[:3]).split(b"\n")[1:]),
                "refused", "missing required column(s)",
                served=Served(422, "missing_column", "record 0: required column 'carrier' is missing")),
    CsvFileCase("required column missing from the header",
                lambda g: _csv([{k: v for k, v in r.items() if k != "origin"} for r in g[:3]]), "refused",
                "missing required column(s) ['origin']",
                served=Served(422, "missing_column", "required column 'origin' is missing", (0, "origin"))),
    CsvFileCase("column twice in the header",
                lambda g: _csv([{**r, "dup": r["distance"]} for r in g[:3]]).replace(b",dup", b",distance", 1),
                "refused", "more than once in the header: ['distance']",
                served=Served(400, "malformed_csv", "more than once in the header: ['distance']",
                              (None, "distance"))),
    CsvFileCase("ragged row: a field too many", lambda g: _add_field(_csv(g[:3]), 2), "refused", "Expected 6 fields",
                served=Served(400, "malformed_csv", "more fields than the header (7, the header 6)", (1, None))),
    CsvFileCase("first row with a field too many (pandas would shift the columns)", lambda g: _add_field(_csv(g[:3]), 1),
                "refused", "more fields than the header",
                served=Served(400, "malformed_csv", "more fields than the header (7, the header 6)", (0, None))),
    CsvFileCase("trailing separator on every data row", lambda g: b"\n".join(
        line + b"," if number and line else line for number, line in enumerate(_csv(g[:3]).split(b"\n"))),
        "refused", "more fields than the header",
        served=Served(400, "malformed_csv", "a field after the last column 'time_hour'", (0, None))),
    CsvFileCase("ragged row: a field missing", lambda g: _drop_last_field(_csv(g[:3]), 2), "rejected",
                "the row has 5 field(s), the header 6: none from column 'time_hour' on", rows=(1,),
                served=Served(422, "short_row", "the row has 5 field(s), the header 6", (1, "time_hour"))),
    CsvFileCase("ragged row: all but one field missing", lambda g: _csv(g[:3]).replace(b"\n", b"\nUA\n", 2)
                .replace(b"\nUA\n", b"\n", 1), "rejected", "the row has 1 field(s), the header 6", rows=(1,),
                served=Served(422, "short_row", "none from column 'origin' on", (1, "origin"))),
    CsvFileCase("short rows in two places (each named)",
                lambda g: _drop_last_field(_drop_last_field(_csv(g[:4]), 2), 4), "rejected",
                "the row has 5 field(s), the header 6", rows=(1, 3),
                served=Served(422, "short_row", "(and 1 more problem(s), see details)", (1, "time_hour"))),
    CsvFileCase("blank and whitespace-only lines between rows", lambda g: _csv(g[:3]).replace(b"\n", b"\n\n   \n"),
                "scored"),
    CsvFileCase("not UTF-8 (Latin-1 byte)", lambda g: _csv(g[:3]).replace(b"\n", b"\n\xc1", 1), "refused",
                "cannot read", served=Served(400, "malformed_csv", "not UTF-8")),
    CsvFileCase("UTF-8 byte-order mark", lambda g: b"\xef\xbb\xbf" + _csv(g[:3]), "scored"),
    CsvFileCase("quoted newline inside a category", lambda g: _csv([g[0], {**g[1], "dest": "NEW\nYORK"}, g[2]]),
                "scored"),
    CsvFileCase("Windows line endings", lambda g: _csv(g[:3]).replace(b"\n", b"\r\n"), "scored"),
    CsvFileCase("300 extra columns", lambda g: _csv([{**r, **{f"x{i}": i for i in range(300)}} for r in g[:2]]),
                "scored"),
]


def _add_field(text: bytes, line: int) -> bytes:
    """``text`` with a field added at the end of line ``line`` (0: the header)."""
    lines = text.split(b"\n")
    lines[line] += b",extra"
    return b"\n".join(lines)


def _drop_last_field(text: bytes, line: int) -> bytes:
    """``text`` with the last field of line ``line`` (0: the header) cut off."""
    lines = text.split(b"\n")
    lines[line] = lines[line].rsplit(b",", 1)[0]
    return b"\n".join(lines)


def kinds() -> int:
    """How many kinds of bad input the catalog holds (value cases count once per spelling)."""
    return (len(VALUE_CASES) + sum(case.csv is not None for case in VALUE_CASES) + len(BODY_CASES)
            + len(CSV_FILE_CASES))
