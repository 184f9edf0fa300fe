"""The service's OpenAPI document, generated from the loaded model's input contract, and a docs page.

``GET /openapi.json`` describes every endpoint (nbprod's, MLflow's scoring protocol, the Open Inference
Protocol) with the model's own record schema: one property per contract column -- its JSON type, whether
null is allowed, the categories seen in training (``x-categories``: another value is accepted, scored as
missing and reported), the training range of numbers (``x-training-range``, informative) -- and request
examples built from the contract. ``GET /docs`` renders the same document as one self-contained HTML page:
no script, no stylesheet or font from elsewhere (its Content-Security-Policy forbids loading anything).
Both are made when a version is loaded, so they follow the alias to a version with another contract.
When a token is set (``serve.token_env``) both require it, as predictions do.
"""

from __future__ import annotations

import html
import json
from typing import Any

from nbprod.serving.protocols import MLFLOW_KEYS, PREDICT, PREDICT_PROBA, V2_INPUT_TYPES, v2_outputs

#: The docs page may load nothing (inline style only).
CSP = b"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
#: Categories listed per column on the docs page (all are in the JSON document).
PAGE_CATEGORIES = 25
_JSON_TYPES = {"numeric": "number", "categorical": "string", "datetime": "string"}


def column_schema(spec: Any) -> dict[str, Any]:
    """The JSON Schema of one contract column (:class:`nbprod.model.contract.ColumnSpec`)."""
    kind = _JSON_TYPES[spec.kind]
    schema: dict[str, Any] = {"type": [kind, "null"] if spec.nullable else kind, "x-kind": spec.kind,
                              "x-nullable": spec.nullable}
    if spec.kind == "numeric":
        schema["description"] = "a number; " + ("null or NaN: missing" if spec.nullable else "missing not allowed")
        if spec.minimum is not None:
            schema["x-training-range"] = [spec.minimum, spec.maximum]
    elif spec.kind == "categorical":
        schema["description"] = (f"text, one of the {len(spec.categories)} categories seen in training (numbers "
                                 "and booleans are read as text); another value is accepted, scored as missing "
                                 "and reported in warnings" + ("; null: missing" if spec.nullable else ""))
        schema["x-categories"] = list(spec.categories)
    else:
        schema["format"] = "date-time"
        schema["description"] = ("ISO 8601 date-time; with an offset it is converted to UTC, without one it is "
                                 "taken as UTC" + ("; null: missing" if spec.nullable else ""))
    return schema


def example_record(contract: Any) -> dict[str, Any]:
    """A plausible record: the most frequent category, the training minimum, a fixed date-time."""
    record: dict[str, Any] = {}
    for spec in contract.columns:
        if spec.kind == "numeric":
            record[spec.name] = spec.minimum if spec.minimum is not None else 0.0
        elif spec.kind == "categorical":
            record[spec.name] = spec.categories[0] if spec.categories else None
        else:
            record[spec.name] = "2020-01-01T12:00:00Z"
    return record


def examples(contract: Any) -> dict[str, Any]:
    """One request per protocol for the example record."""
    record = example_record(contract)
    names = list(record)
    csv_cells = ["" if value is None else str(value) for value in record.values()]
    return {
        "record": record,
        "dataframe_split": {"dataframe_split": {"columns": names, "data": [list(record.values())]}},
        "dataframe_records": {"dataframe_records": [record]},
        "inputs": {"inputs": {name: [value] for name, value in record.items()}},
        "csv": ",".join(names) + "\n" + ",".join(_csv_cell(cell) for cell in csv_cells) + "\n",
        "infer": {"inputs": [{"name": spec.name, "shape": [1], "datatype": V2_INPUT_TYPES[spec.kind],
                              "data": [record[spec.name]]} for spec in contract.columns]},
    }


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


def model_info(model: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"name": model.name, "version": model.version, "task": model.task}
    if model.labels is not None:
        info.update(model.labels.to_dict())
        if model.labels.binary:
            info["threshold"] = model.threshold
    return info


