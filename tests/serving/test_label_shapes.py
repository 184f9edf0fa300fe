"""Text-labelled and three-class models through the service, batch scoring and the prediction log."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import THREE_CLASSES, YES_NO, Server, http, shaped_labels

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def loaded(shaped_project):
    """Both models, loaded the way the service loads them."""
    from nbprod.serving.model_source import load_version

    return {name: load_version(shaped_project.tracking_uri, name, "1") for name in (YES_NO, THREE_CLASSES)}


@pytest.fixture(scope="module")
def rows():
    """200 real rows the models did not see, and their true labels."""
    X, yes_no, arrival = shaped_labels(200, skip=6000)
    return X, yes_no, arrival


def records(X: pd.DataFrame) -> list[dict]:
    return X.assign(time_hour=X["time_hour"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_dict("records")


def test_loaded_models_know_their_classes_and_positive_class(loaded):
    yes_no, three = loaded[YES_NO].labels, loaded[THREE_CLASSES].labels
    assert yes_no.classes == ("No", "Yes") and yes_no.positive == "Yes" and yes_no.binary
    assert three.classes == ("early", "late", "on time") and three.positive is None and not three.binary


@pytest.mark.parametrize("name", [YES_NO, THREE_CLASSES])
def test_category_codes_path_predicts_the_same_labels_as_the_pipeline(loaded, rows, name):
    from nbprod.serving.validation import validate_frame

    model = loaded[name]
    assert model.encoded is not None  # the warm-up kept the fast path: it agreed with the pipeline
    clean, reasons, _ = validate_frame(rows[0], model.contract)
    assert reasons.isna().all()
    columns = {column: clean[column].tolist() for column in model.contract.names}
    fast, full = model.predict_columns(columns), model.predict(clean)
    np.testing.assert_array_equal(fast[0], full[0])
    np.testing.assert_allclose(fast[1], full[1], rtol=1e-12)
    assert set(full[0]) <= set(model.labels.classes)


def test_binary_prediction_is_the_positive_class_at_the_threshold(loaded, rows):
    model = loaded[YES_NO]
    predictions, probabilities = model.predict(rows[0])
    assert model.threshold == 0.4
    expected = np.where(probabilities[:, 1] >= 0.4, "Yes", "No")  # column 1 is "Yes" in classes_ order
    np.testing.assert_array_equal(predictions, expected)
    three = loaded[THREE_CLASSES]
    predictions, probabilities = three.predict(rows[0])
    np.testing.assert_array_equal(predictions, np.asarray(three.labels.classes)[probabilities.argmax(axis=1)])


@pytest.fixture(scope="module")
def servers(shaped_project, tmp_path_factory):
    """One server per model, each with its own prediction log."""
    folder = tmp_path_factory.mktemp("shaped-servers")
    started = {name: Server(shaped_project, folder / name, args=("--set", f"registry.model_name={name}"))
               for name in (YES_NO, THREE_CLASSES)}
    try:
        for server in started.values():
            server.wait_ready()
        yield started
    finally:
        for server in started.values():
            server.stop()


def test_ready_names_the_classes_and_the_positive_class(servers):
    _, _, yes_no = http("GET", servers[YES_NO].url + "/ready")
    assert yes_no["model"]["classes"] == ["No", "Yes"] and yes_no["model"]["positive_class"] == "Yes"
    assert yes_no["model"]["threshold"] == 0.4
    _, _, three = http("GET", servers[THREE_CLASSES].url + "/ready")
    assert three["model"]["classes"] == ["early", "late", "on time"] and "positive_class" not in three["model"]


@pytest.mark.parametrize("name", [YES_NO, THREE_CLASSES])
def test_service_answers_with_labels_in_the_models_class_order(servers, loaded, rows, name):
    from nbprod.serving.prediction_log import read_prediction_log

    sent = records(rows[0].head(30))
    status, _, body = http("POST", servers[name].url + "/predict", sent, {"X-Request-ID": f"shapes-{name}"})
    assert status == 200, body
    model = loaded[name]
    expected_predictions, expected_probabilities = model.predict(rows[0].head(30))
    assert body["predictions"] == expected_predictions.tolist()
    assert body["classes"] == list(model.labels.classes)
    np.testing.assert_allclose(body["probabilities"], expected_probabilities, rtol=1e-9)
    assert ("threshold" in body) == model.labels.binary == ("positive_class" in body)
    servers[name].stop()  # graceful: the log is flushed
    log = read_prediction_log(servers[name].log_folder)
    log = log[log["client_request_id"] == f"shapes-{name}"].sort_values("row")
    assert set(log["request_id"]) == {body["request_id"]}
    assert log["prediction"].tolist() == expected_predictions.tolist()
    assert (log["classes"] == model.labels.to_json()).all()
    np.testing.assert_allclose(np.stack(log["probabilities"].to_numpy()), expected_probabilities, rtol=1e-12)
    if model.labels.binary:
        np.testing.assert_allclose(log["probability"], expected_probabilities[:, 1], rtol=1e-12)
        assert (log["positive_class"] == "Yes").all()
    else:
        np.testing.assert_allclose(log["probability"], expected_probabilities.max(axis=1), rtol=1e-12)
        assert log["positive_class"].isna().all()


@pytest.mark.parametrize("name", [YES_NO, THREE_CLASSES])
def test_score_command_writes_labels_and_probability_columns(shaped_project, loaded, rows, name, tmp_path):
    source = tmp_path / "rows.csv"
    rows[0].head(50).to_csv(source, index=False)
    output = tmp_path / "scored.parquet"
    done = subprocess.run([sys.executable, "-m", "nbprod.serving", "score", "--project", str(shaped_project.path),
                           "--set", f"registry.model_name={name}", str(source), str(output)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    scored = pd.read_parquet(output)
    model = loaded[name]
    predictions, probabilities = model.predict(rows[0].head(50))
    per_class = [] if model.labels.binary else ["probability_early", "probability_late", "probability_on time"]
    assert list(scored.columns) == [*model.contract.names, "prediction", "probability", *per_class]
    assert scored["prediction"].tolist() == predictions.tolist()
    if model.labels.binary:
        np.testing.assert_allclose(scored["probability"], probabilities[:, 1], rtol=1e-9)
    else:
        np.testing.assert_allclose(scored[per_class].to_numpy(), probabilities, rtol=1e-9)
        np.testing.assert_allclose(scored["probability"], probabilities.max(axis=1), rtol=1e-9)
