"""Standard serving protocols on top of the prediction service: request bodies -> records, answers -> bodies.

Every protocol reads its body into the same thing -- a list of records (dicts of column -> JSON value)
-- and hands it to :class:`nbprod.serving.validation.RecordValidator` exactly as ``POST /predict``
always did; answers are shaped per protocol. Endpoints (see also :mod:`nbprod.serving.openapi`):

``POST /predict`` (nbprod)
    One record ``{"column": value, ...}``, a list of records, ``{"records": [...]}``, any of MLflow's
    JSON wrappers below, or CSV (``Content-Type: text/csv``, a header line, then rows, checked as ``nbprod
    score`` checks a file: a header naming a column twice or a row longer than the header is a 400
    ``malformed_csv``, shorter rows a 422 ``short_row`` naming each). The answer is nbprod's (see
    :mod:`nbprod.serving.app`).
``POST /invocations`` (MLflow's scoring protocol, as ``mlflow models serve`` speaks it)
    ``{"dataframe_split": {"columns": [...], "data": [[...], ...]}}`` (what MLflow writes to every
    model's ``serving_input_example.json``), ``{"dataframe_records": [{...}, ...]}``,
    ``{"instances": [{...}, ...]}`` or ``{"instances": {"column": [...], ...}}``, ``{"inputs": ...}``
    (the same two forms), each with an optional ``"params"`` (ignored, as MLflow ignores it for
    scikit-learn models); or CSV. Answer ``{"predictions": [...]}`` (nbprod's labels: binary, the
    positive class at the version's threshold); errors ``{"error_code": "BAD_REQUEST", "message": ...}``
    plus nbprod's ``request_id`` and ``error``. ``GET /ping``: 200 when a model is loaded.
Open Inference Protocol (KServe v2; KServe, Seldon MLServer and Triton clients), tabular
    ``GET /v2/health/live``, ``GET /v2/health/ready`` (``{"ready": bool}``, 503 before a model is
    loaded), ``GET /v2`` (server metadata), ``GET /v2/models/{name}[/versions/{v}]`` (metadata: one
    input per contract column, ``FP64`` numbers, ``BYTES`` text and ISO 8601 date-times, shape
    ``[-1]``), ``GET /v2/models/{name}/ready``, ``POST /v2/models/{name}[/versions/{v}]/infer`` with
    ``{"id": ..., "inputs": [{"name": column, "shape": [n] or [n, 1], "datatype": ..., "data": [...]},
    ...], "outputs": [{"name": ...}]}`` (one input per column, ``outputs`` optional). Answer
    ``{"model_name", "model_version", "id", "outputs": [{"name": "predict", ...}, {"name":
    "predict_proba", "shape": [n, classes], "datatype": "FP64", ...}]}`` (the names MLServer's
    scikit-learn runtime uses; ``predict_proba`` for classifiers, in ``/ready``'s ``classes`` order).
    Errors ``{"error": "message", "kind": ..., "details": [...]}``; another model name or version: 404.

A wrapper key the service does not know (an object holding no contract column and a list or object
value) is a 400 ``bad_shape`` naming the accepted ones. The token (``serve.token_env``), when set,
guards ``/invocations``, ``.../infer``, ``/openapi.json`` and ``/docs`` as it guards ``/predict``.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from nbprod.serving.validation import MAX_PROBLEMS, Problems, RequestError, Validated, cut, excerpt, loads

#: MLflow's JSON wrappers (``mlflow.pyfunc.scoring_server.SUPPORTED_FORMATS``) and nbprod's own.
MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
NBPROD_KEYS = ("records",)
WRAPPER_KEYS = (*MLFLOW_KEYS, *NBPROD_KEYS)
#: Keys allowed beside a wrapper (MLflow's inference parameters; nothing to pass to a scikit-learn model).
PARAMS_KEY = "params"
CSV_TYPE = "text/csv"
#: A CSV header may name this many columns, or twice the model's if more (the others are not read): pandas
#: takes seconds over a 20,000-column header.
MAX_CSV_COLUMNS = 1000
ACCEPTED = ("a JSON object (one record of the model's columns, or an object with exactly one of the keys "
            f"{', '.join(repr(key) for key in WRAPPER_KEYS)}) or a list of records")
#: Open Inference Protocol datatypes of a tabular input, and those of the outputs.
V2_DATATYPES = frozenset({"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
                          "FP16", "FP32", "FP64", "BYTES"})
V2_INPUT_TYPES = {"numeric": "FP64", "categorical": "BYTES", "datetime": "BYTES"}
PREDICT, PREDICT_PROBA = "predict", "predict_proba"
MLFLOW_ERROR_CODES = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 404: "ENDPOINT_NOT_FOUND", 405: "BAD_REQUEST",
                      413: "RESOURCE_EXHAUSTED", 415: "BAD_REQUEST", 422: "BAD_REQUEST", 429: "RESOURCE_EXHAUSTED",
                      503: "TEMPORARILY_UNAVAILABLE", 504: "TEMPORARILY_UNAVAILABLE"}
JSON_TYPE = b"application/json"
_V2_MODEL = re.compile(r"^/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?(?P<action>/infer|/ready)?$")


@dataclass
class Parsed:
    """A request read by a protocol: its records, and what the answer needs from it (``context``)."""

    records: list
    context: dict = field(default_factory=dict)


@dataclass
class Answer:
    """What the service predicted for one request."""

    model: Any                     # nbprod.serving.model_source.LoadedModel
    validated: Validated
    predictions: Any               # numpy array, one per record
    probabilities: Any             # (rows, classes) numpy array, None for a regressor
    request_id: str                # the service's id of the request
    client_id: str | None = None   # the client's X-Request-ID, when it sent one


@dataclass(frozen=True)
class Protocol:
    """How one endpoint reads bodies (``parse(content_type, body, model, max_rows)``) and writes answers
    (``respond(answer, parsed)``)."""

    name: str
    parse: Callable[[str, bytes, Any, int], Parsed]
    respond: Callable[[Answer, Parsed], bytes]


# -- reading bodies ---------------------------------------------------------------------------------

def media_type(headers: dict) -> str:
    """The request's media type, lower case, without parameters (``text/csv; charset=utf-8`` -> ``text/csv``)."""
    value = headers.get(b"content-type", b"").decode("latin-1")
    return value.split(";", 1)[0].strip().lower()


