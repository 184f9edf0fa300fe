"""Standard protocols over real HTTP: MLflow's scoring protocol, the Open Inference Protocol (KServe v2),
the OpenAPI document and docs page; every answer compared with ``nbprod score`` on the same rows.

One server (the module's shared one) serves version 1 (a binary model on 0/1 labels); at the end the
alias moves to a version with another contract and text labels in three classes (the rows of
``shaped_models``), and every protocol, the document and the page follow it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import MODEL_NAME, http, register_labelled
from shaped_models import shaped_rows

pytestmark = pytest.mark.slow


# -- helpers ----------------------------------------------------------------------------------------

def scored(model, frame: pd.DataFrame, folder) -> tuple[list, np.ndarray]:
    """``nbprod score`` (:func:`nbprod.serving.batch.score_file`) of ``frame`` written as CSV: its
    predictions and class probabilities, in the model's class order."""
    from nbprod.serving.batch import probability_columns, score_file

    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "rows.csv", index=False)
    summary = score_file(model, folder / "rows.csv", folder / "scored.parquet")
    assert summary.rows_scored == len(frame), summary.text()
    out = pd.read_parquet(folder / "scored.parquet")
    if model.labels.binary:
        positive = out["probability"].to_numpy()
        probabilities = np.column_stack([1 - positive, positive])
        if model.labels.positive_index == 0:
            probabilities = probabilities[:, ::-1]
    else:
        probabilities = out[probability_columns(model.labels)].to_numpy()
    return out["prediction"].tolist(), probabilities


def bodies(frame: pd.DataFrame) -> dict[str, object]:
    """One JSON body per accepted shape, all holding the rows of ``frame`` (text date-times)."""
    records = json.loads(frame.to_json(orient="records", date_format="iso"))
    split = json.loads(frame.to_json(orient="split", index=False, date_format="iso"))
    columns = {name: [record[name] for record in records] for name in frame.columns}
    return {"dataframe_split": {"dataframe_split": split},
            "dataframe_records": {"dataframe_records": records},
            "instances (records)": {"instances": records},
            "instances (columns)": {"instances": columns},
            "inputs (columns)": {"inputs": columns},
            "inputs (records) with params": {"inputs": records, "params": {"ignored": 1}},
            "records (nbprod)": {"records": records},
            "list (nbprod)": records}


