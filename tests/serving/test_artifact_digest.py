"""A registered model whose files changed since registration is refused, never loaded.

The gate (:meth:`nbprod.registry.client.Registry.register`) records the digest of the version's
model folder; the service, the monitor (``Registry.load``) and the dashboards check it first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import Project, Server, http, trusted_types
from shaped_models import registry_at_tracking_store, yes_no_model

NAME = "digest-model"


def register(project: Project) -> tuple[str, str, str]:
    """Log the Yes/No model in the serving tests' store and register it as :data:`NAME` through nbprod's registry
    (which records the digest); return the version, the logged model's id and the run's."""
    import mlflow
    from mlflow.models import infer_signature

    from nbprod import tracking
    from nbprod.registry.client import Registry
    from nbprod.registry.digest import logged_model_location, uri_digest
    from nbprod.tracking.tags import ARTIFACT_DIGEST
    from shaped_models import shaped_rows

    model = yes_no_model()
    tracking.configure(project.settings, project.path)
    example = shaped_rows(5)[["x", "z", "c"]]
    with mlflow.start_run(run_name="digest-candidate") as run:
        info = mlflow.sklearn.log_model(model, name="model", input_example=example, pip_requirements=["nbprod"],
                                        signature=infer_signature(example, model.predict_proba(example)),
                                        skops_trusted_types=trusted_types(model))
        client = mlflow.MlflowClient()  # as training does for each candidate
        mlflow.set_tag(ARTIFACT_DIGEST, uri_digest(logged_model_location(client, info.model_id)))
    with registry_at_tracking_store():
        registry = Registry(NAME, project.tracking_uri)
        version = registry.register(info.model_uri, run.info.run_id, {"nbprod.task": "classification"})
        registry.set_alias(project.settings["registry"]["alias"], version)
    mlflow.set_tracking_uri(None)
    return version, info.model_id, run.info.run_id


@pytest.fixture(scope="module")
def store(project) -> Project:
    """The serving tests' store (shared, session scope) with one more registered model, :data:`NAME`."""
    version, model_id, run_id = register(project)
    return Project(project.path, {**project.settings, "model_id": model_id, "run_id": run_id}, [version])


def model_file(store: Project) -> Path:
    """The registered version's serialized model (skops or pickle) in the artifact store."""
    found = [path for path in (store.path / "mlartifacts").rglob("model.*")
             if path.suffix in (".skops", ".pkl") and store.settings["model_id"] in path.parts]
    assert len(found) == 1, found
    return found[0]


def flip_a_byte(path: Path) -> bytes:
    original = path.read_bytes()
    middle = len(original) // 2
    path.write_bytes(original[:middle] + bytes([original[middle] ^ 0x01]) + original[middle + 1:])
    return original


def test_registration_records_the_digest_and_the_intact_version_loads(store):
    from nbprod.dashboards.model_data import load_model
    from nbprod.registry.digest import load_verified
    from nbprod.tracking import client_for
    from nbprod.tracking.tags import ARTIFACT_DIGEST

    client = client_for(store.tracking_uri)
    tags = client.get_model_version(NAME, store.versions[0]).tags
    assert tags[ARTIFACT_DIGEST].startswith("sha256:") and len(tags[ARTIFACT_DIGEST]) == 71
    model = load_verified(client, NAME, store.versions[0])
    assert list(model.classes_) == ["No", "Yes"]
    candidate = load_model(f"runs:/{store.settings['run_id']}/model", lambda: client)  # as the dashboards do
    assert list(candidate.classes_) == ["No", "Yes"]


@pytest.mark.slow
def test_the_service_refuses_a_tampered_model_and_says_so_on_ready(store, tmp_path):
    from nbprod.dashboards.model_data import load_model
    from nbprod.registry.client import Registry
    from nbprod.registry.digest import ArtifactRefused
    from nbprod.tracking import client_for

    original = flip_a_byte(model_file(store))
    try:
        with pytest.raises(ArtifactRefused, match="refused: its files do not match the digest"):
            Registry(NAME, store.tracking_uri).load(store.versions[0])  # the gate's and the monitor's loader
        with pytest.raises(ArtifactRefused, match="refused: its files do not match the digest"):
            load_model(f"runs:/{store.settings['run_id']}/model", lambda: client_for(store.tracking_uri))  # dashboards
        server = Server(store, tmp_path / "predictions", args=["--set", f"registry.model_name={NAME}"])
        try:
            status, body = 0, {}
            for _ in range(300):
                try:
                    status, _, body = http("GET", server.url + "/ready", timeout=2)
                except OSError:
                    status, body = 0, {}
                if status == 503 and (body.get("error") or ""):
                    break
                assert server.process.poll() is None, server.output.read_text()
                __import__("time").sleep(0.2)
            assert status == 503 and body["status"] == "loading"
            assert "ArtifactRefused" in body["error"], body  # a one-line reason: the error's kind, no path
            status, _, body = http("POST", server.url + "/predict", {"records": [{"x": 1.0, "z": 0.0, "c": "a"}]})
            assert status == 503  # nothing was loaded
        finally:
            server.stop()
    finally:
        model_file(store).write_bytes(original)