def parse_json(body: bytes) -> Any:
    """The JSON document of a body; 400 ``malformed_json`` when it is not UTF-8 JSON."""
    try:
        return loads(body.decode("utf-8"))  # bytes would be sniffed (UTF-16/32); JSON is UTF-8; a key twice: 422
    except UnicodeDecodeError as error:
        raise RequestError(400, "malformed_json", f"body is not UTF-8 text: {error}") from None
    except ValueError as error:
        raise RequestError(400, "malformed_json", f"body is not valid JSON: {error}") from None
    except RecursionError:
        raise RequestError(400, "malformed_json", "body nests deeper than a JSON parser allows") from None


def checked(records: list, max_rows: int) -> list:
    """``records`` when there are some and no more than ``max_rows``: else 422 ``empty_input``/413."""
    if not records:
        raise RequestError(422, "empty_input", "no records to predict: the list is empty")
    if len(records) > max_rows:
        raise RequestError(413, "too_many_rows", f"{len(records)} records is over the limit of {max_rows} per request")
    return records


def csv_records(body: bytes, contract: Any) -> list[dict]:
    """CSV rows as records, read as ``nbprod score`` reads a CSV file (:func:`nbprod.serving.batch.read_csv`:
    text, the same missing-value markers): contract numbers that parse become floats, missing cells None;
    anything else stays text for the validator to judge. Rows are checked first as ``score`` checks them
    (:func:`check_csv_shape`)."""
    import io

    import pandas as pd

    from nbprod.serving.batch import ROWS_DISAGREE, read_csv

    rows = check_csv_shape(body, max(MAX_CSV_COLUMNS, 2 * len(contract.columns)))
    try:
        frame = read_csv(io.BytesIO(body))
    except pd.errors.EmptyDataError:
        raise RequestError(400, "malformed_csv", "the CSV body is empty: send a header line, then rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise RequestError(400, "malformed_csv", f"body is not valid CSV: {str(error).strip()[:200]}") from None
    if len(frame) != rows:
        raise RequestError(400, "malformed_csv", f"body is not valid CSV: {ROWS_DISAGREE}")
    numeric = {spec.name for spec in contract.columns if spec.kind == "numeric"}
    columns = [str(name) for name in frame.columns]
    records = []
    for row in frame.itertuples(index=False, name=None):
        record = {}
        for name, value in zip(columns, row):
            if type(value) is not str:
                record[name] = None
            elif name in numeric:
                record[name] = _number(value)
            else:
                record[name] = value
        records.append(record)
    return records


def check_csv_shape(body: bytes, max_columns: int | None = None) -> int:
    """The number of data rows of a CSV body whose rows have the header's fields, checked with the code
    ``nbprod score`` checks a file with (:mod:`nbprod.serving.batch`): a header naming a column twice or more
    than ``max_columns``, or a data row with more fields than the header (pandas would shift its columns), is
    a 400 ``malformed_csv``;
    rows with fewer (pandas would fill them with missing values) a 422 ``short_row`` naming each row (as
    ``record N``, its position among the data rows) and the first column it has no field for."""
    import io

    from nbprod.serving.batch import csv_rows, header_problem, long_row_problem, repeated_names, short_row_reason

    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RequestError(400, "malformed_csv", f"body is not valid CSV: not UTF-8 text: {error}") from None
    rows = csv_rows(io.StringIO(text, newline=""))
    try:
        header = next(rows)
        if max_columns is not None and len(header) > max_columns:
            raise RequestError(400, "malformed_csv", f"CSV header: {len(header)} columns, more than the {max_columns} "
                                                     "read (the model takes its own and ignores the others)")
        problem = header_problem(header)
        if problem:
            raise RequestError(400, "malformed_csv", f"CSV header: {problem}",
                               [{"record": None, "column": cut(name), "problem": "duplicate_column",
                                 "message": f"the header names column {excerpt(name)} more than once"}
                                for name in repeated_names(header)[:MAX_PROBLEMS]])
        problems = Problems()
        count = 0
        for count, row in enumerate(rows, start=1):
            fields, index = len(row), count - 1
            if fields > len(header):
                message = f"record {index}: {long_row_problem(fields, header)}"
                raise RequestError(400, "malformed_csv", message, [{"record": index, "column": None,
                                                                    "problem": "long_row", "message": message}])
            if fields < len(header):
                problems.append({"record": index, "column": cut(header[fields]), "problem": "short_row",
                                 "message": f"record {index}: {short_row_reason(fields, header)}"})
    except StopIteration:
        return 0  # no header: pandas says so
    except csv.Error as error:
        raise RequestError(400, "malformed_csv", f"body is not valid CSV: {str(error)[:200]}") from None
    if problems:
        more = f" (and {problems.total - 1} more problem(s), see details)" if problems.total > 1 else ""
        raise RequestError(422, "short_row", problems[0]["message"] + more, list(problems))
    return count


def _number(text: str) -> Any:
    """A CSV cell of a numeric column: a float when it is one (``nbprod score`` reads it so), else the text."""
    if "_" in text:
        return text
    try:
        return float(text)
    except ValueError:
        return text


def nbprod_records(payload: Any, known: frozenset) -> list:
    """Records of a JSON body in any shape ``/predict`` takes (``known``: the contract's column names)."""
    if isinstance(payload, list):
        return payload
    if not isinstance(payload, dict):
        raise RequestError(400, "bad_shape", f"the body must be {ACCEPTED}; got {type(payload).__name__}")
    wrappers = [key for key in WRAPPER_KEYS if key in payload and key not in known]
    if not wrappers:
        if known.isdisjoint(payload) and any(isinstance(value, (list, dict)) for value in payload.values()):
            unknown = sorted(str(key) for key in payload)[:10]
            raise RequestError(400, "bad_shape", f"unknown key(s) {unknown}: the body must be {ACCEPTED}")
        return [payload]
    if len(wrappers) > 1:
        raise RequestError(400, "bad_shape", f"the body holds the keys {wrappers}: send exactly one of them")
    return wrapped_records(payload, wrappers[0], known)


def wrapped_records(payload: dict, key: str, known: frozenset) -> list:
    """The records inside ``payload[key]``, one of MLflow's wrappers or ``records``."""
    allowed = {key, PARAMS_KEY} if key in MLFLOW_KEYS else {key}
    others = sorted(str(other) for other in payload if other not in allowed)
    if others and key == "records":
        raise RequestError(400, "bad_shape", "{\"records\": [...]} must hold a list of objects and no other key, "
                                             f"got keys {sorted(str(other) for other in payload)}")
    if others:
        raise RequestError(400, "bad_shape", f"{{{key!r}: ...}} takes no other key than {PARAMS_KEY!r}, got {others}")
    value = payload[key]
    if key == "dataframe_split":
        return split_records(value)
    if key in ("instances", "inputs") and isinstance(value, dict):
        return columnar_records(value, key)
    if not isinstance(value, list):
        raise RequestError(400, "bad_shape", f"{{{key!r}: ...}} must hold a list of objects"
                                             f"{' or an object of columns' if key in ('instances', 'inputs') else ''}"
                                             f", got {type(value).__name__}")
    return value


def split_records(split: Any) -> list[dict]:
    """Records of pandas' ``split`` orient: ``{"columns": [...], "data": [[...], ...], "index": [...]}``."""
    if not isinstance(split, dict) or not isinstance(split.get("columns"), list) or not isinstance(
            split.get("data"), list):
        raise RequestError(400, "bad_shape", "'dataframe_split' must be an object with 'columns' (a list of names) "
                                             "and 'data' (a list of rows, each a list of values)")
    columns = split["columns"]
    if not all(isinstance(name, str) for name in columns) or len(set(columns)) != len(columns):
        raise RequestError(400, "bad_shape", "'dataframe_split' columns must be distinct names (text)")
    records = []
    for index, row in enumerate(split["data"]):
        if not isinstance(row, list) or len(row) != len(columns):
            got = f"{len(row)} values" if isinstance(row, list) else type(row).__name__
            raise RequestError(400, "bad_shape", f"'dataframe_split' row {index} must be a list of {len(columns)} "
                                                 f"values (one per column), got {got}",
                               [{"record": index, "problem": "bad_shape", "message": f"row {index}: {got}"}])
        records.append(dict(zip(columns, row)))
    return records


def columnar_records(columns: dict, key: str) -> list[dict]:
    """Records of ``{"column": [values...], ...}`` (every value a list of one length), or of one record
    ``{"column": value, ...}`` (no value a list)."""
    lists = [isinstance(value, list) for value in columns.values()]
    if not any(lists):
        return [columns]
    lengths = {len(value) for value in columns.values() if isinstance(value, list)}
    if not all(lists) or len(lengths) != 1:
        raise RequestError(400, "bad_shape", f"{{{key!r}: {{column: [...]}}}} needs one list per column, all of "
                                             "one length")
    names = list(columns)
    return [dict(zip(names, row)) for row in zip(*columns.values())]


def read_records(content_type: str, body: bytes, model: Any, max_rows: int) -> list:
    """Records of a ``/predict`` or ``/invocations`` body: CSV, or JSON in any shape they take."""
    if content_type == CSV_TYPE:
        return checked(csv_records(body, model.contract), max_rows)
    return checked(nbprod_records(parse_json(body), model.validator.known), max_rows)


def read(protocol: Protocol, content_type: str, body: bytes, model: Any, max_rows: int,
         *limits: Any) -> tuple[Parsed, Validated]:
    """A body read by ``protocol`` and its records checked against ``model``'s contract (``limits``: further
    arguments of :meth:`RecordValidator.check`). No I/O: runs in any thread, e.g. off the event loop."""
    parsed = protocol.parse(content_type, body, model, max_rows)
    return parsed, model.validator.check(parsed.records, *limits)


def parse_nbprod(content_type: str, body: bytes, model: Any, max_rows: int) -> Parsed:
    return Parsed(read_records(content_type, body, model, max_rows))


# -- the Open Inference Protocol (KServe v2) --------------------------------------------------------

def v2_records(payload: Any, max_rows: int) -> Parsed:
    """Records of an inference request: one tabular input (a column) per contract column."""
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list) or not payload["inputs"]:
        raise RequestError(400, "bad_shape", "an inference request is an object with 'inputs': a non-empty list of "
                                             "{'name', 'shape', 'datatype', 'data'}, one per column")
    columns: dict[str, list] = {}
    for position, tensor in enumerate(payload["inputs"]):
        name, values = v2_column(tensor, position)
        if name in columns:
            raise RequestError(400, "bad_shape", f"input {name!r} is given twice")
        columns[name] = values
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) != 1:
        raise RequestError(400, "bad_shape", f"the inputs must have one length (rows), got {lengths}")
    wanted = payload.get("outputs")
    if wanted is not None and (not isinstance(wanted, list) or not all(
            isinstance(output, dict) and isinstance(output.get("name"), str) for output in wanted)):
        raise RequestError(400, "bad_shape", "'outputs' must be a list of {'name': ...}")
    request_id = payload.get("id")
    context = {"outputs": None if wanted is None else [output["name"] for output in wanted],
               "id": request_id if isinstance(request_id, str) else None}
    names = list(columns)
    return Parsed(checked([dict(zip(names, row)) for row in zip(*columns.values())], max_rows), context)


