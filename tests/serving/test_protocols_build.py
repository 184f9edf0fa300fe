"""The champion of the suite's shared sample build (the real pipeline, 22 raw columns) answers the
``serving_input_example.json`` MLflow logged next to it, through the application in process, as
``nbprod score`` scores the same rows."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from shaped_models import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def champion_and_example(sample_build, tmp_path_factory):
    """The build's champion, loaded as the service loads it, and its logged serving example."""
    import mlflow.artifacts

    from nbprod.serving.model_source import client_for, load_version
    from nbprod.tracking import tracking_uri

    project, settings, _ = sample_build
    uri = tracking_uri(settings, project)
    name, alias = settings["registry"]["model_name"], settings["registry"]["alias"]
    version = str(client_for(uri).get_model_version_by_alias(name, alias).version)
    model = load_version(uri, name, version)
    folder = mlflow.artifacts.download_artifacts(f"models:/{name}/{version}",
                                                 dst_path=str(tmp_path_factory.mktemp("champion")))
    return model, json.loads((Path(folder) / "serving_input_example.json").read_text())


class SettingsOnly:
    """What :meth:`ServeConfig.from_project` reads of a project: the repository's default settings, no log."""

    settings = yaml.safe_load((REPO / "env.yaml").read_text())
    alias, prediction_log = "champion", None

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name

    def tracking_uri(self) -> str:
        return "sqlite:///unused.db"  # never opened: no watcher runs here


def asgi_post(model, path: str, body: bytes, content_type: str = "application/json") -> tuple[int, dict]:
    """POST ``body`` to the prediction service (the ASGI application, in process) serving ``model``."""
    from nbprod.serving.app import PredictionService, ServeConfig

    async def run() -> tuple[int, dict]:
        service = PredictionService(ServeConfig.from_project(SettingsOnly(model.name)))
        service.token, service.model = None, model
        service.batcher.start()  # the service's own batcher; no registry watcher
        sent: list[dict] = []
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)

        headers = [(b"content-type", content_type.encode()), (b"host", f"127.0.0.1:{service.config.port}".encode())]
        try:
            await service({"type": "http", "method": "POST", "path": path, "headers": headers}, receive, send)
        finally:
            await service.batcher.stop()
        return sent[0]["status"], json.loads(sent[1]["body"])

    return asyncio.run(run())


def test_the_builds_champion_answers_its_own_serving_example_as_nbprod_score_does(champion_and_example, tmp_path):
    from nbprod.serving.batch import score_file

    model, example = champion_and_example
    split = example["dataframe_split"]
    rows = pd.DataFrame(split["data"], columns=split["columns"])
    assert list(rows.columns) == model.contract.names and rows.isna().any().any()  # NaN: missing values
    rows.to_csv(tmp_path / "rows.csv", index=False)
    score_file(model, tmp_path / "rows.csv", tmp_path / "scored.parquet")
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    body = json.dumps(example).encode()  # NaN as MLflow writes it
    status, got = asgi_post(model, "/invocations", body)
    assert status == 200 and got == {"predictions": scored["prediction"].tolist()}, got
    status, got = asgi_post(model, "/predict", body)
    assert status == 200 and got["predictions"] == scored["prediction"].tolist()
    np.testing.assert_allclose(model.labels.positive_scores(np.asarray(got["probabilities"])), scored["probability"],
                               rtol=1e-9)
    status, got = asgi_post(model, "/invocations", (tmp_path / "rows.csv").read_bytes(), "text/csv")
    assert status == 200 and got == {"predictions": scored["prediction"].tolist()}, got
