"""The protocols' reading and answering, in process: bodies -> the records the validator takes, CSV read as
``nbprod score`` reads it, the token on every predicting endpoint, documents that follow the loaded model."""

from __future__ import annotations

import asyncio
import io
import json

import numpy as np
import pandas as pd
import pytest
import yaml

from shaped_models import REPO, shaped_rows, three_class_model, yes_no_model


def loaded(model, version: str = "1"):
    from nbprod.model.features import feature_contract
    from nbprod.serving.model_source import LoadedModel

    return LoadedModel("shapes", version, model, "classification", 0.5, feature_contract(model))


@pytest.fixture(scope="module")
def yes_no():
    return loaded(yes_no_model())


def test_every_json_shape_reads_as_the_same_records(yes_no):
    from nbprod.serving.protocols import parse_nbprod

    frame = shaped_rows(4)[["x", "z", "c"]]
    records = frame.to_dict("records")
    columns = frame.to_dict("list")
    shapes = [records, {"records": records}, {"dataframe_records": records},
              {"dataframe_split": {"columns": list(frame.columns), "data": frame.values.tolist(),
                                   "index": [0, 1, 2, 3]}},
              {"instances": records}, {"instances": columns}, {"inputs": columns}, {"inputs": records, "params": {}}]
    for shape in shapes:
        assert parse_nbprod("application/json", json.dumps(shape).encode(), yes_no, 10).records == records, shape
    one = parse_nbprod("application/json", json.dumps({"inputs": records[0]}).encode(), yes_no, 10).records
    assert one == records[:1]


def test_a_record_with_a_column_named_like_a_wrapper_is_still_a_record():
    from nbprod.serving.protocols import nbprod_records

    record = {"inputs": "a", "x": 1.0}
    assert nbprod_records(record, frozenset({"inputs", "x"})) == [record]
    misspelt = {"Carrier": "UA", "Dest": "IAH"}  # a record (scalars) of unknown columns: the validator names them
    assert nbprod_records(misspelt, frozenset({"carrier"})) == [misspelt]


def test_csv_cells_are_judged_as_nbprod_score_judges_them(yes_no):
    """Missing-value markers, numbers as text and bad numbers: the service's CSV records, validated, give
    what batch scoring's frame validation gives for the same file."""
    from nbprod.serving.batch import read_csv
    from nbprod.serving.protocols import csv_records
    from nbprod.serving.validation import RequestError, validate_frame

    model = loaded(three_class_model())  # c had no missing value in training: null is not allowed
    text = "x,z,c,note\n1.5,-2,a,first\n0,1e-3,b,\n-0.25,3,NA,third\n"
    records = csv_records(text.encode(), model.contract)
    assert records == [{"x": 1.5, "z": -2.0, "c": "a", "note": "first"},
                       {"x": 0.0, "z": 0.001, "c": "b", "note": None},
                       {"x": -0.25, "z": 3.0, "c": None, "note": "third"}]
    clean, reasons, _ = validate_frame(read_csv(io.StringIO(text)), model.contract)
    with pytest.raises(RequestError) as served:
        model.validator.check(records)
    assert reasons.tolist()[:2] == [None, None] and "'c': missing value not allowed" in reasons.iloc[2]
    assert "record 2, column 'c': missing value (null) not allowed" in served.value.message
    bad = csv_records(b"x,z,c\nfar,1_0,a\n", yes_no.contract)
    assert bad == [{"x": "far", "z": "1_0", "c": "a"}]  # left as text: the validator names them
    with pytest.raises(RequestError, match="column 'x': expected a number, got str 'far'"):
        yes_no.validator.check(bad)


def test_v2_inputs_of_shape_n_or_n_by_1_read_as_records(yes_no):
    from nbprod.serving.protocols import parse_v2

    inputs = [{"name": "x", "datatype": "FP64", "shape": [2, 1], "data": [[0.5], [1.5]]},
              {"name": "z", "datatype": "FP32", "shape": [2], "data": [1, 2]},
              {"name": "c", "datatype": "BYTES", "shape": [2], "data": ["a", "b"]}]
    parsed = parse_v2("application/json", json.dumps({"inputs": inputs, "id": "q"}).encode(), yes_no, 10)
    assert parsed.records == [{"x": 0.5, "z": 1, "c": "a"}, {"x": 1.5, "z": 2, "c": "b"}]
    assert parsed.context == {"outputs": None, "id": "q"}