def v2_column(tensor: Any, position: int) -> tuple[str, list]:
    """``(name, values)`` of one input tensor of shape ``[n]`` or ``[n, 1]``."""
    if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
        raise RequestError(400, "bad_shape", f"input {position} must be an object with a 'name'")
    name, shape, datatype, data = (tensor["name"], tensor.get("shape"), tensor.get("datatype"), tensor.get("data"))
    if datatype not in V2_DATATYPES:
        raise RequestError(400, "bad_shape", f"input {name!r}: datatype {str(datatype)[:20]!r} is not one of "
                                             f"{sorted(V2_DATATYPES)}")
    if (not isinstance(shape, list) or not 1 <= len(shape) <= 2 or not all(type(n) is int and n >= 0 for n in shape)
            or (len(shape) == 2 and shape[1] != 1)):
        raise RequestError(400, "bad_shape", f"input {name!r}: shape {str(shape)[:40]} is not [rows] or [rows, 1] "
                                             "(a tabular input is one column)")
    if not isinstance(data, list):
        raise RequestError(400, "bad_shape", f"input {name!r}: 'data' must be a list")
    values = [item[0] if isinstance(item, list) and len(item) == 1 else item for item in data]
    if len(values) != shape[0] or any(isinstance(item, list) for item in values):
        raise RequestError(400, "bad_shape", f"input {name!r}: shape {shape} does not match its data "
                                             f"({len(data)} values)")
    return name, values