def csv_body(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S").encode()


def infer_body(model, frame: pd.DataFrame, nested: bool = False) -> dict:
    """An Open Inference Protocol request: one input per contract column."""
    from nbprod.serving.protocols import V2_INPUT_TYPES

    records = json.loads(frame.to_json(orient="records", date_format="iso"))
    inputs = []
    for spec in model.contract.columns:
        data = [record[spec.name] for record in records]
        inputs.append({"name": spec.name, "datatype": V2_INPUT_TYPES[spec.kind],
                       "shape": [len(data), 1] if nested else [len(data)],
                       "data": [[value] for value in data] if nested else data})
    return {"id": "infer-1", "inputs": inputs}


def post(server, path: str, body, content_type: str = "application/json"):
    return http("POST", server.url + path, body, {"Content-Type": content_type})


def assert_same_answers(server, model, frame: pd.DataFrame, expected: tuple[list, np.ndarray]) -> None:
    """Every protocol's answer for the rows of ``frame`` equals ``nbprod score``'s."""
    labels, probabilities = expected
    for name, body in bodies(frame).items():
        status, _, got = post(server, "/invocations", body)
        assert status == 200 and got == {"predictions": labels}, (name, got)
        status, _, got = post(server, "/predict", body)
        assert status == 200 and got["predictions"] == labels, (name, got)
        np.testing.assert_allclose(got["probabilities"], probabilities, rtol=1e-9, err_msg=name)
    for path in ("/invocations", "/predict"):
        status, _, got = post(server, path, csv_body(frame), "text/csv")
        assert status == 200 and got["predictions"] == labels, (path, got)
    for nested in (False, True):
        status, _, got = post(server, f"/v2/models/{MODEL_NAME}/infer", infer_body(model, frame, nested))
        assert status == 200, got
        predict, proba = got["outputs"]
        assert (got["model_name"], got["model_version"], got["id"]) == (MODEL_NAME, model.version, "infer-1")
        assert predict["name"] == "predict" and predict["data"] == labels and predict["shape"] == [len(frame)]
        assert proba["name"] == "predict_proba" and proba["shape"] == [len(frame), len(model.labels.classes)]
        np.testing.assert_allclose(np.reshape(proba["data"], proba["shape"]), probabilities, rtol=1e-9)


@pytest.fixture(scope="module")
def champion(project):
    """Version 1, loaded in the test process the way the service and ``nbprod score`` load it."""
    from nbprod.serving.model_source import load_version

    return load_version(project.tracking_uri, MODEL_NAME, project.versions[0])


@pytest.fixture(scope="module")
def rows(good_records) -> pd.DataFrame:
    """20 real rows the model did not see (date-times as text)."""
    return pd.DataFrame(good_records)


@pytest.fixture(scope="module")
def expected(champion, rows, tmp_path_factory):
    return scored(champion, rows, tmp_path_factory.mktemp("score-v1"))


@pytest.fixture(scope="module")
def serving_example(project, champion, tmp_path_factory) -> dict:
    """The ``serving_input_example.json`` MLflow wrote next to version 1 when nbprod logged it."""
    import mlflow.artifacts

    from nbprod.tracking import set_uri

    set_uri(project.tracking_uri)
    folder = mlflow.artifacts.download_artifacts(f"models:/{MODEL_NAME}/{project.versions[0]}",
                                                 dst_path=str(tmp_path_factory.mktemp("model-v1")))
    return json.loads((Path(folder) / "serving_input_example.json").read_text())


# -- MLflow's scoring protocol ----------------------------------------------------------------------

def test_every_mlflow_and_nbprod_shape_and_csv_and_v2_agree_with_nbprod_score(server, champion, rows, expected):
    assert_same_answers(server, champion, rows, expected)


def test_the_models_own_serving_input_example_is_answered_with_its_predictions(server, champion, serving_example,
                                                                                tmp_path):
    assert list(serving_example) == ["dataframe_split"]
    split = serving_example["dataframe_split"]
    labels, probabilities = scored(champion, pd.DataFrame(split["data"], columns=split["columns"]), tmp_path)
    status, _, got = post(server, "/invocations", serving_example)
    assert status == 200 and got == {"predictions": labels}, got
    status, _, got = post(server, "/predict", serving_example)
    assert status == 200 and got["predictions"] == labels and got["warnings"] == []
    np.testing.assert_allclose(got["probabilities"], probabilities, rtol=1e-9)


@pytest.mark.parametrize("body, text", [
    ({"dataframe": {"columns": ["a"], "data": [[1]]}}, "unknown key(s) ['dataframe']"),
    ({"dataframe_split": {"columns": ["a"], "data": [[1]]}, "inputs": []}, "send exactly one of them"),
    ({"dataframe_split": {"columns": ["carrier", "dest"], "data": [["UA"]]}}, "row 0 must be a list of 2 values"),
    ({"dataframe_split": [["UA"]]}, "must be an object with 'columns'"),
    ({"inputs": {"carrier": ["UA", "AA"], "dest": ["IAH"]}}, "one list per column, all of one length"),
    ({"dataframe_records": [{}], "extra": 1}, "takes no other key than 'params'"),
    ({"instances": "UA"}, "must hold a list of objects or an object of columns"),
], ids=["unknown wrapper", "two wrappers", "short row", "split not an object", "ragged columns", "extra key",
        "instances not a list"])
def test_a_body_of_unknown_shape_is_a_400_naming_what_is_accepted(server, body, text):
    status, _, got = post(server, "/predict", body)
    assert status == 400 and got["error"]["kind"] == "bad_shape" and text in got["error"]["message"], got
    if "unknown" in text:
        for key in ("'dataframe_split'", "'dataframe_records'", "'instances'", "'inputs'", "'records'"):
            assert key in got["error"]["message"]
    status, _, got = post(server, "/invocations", body)
    assert status == 400 and got["error_code"] == "BAD_REQUEST" and text in got["message"], got


def test_invocations_errors_have_mlflows_shape_and_ping_answers(server, good_records):
    record = {key: value for key, value in good_records[0].items() if key != "origin"}
    status, _, got = post(server, "/invocations", {"dataframe_records": [good_records[1], record]})
    assert status == 422 and got["error_code"] == "BAD_REQUEST"
    assert "record 1: required column 'origin' is missing" in got["message"]
    assert got["error"]["details"][0] == {**got["error"]["details"][0], "record": 1, "column": "origin"}
    status, _, got = post(server, "/invocations", b"carrier,origin\nUA,\"EWR\n", "text/csv")
    assert status == 400 and got["error"]["kind"] == "malformed_csv", got
    status, _, got = post(server, "/invocations", b"", "text/csv")
    assert status == 400 and "empty" in got["message"]
    status, _, got = post(server, "/predict", b"carrier,origin,dest,distance,sched_dep_time,time_hour\n", "text/csv")
    assert status == 422 and got["error"]["kind"] == "empty_input"
    csv = "carrier,origin,dest,distance,sched_dep_time,time_hour\nUA,EWR,IAH,far,515,2013-01-01T05:00:00\n"
    status, _, got = post(server, "/predict", csv.encode(), "text/csv")
    assert status == 422 and "column 'distance': expected a number, got str 'far'" in got["error"]["message"]
    assert http("GET", server.url + "/invocations")[0] == 405
    status, _, text = http("GET", server.url + "/ping")
    assert status == 200


# -- the Open Inference Protocol --------------------------------------------------------------------

def test_v2_health_server_and_model_metadata_come_from_the_contract(server, champion):
    assert http("GET", server.url + "/v2/health/live")[2] == {"live": True}
    assert http("GET", server.url + "/v2/health/ready")[2] == {"ready": True}
    assert http("GET", server.url + "/v2")[2]["name"] == "nbprod"
    status, _, metadata = http("GET", server.url + f"/v2/models/{MODEL_NAME}")
    assert status == 200 and metadata["name"] == MODEL_NAME and metadata["versions"] == ["1"]
    kinds = {"numeric": "FP64", "categorical": "BYTES", "datetime": "BYTES"}
    assert metadata["inputs"] == [{"name": spec.name, "datatype": kinds[spec.kind], "shape": [-1]}
                                  for spec in champion.contract.columns]
    assert metadata["outputs"] == [{"name": "predict", "datatype": "INT64", "shape": [-1]},
                                   {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 2]}]
    assert http("GET", server.url + f"/v2/models/{MODEL_NAME}/versions/1")[2] == metadata
    assert http("GET", server.url + f"/v2/models/{MODEL_NAME}/ready")[2] == {"name": MODEL_NAME, "ready": True}