# -- the ASGI application in process ---------------------------------------------------------------

class SettingsOnly:
    """What :meth:`ServeConfig.from_project` reads of a project: the repository's default settings, no log."""

    settings = yaml.safe_load((REPO / "env.yaml").read_text())
    model_name, alias, prediction_log = "shapes", "champion", None

    def tracking_uri(self) -> str:
        return "sqlite:///unused.db"  # never opened: no watcher runs here


def config(token: str | None):
    from nbprod.serving.app import ServeConfig

    served = ServeConfig.from_project(SettingsOnly())
    served.token = token  # whatever the environment holds
    return served


async def call(service, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    """One request through the ASGI application: ``(status, headers, body)``."""
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    defaults = {"content-type": "application/json", "host": f"127.0.0.1:{service.config.port}"}
    raw = [(key.lower().encode(), value.encode()) for key, value in {**defaults, **(headers or {})}.items()]
    await service({"type": "http", "method": method, "path": path, "headers": raw}, receive, send)
    return sent[0]["status"], dict(sent[0]["headers"]), sent[1]["body"]


def serve(token: str | None, scenario) -> None:
    """Run ``scenario(service)`` against a service with the micro-batcher started and no model yet."""
    from nbprod.serving.app import PredictionService

    async def run() -> None:
        service = PredictionService(config(token))
        service.batcher.start()  # the service's own batcher; no registry watcher
        try:
            await scenario(service)
        finally:
            await service.batcher.stop()

    asyncio.run(run())


def test_the_token_guards_every_predicting_endpoint_in_each_protocols_error_shape(yes_no):
    record = json.dumps({"inputs": [{"x": 0.1, "z": 0.2, "c": "a"}]}).encode()
    infer = json.dumps({"inputs": [{"name": "x", "datatype": "FP64", "shape": [1], "data": [0.1]},
                                   {"name": "z", "datatype": "FP64", "shape": [1], "data": [0.2]},
                                   {"name": "c", "datatype": "BYTES", "shape": [1], "data": ["a"]}]}).encode()

    async def scenario(service) -> None:
        assert (await call(service, "GET", "/v2/health/ready"))[0] == 503
        assert (await call(service, "GET", "/ping"))[0] == 503
        service.model = yes_no
        status, _, body = await call(service, "POST", "/invocations", record)
        assert status == 401 and json.loads(body)["error_code"] == "UNAUTHENTICATED"
        status, _, body = await call(service, "POST", "/v2/models/shapes/infer", infer)
        assert status == 401 and "bearer token" in json.loads(body)["error"]
        token = {"authorization": "Bearer s3cret"}
        status, _, body = await call(service, "POST", "/invocations", record, token)
        assert status == 200 and json.loads(body)["predictions"][0] in ("Yes", "No")
        status, _, body = await call(service, "POST", "/v2/models/shapes/infer", infer, token)
        assert status == 200 and json.loads(body)["outputs"][0]["datatype"] == "BYTES"
        document = json.loads((await call(service, "GET", "/openapi.json", b"", token))[2])
        assert document["paths"]["/invocations"]["post"]["security"] == [{"bearer": []}]
        assert "Authorization: Bearer" in (await call(service, "GET", "/docs", b"", token))[2].decode()
        metrics = (await call(service, "GET", "/metrics"))[2].decode()
        assert 'endpoint="/v2/models/{name}/infer",status="200"' in metrics
        assert 'endpoint="/invocations",status="401"' in metrics

    serve("s3cret", scenario)


def test_documents_follow_the_loaded_model(yes_no):
    three = loaded(three_class_model(), "2")

    async def scenario(service) -> None:
        empty = json.loads((await call(service, "GET", "/openapi.json"))[2])
        assert empty["paths"] == {} and "no model loaded" in empty["info"]["description"]
        service.model = yes_no
        first = json.loads((await call(service, "GET", "/openapi.json"))[2])
        page = (await call(service, "GET", "/docs"))[2].decode()
        assert first["x-model"]["positive_class"] == "Yes" and "positive class" in page
        service.model = three
        second = json.loads((await call(service, "GET", "/openapi.json"))[2])
        assert second["info"]["version"] == "2" and second["x-model"]["classes"] == ["high", "low", "mid"]
        assert (await call(service, "GET", "/docs"))[2].decode() != page
        status, _, body = await call(service, "POST", "/invocations", json.dumps(
            second["x-examples"]["dataframe_split"]).encode())
        predicted = json.loads(body)["predictions"]
        expected = three.predict(pd.DataFrame(second["x-examples"]["dataframe_split"]["dataframe_split"]["data"],
                                              columns=["x", "z", "c"]))[0]
        assert status == 200 and predicted == np.asarray(expected).tolist()

    serve(None, scenario)


def test_a_regressor_answers_numbers_in_every_protocol():
    from nbprod.model.features import FeatureBuilder, feature_contract
    from nbprod.model.models import Candidate, make_model
    from nbprod.serving.model_source import LoadedModel

    frame = shaped_rows(200)
    fitted = make_model(Candidate("hgb", "hist_gradient_boosting", {"max_iter": 10}), "regression", FeatureBuilder(),
                        seed=0).fit(frame[["x", "z", "c"]], frame["x"] + frame["z"])
    model = LoadedModel("shapes", "1", fitted, "regression", 0.5, feature_contract(fitted))
    rows = frame[["x", "z", "c"]].head(3)
    expected = model.predict(rows)[0].tolist()
    infer = {"inputs": [{"name": name, "datatype": "BYTES" if name == "c" else "FP64", "shape": [3],
                         "data": rows[name].tolist()} for name in rows.columns]}

    async def scenario(service) -> None:
        service.model = model
        status, _, body = await call(service, "POST", "/invocations", rows.to_csv(index=False).encode(),
                                     {"content-type": "text/csv"})
        assert status == 200 and json.loads(body)["predictions"] == pytest.approx(expected, rel=1e-12)
        status, _, body = await call(service, "POST", "/v2/models/shapes/infer", json.dumps(infer).encode())
        outputs = json.loads(body)["outputs"]
        assert status == 200 and [output["name"] for output in outputs] == ["predict"]
        assert outputs[0]["datatype"] == "FP64" and outputs[0]["data"] == pytest.approx(expected, rel=1e-12)
        document = json.loads((await call(service, "GET", "/openapi.json"))[2])
        page = (await call(service, "GET", "/docs"))[2].decode()
        assert "classes" not in document["x-model"] and "Classes" not in page
        metadata = json.loads((await call(service, "GET", "/v2/models/shapes"))[2])
        assert metadata["outputs"] == [{"name": "predict", "datatype": "FP64", "shape": [-1]}]

    serve(None, scenario)


def test_a_service_owns_its_batcher_and_a_request_before_its_startup_is_refused_not_left_waiting(yes_no):
    from nbprod.serving.app import PredictionService

    async def run() -> tuple[int, bytes, str]:
        service = PredictionService(config(None))
        service.model = yes_no
        metrics = service.metrics.render()
        status, _, body = await asyncio.wait_for(call(service, "POST", "/predict", json.dumps(
            {"inputs": [{"x": 0.1, "z": 0.2, "c": "a"}]}).encode()), 5)
        await service.shutdown()  # stopping a batcher that never started is fine
        return status, body, metrics

    status, body, metrics = asyncio.run(run())
    assert "nbprod_queued_rows 0" in metrics
    assert status == 500 and json.loads(body)["error"]["kind"] == "internal"


def test_a_csv_header_wider_than_the_bound_is_a_400_naming_its_width(yes_no, monkeypatch):
    """A 20,000-column header is refused before pandas reads it (seconds of work otherwise); a header of
    the model's columns and a few more is read."""
    import nbprod.serving.protocols as protocols
    from nbprod.serving.validation import RequestError

    wide = ",".join(["x", "z", "c", *(f"extra{n}" for n in range(20_000))]) + "\n" + "1,2,a" + ",0" * 20_000 + "\n"
    with pytest.raises(RequestError) as refused:
        protocols.csv_records(wide.encode(), yes_no.contract)
    assert refused.value.status == 400 and "20003 columns, more than the 1000 read" in refused.value.message
    monkeypatch.setattr(protocols, "MAX_CSV_COLUMNS", 2)  # the bound is at least twice the model's columns
    assert protocols.csv_records(b"x,z,c,note\n1,2,a,n\n", yes_no.contract) == [
        {"x": 1.0, "z": 2.0, "c": "a", "note": "n"}]
    with pytest.raises(RequestError, match="7 columns, more than the 6 read"):
        protocols.csv_records(b"x,z,c,a,b,d,e\n1,2,a,1,1,1,1\n", yes_no.contract)