def parse_v2(content_type: str, body: bytes, model: Any, max_rows: int) -> Parsed:
    parsed = v2_records(parse_json(body), max_rows)
    check_v2_outputs(parsed, model)
    return parsed


def v2_datatype(values: Any) -> str:
    """The Open Inference Protocol datatype of a numpy array of predictions."""
    kind = getattr(values, "dtype", None)
    kind = kind.kind if kind is not None else "O"
    return {"b": "BOOL", "i": "INT64", "u": "UINT64", "f": "FP64"}.get(kind, "BYTES")


def v2_outputs(model: Any) -> list[dict]:
    """The output tensors' metadata of ``model``."""
    if model.labels is None:  # a regressor
        return [{"name": PREDICT, "datatype": "FP64", "shape": [-1]}]
    return [{"name": PREDICT, "datatype": v2_datatype(model.labels.array()), "shape": [-1]},
            {"name": PREDICT_PROBA, "datatype": "FP64", "shape": [-1, len(model.labels.classes)]}]


def respond_v2(answer: Answer, parsed: Parsed) -> bytes:
    model, rows = answer.model, answer.validated.rows
    outputs = [{"name": PREDICT, "shape": [rows], "datatype": v2_datatype(answer.predictions),
                "data": answer.predictions.tolist()}]
    if answer.probabilities is not None:
        outputs.append({"name": PREDICT_PROBA, "shape": list(answer.probabilities.shape), "datatype": "FP64",
                        "data": answer.probabilities.ravel().tolist()})
    wanted = parsed.context.get("outputs")
    if wanted is not None:
        outputs = [output for output in outputs if output["name"] in wanted]
    return _json({"model_name": model.name, "model_version": model.version,
                  "id": parsed.context.get("id") or answer.request_id, "outputs": outputs})


