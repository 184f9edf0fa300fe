"""``nbprod team-server``: MLflow over a real PostgreSQL and a real S3-compatible server, on loopback.

One stack per module (about 15 s to start). The tests log and register a model through the server only
(the client holds neither database nor bucket credentials), then look behind it: the alias is a row in
PostgreSQL, the model's files are objects in the bucket; a restart keeps both; SIGTERM leaves no process.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import team_stack

from nbprod.teamserver import stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def team_folder():
    """A folder PostgreSQL can reach."""
    with team_stack.team_folder() as folder:
        yield folder


@pytest.fixture(scope="module")
def team(team_folder: Path):
    """A running team server: (url, data folder, process, log)."""
    with team_stack.running(team_folder) as running:
        yield running.url, running.data, running.process, running.log


@pytest.fixture(scope="module")
def registered(team):
    """A model logged, registered and made champion through the server alone: (name, version, rows)."""
    url = team[0]
    script = f"""
import json, mlflow, numpy as np
from sklearn.linear_model import LogisticRegression
mlflow.set_tracking_uri({url!r})
mlflow.set_experiment("team-trial")
rng = np.random.default_rng(0); X = rng.random((60, 3)); y = (X[:, 0] > .5).astype(int)
with mlflow.start_run():
    mlflow.log_metric("roc_auc", 0.9)
    info = mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name="model",
                                    registered_model_name="team-model")
mlflow.MlflowClient().set_registered_model_alias("team-model", "champion", info.registered_model_version)
print(json.dumps({{"version": info.registered_model_version, "rows": X[:5].tolist()}}))
"""
    done = subprocess.run([sys.executable, "-c", script], env=team_stack.CLIENT_ENV, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return "team-model", str(answer["version"]), answer["rows"]


def test_the_alias_moved_through_the_server_is_a_row_in_postgres(team, registered):
    name, version, _ = registered
    assert (name, "champion", int(version)) in team_stack.alias_rows(team[1])


def test_the_model_files_are_objects_in_the_bucket_not_on_the_client(team, registered):
    bucket = team[1] / "objects" / stack.BUCKET
    files = {path.name for path in bucket.rglob("*") if path.is_file()}
    assert {"MLmodel", "requirements.txt"} <= files, sorted(files)


def test_secrets_are_readable_by_their_owner_only_and_never_on_a_command_line(team, registered):
    credentials = team[1] / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    secret = json.loads(credentials.read_text())
    command_lines = [line for line in map(command_line, psutil.Process(team[2].pid).children(recursive=True))
                     if line is not None]
    assert command_lines and not any(value in line for value in secret.values() for line in command_lines)


def command_line(process: psutil.Process) -> str | None:
    """A process's command line; None for one that ended meanwhile (gone, or a zombie not yet reaped: it has
    no command line left to show a secret in)."""
    try:
        return " ".join(process.cmdline())
    except (psutil.ZombieProcess, psutil.NoSuchProcess):
        return None


def test_a_restart_keeps_the_registry_and_artifacts_and_sigterm_stops_every_server(team, registered):
    url, data, process, log = team
    name, version, rows = registered
    assert team_stack.stop(process, log) == []
    assert process.returncode == 0, log.read_text()[-2000:]
    port = int(url.rsplit(":", 1)[1])
    again = team_stack.start(data, port, log)
    try:
        team_stack.wait_healthy(url, again, log)
        script = f"""
import json, mlflow
mlflow.set_tracking_uri({url!r})
model = mlflow.pyfunc.load_model("models:/{name}@champion")
print(json.dumps([int(v) for v in model.predict(__import__("numpy").array({rows!r}))]))
"""
        done = subprocess.run([sys.executable, "-c", script], env=team_stack.CLIENT_ENV, capture_output=True, text=True,
                              timeout=180)
        assert done.returncode == 0, done.stderr[-3000:]
        predictions = json.loads(done.stdout.strip().splitlines()[-1])
        assert len(predictions) == len(rows) and set(predictions) <= {0, 1}
        assert (name, "champion", int(version)) in team_stack.alias_rows(data)
    finally:
        assert team_stack.stop(again, log) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL as another user")
def test_as_root_a_data_folder_postgres_cannot_reach_is_a_clear_error(tmp_path):
    tmp_path.chmod(0o700)
    done = subprocess.run([sys.executable, "-m", "nbprod.cli", "team-server", "--data", str(tmp_path / "d"),
                           "--port", str(team_stack.free_port())], env=team_stack.CLIENT_ENV, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "cannot enter" in done.stderr and "--data" in done.stderr, done.stderr


def test_a_port_in_use_is_a_clear_error_and_starts_nothing(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "nbprod.cli", "team-server", "--data", str(tmp_path / "d"),
                               "--port", str(port)], env=team_stack.CLIENT_ENV, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"port {port} is in use" in done.stderr
    assert not (tmp_path / "d" / "postgres").exists()