def test_v2_infer_selects_outputs_and_answers_errors_in_its_shape(server, champion, rows, expected):
    body = {**infer_body(champion, rows.head(3)), "outputs": [{"name": "predict"}]}
    status, _, got = post(server, f"/v2/models/{MODEL_NAME}/versions/1/infer", body)
    assert status == 200 and [output["name"] for output in got["outputs"]] == ["predict"]
    assert got["outputs"][0]["data"] == expected[0][:3] and got["outputs"][0]["datatype"] == "INT64"
    for path, status_code, text in [("/v2/models/other/infer", 404, "unknown model 'other'"),
                                    (f"/v2/models/{MODEL_NAME}/versions/9/infer", 404, "version '9' is not loaded"),
                                    ("/v2/models/other", 404, "unknown model")]:
        status, _, got = post(server, path, body) if path.endswith("infer") else http("GET", server.url + path)
        assert status == status_code and text in got["error"], got
    broken = infer_body(champion, rows.head(2))
    cases = [({**body, "outputs": [{"name": "scores"}]}, 400, "unknown output(s) ['scores']"),
             ({"inputs": []}, 400, "non-empty list"),
             ({"inputs": [{**broken["inputs"][0], "shape": [3]}]}, 400, "does not match its data"),
             ({"inputs": [{**broken["inputs"][0], "shape": [2, 2]}]}, 400, "a tabular input is one column"),
             ({"inputs": [{**broken["inputs"][0], "datatype": "STRING"}]}, 400, "is not one of"),
             ({"inputs": [broken["inputs"][0], broken["inputs"][0]]}, 400, "given twice"),
             ({"inputs": [broken["inputs"][0], {**broken["inputs"][1], "shape": [1], "data": ["JFK"]}]}, 400,
              "one length"),
             ({"inputs": broken["inputs"][1:]}, 422, "required column 'carrier' is missing")]
    for request, status_code, text in cases:
        status, _, got = post(server, f"/v2/models/{MODEL_NAME}/infer", request)
        assert status == status_code and text in got["error"], (request, got)
        assert set(got) <= {"error", "kind", "details"}
    assert post(server, f"/v2/models/{MODEL_NAME}/infer", {"inputs": broken["inputs"][1:]})[2]["details"][0][
        "column"] == "carrier"