def check_v2_outputs(parsed: Parsed, model: Any) -> None:
    """400 when the request asks for an output the model does not have (before predicting)."""
    known = [output["name"] for output in v2_outputs(model)]
    unknown = [name for name in parsed.context.get("outputs") or () if name not in known]
    if unknown:
        raise RequestError(400, "bad_shape", f"unknown output(s) {unknown}; this model has {known}")


# -- answers ----------------------------------------------------------------------------------------

def _json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()


def class_fields(model: Any) -> dict[str, Any]:
    """A classifier's ``classes`` (the probabilities' order) and, when binary, its ``positive_class`` and
    ``threshold`` (on the positive class's probability); a multiclass model predicts the most probable class."""
    fields: dict[str, Any] = model.labels.to_dict()
    if model.labels.binary:
        fields["threshold"] = model.threshold
    return fields


def respond_nbprod(answer: Answer, parsed: Parsed) -> bytes:
    model = answer.model
    response: dict[str, Any] = {"request_id": answer.request_id}
    if answer.client_id:
        response["client_request_id"] = answer.client_id
    response.update({"model": {"name": model.name, "version": model.version},
                     "predictions": answer.predictions.tolist()})
    if answer.probabilities is not None:
        response["probabilities"] = answer.probabilities.tolist()
        response.update(class_fields(model))
    response["warnings"] = answer.validated.warnings
    return _json(response)


