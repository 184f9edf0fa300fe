"""A project folder moved elsewhere keeps working: score, serve, monitor and a second build, against its own store.

The shared sample build is copied to folder A, A is moved to B (A no longer exists), and
every command runs in B. MLflow recorded the artifact locations as absolute paths; the
store is re-pointed when it is opened, so nothing in B reads or writes outside B.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pandas as pd
import pytest

from nbprod import tracking
from project_copy import QUICK, SAMPLE

pytestmark = pytest.mark.slow

TIME = "scheduled_departure"


def nbprod(project, *args, timeout=900):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "NBPROD_"))}
    sets = [item for text in (*QUICK, *SAMPLE) for item in ("--set", text)]
    return subprocess.run([sys.executable, "-m", "nbprod.cli", *args, "--project", str(project), *sets],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=project)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(url: str, body) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def serve_and_predict(project, records, log_folder) -> tuple[int, dict]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "NBPROD_"))}
    output = (project.parent / "serve.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "nbprod.cli", "serve", "--project", str(project), "--port",
                                str(port), "--set", f"serve.prediction_log={log_folder}"],
                               stdout=output, stderr=subprocess.STDOUT, env=env, cwd=project)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert process.poll() is None, (project.parent / "serve.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        return post(f"http://127.0.0.1:{port}/predict", records)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        output.close()


def stored_locations(database) -> list[str]:
    with sqlite3.connect(database) as db:
        return [str(value) for table, column in tracking.ARTIFACT_COLUMNS
                for (value,) in db.execute(f"SELECT {column} FROM {table}") if value]


def test_a_moved_project_scores_serves_monitors_and_builds_again(sample_build, tmp_path):
    original = sample_build[0]
    first, moved = tmp_path / "a", tmp_path / "elsewhere" / "b"
    shutil.copytree(original, first, ignore=shutil.ignore_patterns("predictions", "monitoring"))
    moved.parent.mkdir()
    shutil.move(str(first), str(moved))
    assert not first.exists()

    rows = pd.read_parquet(moved / "build" / "data" / "test.parquet").head(40).drop(columns=["late"])
    batch = tmp_path / "batch.csv"
    rows.to_csv(batch, index=False)
    scored = nbprod(moved, "score", str(batch), str(tmp_path / "scored.csv"))
    assert scored.returncode == 0, scored.stderr[-3000:]
    assert len(pd.read_csv(tmp_path / "scored.csv")) == len(rows)
    # the store now points at B: no artifact location of the original sample or of A is left
    locations = stored_locations(moved / "mlflow.db")
    assert locations and not [text for text in locations if str(original) in text or str(first) in text]
    assert any(str(moved / "mlartifacts") in text for text in locations)

    records = json.loads(rows.head(3).assign(**{TIME: rows[TIME].head(3).dt.strftime("%Y-%m-%dT%H:%M:%S")})
                         .to_json(orient="records"))
    status, body = serve_and_predict(moved, records, tmp_path / "predictions")
    assert status == 200, body
    assert len(body["predictions"]) == 3

    monitored = nbprod(moved, "monitor", "--data", str(moved / "build" / "data" / "new.parquet"), "--no-retrain",
                       "--no-snapshot")
    assert monitored.returncode == 0, monitored.stderr[-3000:]
    assert "Decision:" in monitored.stdout

    before = set((moved / "mlartifacts").iterdir())
    built = nbprod(moved, "build", "--set", "seed=7", timeout=1500)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert set((moved / "mlartifacts").iterdir()) > before  # the second build's runs write in B
    assert not first.exists()