# -- OpenAPI and the docs page ----------------------------------------------------------------------

def check_document(server, model) -> dict:
    """``/openapi.json`` and ``/docs`` describe ``model``'s contract; returns the document."""
    status, _, document = http("GET", server.url + "/openapi.json")
    assert status == 200 and document["openapi"].startswith("3.1") and document["info"]["version"] == model.version
    record = document["components"]["schemas"]["Record"]
    assert list(record["properties"]) == record["required"] == model.contract.names
    kinds = {"numeric": "number", "categorical": "string", "datetime": "string"}
    for spec in model.contract.columns:
        schema = record["properties"][spec.name]
        assert schema["type"] == ([kinds[spec.kind], "null"] if spec.nullable else kinds[spec.kind])
        assert schema.get("x-categories") == (list(spec.categories) if spec.kind == "categorical" else None)
    assert f"/v2/models/{MODEL_NAME}/infer" in document["paths"] and "/invocations" in document["paths"]
    assert document["x-model"]["classes"] == list(model.labels.classes)
    example = document["x-examples"]["dataframe_split"]
    status, _, got = post(server, "/invocations", example)
    assert status == 200 and len(got["predictions"]) == 1  # the documented example is answered
    status, headers, page = http("GET", server.url + "/docs")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "<script" not in page and "<link" not in page and "http://" not in page and "https://" not in page
    assert all(f"<code>{name}</code>" in page for name in model.contract.names)
    assert f"version {model.version}" in page
    return document


def test_openapi_and_docs_describe_the_loaded_contract(server, champion):
    document = check_document(server, champion)
    assert "security" not in document["paths"]["/predict"]["post"]  # no token configured


# -- another version, another contract, text labels in three classes --------------------------------

@pytest.fixture(scope="module")
def three_classes(project, server, tmp_path_factory):
    """Version 3: three text classes on the columns x, z, c (``shaped_models``), served; the alias goes back
    to version 1 afterwards."""
    import mlflow

    frame = shaped_rows(600)
    version = register_labelled(project.path, project.settings, MODEL_NAME, frame[["x", "z", "c"]], frame["level"])
    mlflow.set_tracking_uri(None)
    try:
        wait_for_version(server, version)
        from nbprod.serving.model_source import load_version

        yield load_version(project.tracking_uri, MODEL_NAME, version)
    finally:
        project.move_alias(project.versions[0])
        wait_for_version(server, project.versions[0])


def wait_for_version(server, version: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if http("GET", server.url + "/ready")[2]["model"]["version"] == version:
            return
        time.sleep(0.2)
    raise TimeoutError(f"the server did not load version {version} in {timeout} s")


def test_a_new_version_with_another_contract_changes_document_page_and_protocols(server, champion, three_classes,
                                                                                 tmp_path):
    document = check_document(server, three_classes)
    assert list(document["components"]["schemas"]["Record"]["properties"]) == ["x", "z", "c"]
    assert document["x-model"]["classes"] == ["high", "low", "mid"] and "positive_class" not in document["x-model"]
    metadata = http("GET", server.url + f"/v2/models/{MODEL_NAME}")[2]
    assert [tensor["name"] for tensor in metadata["inputs"]] == ["x", "z", "c"]
    assert metadata["outputs"][0]["datatype"] == "BYTES" and metadata["outputs"][1]["shape"] == [-1, 3]
    frame = shaped_rows(30, seed=1)[["x", "z", "c"]]
    expected = scored(three_classes, frame, tmp_path)
    assert set(expected[0]) == {"high", "low", "mid"}
    assert_same_answers(server, three_classes, frame, expected)