def respond_mlflow(answer: Answer, parsed: Parsed) -> bytes:
    return _json({"predictions": answer.predictions.tolist()})


NBPROD = Protocol("nbprod", parse_nbprod, respond_nbprod)
MLFLOW = Protocol("mlflow", parse_nbprod, respond_mlflow)
OPEN_INFERENCE = Protocol("v2", parse_v2, respond_v2)


def error_body(path: str, request_id: str, error: RequestError, client_id: str | None = None) -> bytes:
    """An error in the shape of the protocol of ``path``: MLflow's on ``/invocations``, the Open Inference
    Protocol's on ``/v2/...``, nbprod's elsewhere (``client_id``: the client's X-Request-ID, echoed)."""
    if path.startswith("/v2"):
        shaped: dict[str, Any] = {"error": error.message, "kind": error.kind}
        if error.details:
            shaped["details"] = error.details
        return _json(shaped)
    nbprod = {"request_id": request_id, **({"client_request_id": client_id} if client_id else {}),
              "error": error.to_dict()}
    if path == "/invocations":
        return _json({"error_code": MLFLOW_ERROR_CODES.get(error.status, "INTERNAL_ERROR"),
                      "message": error.message, **nbprod})
    return _json(nbprod)


# -- routing ----------------------------------------------------------------------------------------

Response = tuple[int, bytes, bytes, list]