def _content(schema_ref: str, example: Any, csv: str | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"},
                                                    "example": example}}
    if csv is not None:
        content["text/csv"] = {"schema": {"type": "string"}, "example": csv}
    return content


def _responses(ok: str, error: str, token: bool) -> dict[str, Any]:
    def answer(text: str, ref: str) -> dict[str, Any]:
        schema = {"$ref": f"#/components/schemas/{ref}"}
        return {"description": text, "content": {"application/json": {"schema": schema}}}

    responses = {"200": answer("predictions, one per record", ok),
                 "400": answer("malformed body or unknown shape", error),
                 "413": answer("body or row count over the limit", error),
                 "422": answer("records that break the contract: what, which record, which column", error),
                 "503": answer("no model loaded yet", error)}
    if token:
        responses["401"] = answer("missing or wrong bearer token", error)
    return responses


def _get(summary: str) -> dict[str, Any]:
    return {"get": {"summary": summary, "responses": {"200": {"description": "OK"}}}}


def schemas(model: Any) -> dict[str, Any]:
    """The components' schemas for ``model``."""
    contract = model.contract
    names = contract.names
    record = {"type": "object", "description": "one record: every column of the model's input contract "
                                               "(other keys are ignored and reported in warnings)",
              "properties": {spec.name: column_schema(spec) for spec in contract.columns},
              "required": names, "additionalProperties": True}
    records = {"type": "array", "items": {"$ref": "#/components/schemas/Record"}, "minItems": 1}
    label = ({"enum": list(model.labels.classes)} if model.labels is not None else {"type": "number"})
    columns = {"type": "object", "description": "one list per column, all of one length",
               "properties": {spec.name: {"type": "array", "items": column_schema(spec)} for spec in contract.columns},
               "required": names}
    wrapper = {"dataframe_split": {"type": "object", "required": ["columns", "data"],
                                   "properties": {"columns": {"type": "array", "items": {"enum": names}},
                                                  "data": {"type": "array", "items": {"type": "array"}},
                                                  "index": {"type": "array"}}},
               "dataframe_records": records, "instances": {"oneOf": [records, columns]},
               "inputs": {"oneOf": [records, columns]}}
    mlflow = [{"type": "object", "required": [key], "properties": {key: wrapper[key], "params": {"type": "object"}},
               "additionalProperties": False} for key in MLFLOW_KEYS]
    error = {"type": "object", "properties": {"request_id": {"type": "string"}, "error": {
        "type": "object", "properties": {"kind": {"type": "string"}, "message": {"type": "string"},
                                         "details": {"type": "array", "items": {"type": "object"}}}}}}
    tensor = {"type": "object", "required": ["name", "shape", "datatype", "data"],
              "properties": {"name": {"enum": names}, "shape": {"type": "array", "items": {"type": "integer"}},
                             "datatype": {"type": "string", "description": "; ".join(
                                 f"{spec.name}: {V2_INPUT_TYPES[spec.kind]}" for spec in contract.columns)},
                             "data": {"type": "array"}}}
    return {
        "Record": record,
        "PredictRequest": {"oneOf": [{"$ref": "#/components/schemas/Record"}, records,
                                     {"type": "object", "required": ["records"], "properties": {"records": records}},
                                     *mlflow]},
        "MlflowRequest": {"oneOf": mlflow},
        "PredictResponse": {"type": "object", "properties": {
            "request_id": {"type": "string"}, "model": {"type": "object"},
            "predictions": {"type": "array", "items": label},
            **({"probabilities": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
                "classes": {"type": "array"}} if model.labels is not None else {}),
            "warnings": {"type": "array", "items": {"type": "object"}}}},
        "MlflowResponse": {"type": "object", "properties": {"predictions": {"type": "array", "items": label}}},
        "InferRequest": {"type": "object", "required": ["inputs"], "properties": {
            "id": {"type": "string"}, "inputs": {"type": "array", "items": tensor},
            "outputs": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"enum": [output["name"] for output in v2_outputs(model)]}}}}}},
        "InferResponse": {"type": "object", "properties": {
            "model_name": {"type": "string"}, "model_version": {"type": "string"}, "id": {"type": "string"},
            "outputs": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"enum": [PREDICT, PREDICT_PROBA]}, "shape": {"type": "array"},
                "datatype": {"type": "string"}, "data": {"type": "array"}}}}}},
        "Error": error,
        "MlflowError": {"type": "object", "properties": {"error_code": {"type": "string"},
                                                         "message": {"type": "string"}}},
        "V2Error": {"type": "object", "properties": {"error": {"type": "string"}, "kind": {"type": "string"}}},
    }


