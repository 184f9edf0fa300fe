"""``nbprod mlflow-ui``: the MLflow UI on the store the settings name, a real server on loopback."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ..helpers import REPO


def project(folder: Path, uri: str = "sqlite:///store/mlflow.db") -> Path:
    """A project folder with the repository's pipeline and settings, its store at ``uri``."""
    folder.mkdir(parents=True)
    shutil.copy(REPO / "pipeline.yaml", folder / "pipeline.yaml")
    settings = (REPO / "env.yaml").read_text()
    assert "uri: sqlite:///mlflow.db" in settings
    (folder / "env.yaml").write_text(settings.replace("uri: sqlite:///mlflow.db", f"uri: {uri}", 1))
    return folder


def nbprod(*args: str) -> list[str]:
    return [sys.executable, "-m", "nbprod.cli", *args]


def environment(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MLFLOW_", "NBPROD_"))}
    return {**env, **extra}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str, deadline: float, process: subprocess.Popen) -> dict:
    """GET ``url`` until it answers (the server is starting) or ``deadline`` passes."""
    while True:
        assert process.poll() is None, process.stdout.read()
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_a_missing_store_is_an_error_and_is_not_created(tmp_path):
    folder = project(tmp_path / "p")
    done = subprocess.run(nbprod("mlflow-ui", "--project", str(folder)), env=environment(), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert f"no MLflow store at {folder / 'store' / 'mlflow.db'} yet" in done.stderr and "nbprod build" in done.stderr
    assert not (folder / "store").exists()


def test_a_tracking_server_is_named_not_served(tmp_path):
    folder = project(tmp_path / "p")
    done = subprocess.run(nbprod("mlflow-ui", "--project", str(folder)),
                          env=environment(MLFLOW_TRACKING_URI="http://tracking.example:5000"), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "open http://tracking.example:5000" in done.stdout


def test_a_bad_port_is_an_error(tmp_path):
    folder = project(tmp_path / "p")
    done = subprocess.run(nbprod("mlflow-ui", "--project", str(folder), "--port", "70000"), env=environment(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "argument --port: must be between 1 and 65535, got 70000" in done.stderr


@pytest.mark.slow
def test_serves_the_settings_store_on_loopback(tmp_path):
    from mlflow import MlflowClient

    folder = project(tmp_path / "p")
    (folder / "store").mkdir()
    MlflowClient(f"sqlite:///{folder / 'store' / 'mlflow.db'}").create_experiment("seen-by-the-ui")
    port = free_port()
    process = subprocess.Popen(nbprod("mlflow-ui", "--project", str(folder), "--port", str(port)),
                               env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        found = get_json(f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search?max_results=10",
                         time.monotonic() + 120, process)
        assert "seen-by-the-ui" in [experiment["name"] for experiment in found["experiments"]]
    finally:
        process.terminate()  # nbprod became the UI (exec): the signal reaches MLflow, which stops its server
        process.wait(timeout=30)
    deadline = time.monotonic() + 20
    while port_open(port) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not port_open(port), "the UI's server outlived the command"


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_mlflows_job_runner_is_off_unless_asked_for():
    from nbprod.tracking.command import JOBS_ENV, ui_environment

    assert ui_environment({"PATH": "/bin"}) == {"PATH": "/bin", JOBS_ENV: "false"}
    assert ui_environment({JOBS_ENV: "true"})[JOBS_ENV] == "true"


def test_auth_without_an_admin_password_the_first_time_is_an_error(tmp_path, monkeypatch, capsys):
    from nbprod.cli import main

    folder = project(tmp_path / "p")
    (folder / "store").mkdir()
    (folder / "store" / "mlflow.db").touch()  # a store (the command stops before MLflow reads it)
    for name in [key for key in os.environ if key.startswith(("MLFLOW_", "NBPROD_"))]:
        monkeypatch.delenv(name)
    assert main(["mlflow-ui", "--project", str(folder), "--auth"]) == 2
    assert "--auth needs the admin's password the first time: set MLFLOW_AUTH_ADMIN_PASSWORD" in capsys.readouterr().err
    assert not (folder / "mlflow-auth.db").exists()


def test_the_auth_configuration_gives_viewers_read_and_holds_no_password(tmp_path):
    from nbprod.tracking.command import AUTH_CONFIG_ENV, SECRET_KEY_ENV, prepare_auth, ui_command, ui_environment

    path = prepare_auth(tmp_path / "users" / "auth.db", {"MLFLOW_AUTH_ADMIN_PASSWORD": "secret-pw"})
    text = path.read_text()
    assert "default_permission = READ" in text and f"sqlite:///{tmp_path / 'users' / 'auth.db'}" in text
    assert "secret-pw" not in text
    env = ui_environment({}, path)
    assert env[AUTH_CONFIG_ENV] == str(path) and len(env[SECRET_KEY_ENV]) == 64
    assert ui_command("sqlite:///x.db", 5001, python="py", auth=True)[2:4] == ["mlflow", "server"]
    assert ui_command("sqlite:///x.db", 5001, python="py", auth=True)[-2:] == ["--app-name", "basic-auth"]


def call(url: str, user: tuple[str, str] | None, body: dict | None = None) -> tuple[int, dict]:
    """An MLflow REST call as ``user`` (basic auth): (status, JSON answer or {})."""
    import base64

    headers = {"Content-Type": "application/json"}
    if user:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(user).encode()).decode()
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, {}
    except (urllib.error.URLError, OSError):  # not listening yet
        return 0, {}


@pytest.mark.slow
def test_with_auth_a_viewer_cannot_move_the_alias_and_the_admin_can(tmp_path):
    from mlflow import MlflowClient

    folder = project(tmp_path / "p")
    (folder / "store").mkdir()
    store = f"sqlite:///{folder / 'store' / 'mlflow.db'}"
    client = MlflowClient(store, registry_uri=store)  # MLflow's registry URI, when set, would win over the store
    client.create_registered_model("nbprod-model")
    for version in (1, 2):
        client.create_model_version("nbprod-model", source=str(tmp_path / f"model-{version}"))
    client.set_registered_model_alias("nbprod-model", "champion", "1")
    port = free_port()
    admin = ("admin", "admin-password-for-the-test")
    process = subprocess.Popen(nbprod("mlflow-ui", "--project", str(folder), "--port", str(port), "--auth"),
                               env=environment(MLFLOW_AUTH_ADMIN_PASSWORD=admin[1]), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}/api/2.0/mlflow"
    move = {"name": "nbprod-model", "alias": "champion", "version": "2"}
    try:
        deadline = time.monotonic() + 120
        while call(f"{base}/users/get?username=admin", admin)[0] != 200:
            assert process.poll() is None and time.monotonic() < deadline, "the auth server did not start"
            time.sleep(0.5)
        viewer = ("viewer", "viewer-password-for-the-test")
        assert call(f"{base}/users/create", admin, {"username": viewer[0], "password": viewer[1]})[0] == 200
        assert call(f"{base}/registered-models/alias", viewer, move)[0] == 403  # a viewer moves nothing
        assert call(f"{base}/registered-models/alias", None, move)[0] == 401
        assert str(client.get_model_version_by_alias("nbprod-model", "champion").version) == "1"
        assert call(f"{base}/registered-models/alias", admin, move)[0] == 200
        assert str(client.get_model_version_by_alias("nbprod-model", "champion").version) == "2"
        status, found = call(f"{base}/registered-models/alias?name=nbprod-model&alias=champion", viewer)
        assert status == 200  # a viewer reads
        assert found["model_version"]["version"] == "2"
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert (folder / "mlflow-auth.db").is_file()  # the users live under the project (tracking.auth_db)
    assert "admin-password" not in (folder / "mlflow-auth.db.ini").read_text()