class Router:
    """The protocols' endpoints of a :class:`nbprod.serving.app.PredictionService`: ``handle`` answers a
    request or returns None (not a protocol path); the OpenAPI document and docs page are made once per
    loaded model version."""

    def __init__(self, model_name: str, token: bool) -> None:
        self.model_name = model_name
        self.token = token
        self.documents: tuple[Any, bytes, bytes] | None = None

    def label(self, path: str) -> str | None:
        """The metrics label of a protocol path (``/v2/models/{name}/infer``), None for another."""
        if path in ("/invocations", "/ping", "/openapi.json", "/docs", "/v2", "/v2/health/live", "/v2/health/ready"):
            return path
        match = _V2_MODEL.match(path)
        if match:
            return "/v2/models/{name}" + ("/versions/{version}" if match["version"] else "") + (match["action"] or "")
        return None

    async def handle(self, service: Any, scope: dict, receive: Any, headers: dict, request_id: str,
                     arrived: float, client_id: str | None = None) -> Response | None:
        path, method = scope["path"], scope["method"]
        if path == "/invocations":
            _require(method, "POST", path)
            body = await service.predict(headers, receive, request_id, arrived, client_id, protocol=MLFLOW)
            return 200, body, JSON_TYPE, []
        if path.startswith("/v2"):
            return await self.open_inference(service, path, method, headers, receive, request_id, arrived,
                                             client_id)
        if path in ("/ping", "/openapi.json", "/docs"):
            _require(method, "GET", path)
            if path == "/ping":
                if service.model is None:
                    raise RequestError(503, "not_ready", "no model loaded yet; see GET /ready")
                return 200, b"\n", b"text/plain; charset=utf-8", []
            service.authorize(headers)  # the contract (columns, training categories): as guarded as predictions
            return self.document(service.model, path)
        return None

    async def open_inference(self, service: Any, path: str, method: str, headers: dict, receive: Any,
                             request_id: str, arrived: float, client_id: str | None = None) -> Response | None:
        model = service.model
        if path in ("/v2/health/live", "/v2", "/v2/health/ready"):
            _require(method, "GET", path)
            if path == "/v2/health/live":
                return 200, b'{"live":true}', JSON_TYPE, []
            if path == "/v2/health/ready":
                return (200 if model is not None else 503), _json({"ready": model is not None}), JSON_TYPE, []
            from nbprod import __version__

            return 200, _json({"name": "nbprod", "version": __version__, "extensions": []}), JSON_TYPE, []
        match = _V2_MODEL.match(path)
        if match is None:
            return None
        if match["name"] != self.model_name:
            raise RequestError(404, "not_found", f"unknown model {match['name'][:100]!r}; this server serves "
                                                 f"{self.model_name!r}")
        if model is None:
            raise RequestError(503, "not_ready", "no model loaded yet; see GET /v2/health/ready")
        if match["version"] is not None and match["version"] != model.version:
            raise RequestError(404, "not_found", f"model {self.model_name!r} version {match['version'][:20]!r} is "
                                                 f"not loaded; version {model.version} is")
        if match["action"] == "/infer":
            _require(method, "POST", path)
            body = await service.predict(headers, receive, request_id, arrived, client_id, protocol=OPEN_INFERENCE)
            return 200, body, JSON_TYPE, []
        _require(method, "GET", path)
        if match["action"] == "/ready":
            return 200, _json({"name": model.name, "ready": True}), JSON_TYPE, []
        return 200, _json(v2_metadata(model)), JSON_TYPE, []

    def document(self, model: Any, path: str) -> Response:
        """``/openapi.json`` or ``/docs`` of the loaded model (made once per version)."""
        from nbprod.serving import openapi

        if self.documents is None or self.documents[0] is not model:
            document = openapi.document(model, self.model_name, self.token)
            self.documents = (model, _json(document), openapi.docs_page(document).encode())
        if path == "/openapi.json":
            return 200, self.documents[1], JSON_TYPE, []
        return 200, self.documents[2], b"text/html; charset=utf-8", [(b"content-security-policy", openapi.CSP)]


def v2_metadata(model: Any) -> dict[str, Any]:
    """The Open Inference Protocol's model metadata: one input per contract column."""
    return {"name": model.name, "versions": [model.version], "platform": "nbprod-sklearn",
            "inputs": [{"name": spec.name, "datatype": V2_INPUT_TYPES[spec.kind], "shape": [-1]}
                       for spec in model.contract.columns],
            "outputs": v2_outputs(model)}


def _require(method: str, wanted: str, path: str) -> None:
    if method != wanted:
        raise RequestError(405, "method_not_allowed", f"use {wanted} {path}")