def document(model: Any, model_name: str, token: bool) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the service serving ``model`` (a loaded version; None before one is)."""
    if model is None:
        return {"openapi": "3.1.0", "info": {"title": f"nbprod: {model_name}", "version": "none",
                                             "description": "no model loaded yet; see GET /ready"}, "paths": {}}
    shown = examples(model.contract)
    secured = {"security": [{"bearer": []}]} if token else {}
    v2 = f"/v2/models/{model.name}"
    paths = {
        "/predict": {"post": {"summary": "predict (nbprod): one record, a list, {\"records\": [...]}, MLflow's "
                                         "wrappers or CSV", **secured,
                              "requestBody": {"required": True, "content": _content("PredictRequest", shown["record"],
                                                                                    shown["csv"])},
                              "responses": _responses("PredictResponse", "Error", token)}},
        "/invocations": {"post": {"summary": "predict (MLflow scoring protocol)", **secured,
                                  "requestBody": {"required": True, "content": _content(
                                      "MlflowRequest", shown["dataframe_split"], shown["csv"])},
                                  "responses": _responses("MlflowResponse", "MlflowError", token)}},
        f"{v2}/infer": {"post": {"summary": "predict (Open Inference Protocol, KServe v2): one input per column",
                                 **secured, "requestBody": {"required": True, "content": _content(
                                     "InferRequest", shown["infer"])},
                                 "responses": {**_responses("InferResponse", "V2Error", token),
                                               "404": {"description": "another model name or version"}}}},
        "/health": _get("the process serves HTTP"),
        "/ready": _get("the loaded version (503 before one is)"),
        "/metrics": _get("Prometheus text exposition"),
        "/ping": _get("MLflow's health check: 200 once a model is loaded"),
        "/v2/health/live": _get("Open Inference Protocol: live"),
        "/v2/health/ready": _get("Open Inference Protocol: ready (503 before a model is loaded)"),
        v2: _get("Open Inference Protocol: model metadata (inputs from the contract)"),
        f"{v2}/ready": _get("Open Inference Protocol: model ready"),
        "/openapi.json": {"get": {**_get("this document")["get"], **secured}},
        "/docs": {"get": {**_get("this document as a page")["get"], **secured}},
    }
    components: dict[str, Any] = {"schemas": schemas(model)}
    if token:
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return {"openapi": "3.1.0",
            "info": {"title": f"nbprod: {model.name}", "version": str(model.version),
                     "description": f"Prediction service for models:/{model.name}/{model.version} ({model.task}): "
                                    f"{len(model.contract.columns)} input columns."},
            "x-model": model_info(model), "x-examples": shown, "paths": paths, "components": components}


# -- the page ---------------------------------------------------------------------------------------

STYLE = ("body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#222}"
         "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3em .5em;"
         "vertical-align:top;text-align:left}th{background:#f3f3f3}code,pre{font:13px ui-monospace,monospace}"
         "pre{background:#f6f6f6;padding:.7em;overflow:auto}small{color:#666}")


def _columns_table(record: dict[str, Any]) -> str:
    rows = []
    for name, schema in record["properties"].items():
        kind = schema["x-kind"]
        if kind == "categorical":
            categories = schema["x-categories"]
            more = f" <small>... and {len(categories) - PAGE_CATEGORIES} more</small>" \
                if len(categories) > PAGE_CATEGORIES else ""
            detail = ", ".join(f"<code>{html.escape(str(c))}</code>" for c in categories[:PAGE_CATEGORIES]) + more
        elif kind == "numeric" and "x-training-range" in schema:
            low, high = schema["x-training-range"]
            detail = f"seen in training: {low:g} to {high:g}"
        else:
            detail = html.escape(schema.get("format", ""))
        rows.append(f"<tr><td><code>{html.escape(name)}</code></td><td>{html.escape(kind)}</td>"
                    f"<td>{'yes' if schema['x-nullable'] else 'no'}</td><td>{detail}</td></tr>")
    return ("<table><tr><th>column</th><th>kind</th><th>null allowed</th><th>categories / range</th></tr>"
            + "".join(rows) + "</table>")


def _endpoints_table(paths: dict[str, Any]) -> str:
    rows = [f"<tr><td>{method.upper()}</td><td><code>{html.escape(path)}</code></td>"
            f"<td>{html.escape(operation['summary'])}</td></tr>"
            for path, item in paths.items() for method, operation in item.items()]
    return "<table><tr><th>method</th><th>path</th><th>what</th></tr>" + "".join(rows) + "</table>"


def _example(title: str, path: str, content_type: str, body: Any) -> str:
    text = body if isinstance(body, str) else json.dumps(body, indent=1)
    return (f"<h3>{html.escape(title)}</h3><pre>POST {html.escape(path)}\nContent-Type: {content_type}\n\n"
            f"{html.escape(text)}</pre>")


def docs_page(openapi: dict[str, Any]) -> str:
    """The document as a self-contained HTML page (no script, nothing loaded from anywhere)."""
    info = openapi["info"]
    head = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(info['title'])}</title>"
            f"<style>{STYLE}</style></head><body><h1>{html.escape(info['title'])} "
            f"<small>version {html.escape(info['version'])}</small></h1><p>{html.escape(info['description'])}</p>")
    if "x-model" not in openapi:
        return head + "</body></html>"
    model, shown = openapi["x-model"], openapi["x-examples"]
    classes = ""
    if "classes" in model:
        positive = (f"; positive class <code>{html.escape(json.dumps(model['positive_class']))}</code> at threshold "
                    f"{model['threshold']:g}" if "positive_class" in model else "")
        classes = (f"<p>Classes (the order of probabilities): <code>{html.escape(json.dumps(model['classes']))}</code>"
                   f"{positive}</p>")
    secured = "components" in openapi and "securitySchemes" in openapi["components"]
    infer = next(path for path in openapi["paths"] if path.endswith("/infer"))
    parts = [head, classes,
             "<p>The machine-readable description: <a href=\"openapi.json\">openapi.json</a>"
             + (" &middot; predictions need <code>Authorization: Bearer &lt;token&gt;</code>" if secured else "")
             + "</p>",
             "<h2>Input columns</h2>", _columns_table(openapi["components"]["schemas"]["Record"]),
             "<p><small>Every column is required in every record; other keys are ignored (and reported). "
             "A category not seen in training is scored as missing, with a warning.</small></p>",
             "<h2>Endpoints</h2>", _endpoints_table(openapi["paths"]), "<h2>Examples</h2>",
             _example("nbprod: one record (or a list, or {\"records\": [...]})", "/predict", "application/json",
                      shown["record"]),
             _example("MLflow: dataframe_split (also dataframe_records, instances, inputs)", "/invocations",
                      "application/json", shown["dataframe_split"]),
             _example("CSV (on /predict and /invocations)", "/invocations", "text/csv", shown["csv"]),
             _example("Open Inference Protocol (KServe v2)", infer, "application/json", shown["infer"]),
             "</body></html>"]
    return "".join(parts)
