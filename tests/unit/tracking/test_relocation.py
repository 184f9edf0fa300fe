"""A project folder moved or copied keeps its MLflow artifacts: the store is re-pointed at its new folder.

Each step runs in its own process (as the commands do), against a real SQLite store.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from nbprod import tracking

WRITE = """
import json, sys
from pathlib import Path
import mlflow, mlflow.sklearn
from sklearn.linear_model import LogisticRegression
import pytest

from nbprod import tracking
project = Path(sys.argv[1])
tracking.configure({"tracking": {"uri": "sqlite:///mlflow.db", "experiment": "moving"}}, project)
with mlflow.start_run() as run:
    mlflow.log_text("hello", "note.txt")
    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    info = mlflow.sklearn.log_model(model, name="model", registered_model_name="moving-model")
print(json.dumps({"run": run.info.run_id, "artifacts": run.info.artifact_uri}))
"""

READ = """
import json, sys
from pathlib import Path
import mlflow, mlflow.sklearn
import pytest

from nbprod import tracking
project, run_id = Path(sys.argv[1]), sys.argv[2]
tracking.configure({"tracking": {"uri": "sqlite:///mlflow.db", "experiment": "moving"}}, project)
note = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="note.txt")).read_text()
model = mlflow.sklearn.load_model("models:/moving-model/1")
with mlflow.start_run() as run:
    mlflow.log_text("again", "note.txt")
print(json.dumps({"note": note, "prediction": int(model.predict([[1.0]])[0]), "artifacts": run.info.artifact_uri}))
"""


def run(script: str, *args: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MLFLOW_", "NBPROD_"))}
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def stored_text(database: Path) -> str:
    with sqlite3.connect(database) as db:
        rows = [str(value) for table, column in tracking.ARTIFACT_COLUMNS
                for (value,) in db.execute(f"SELECT {column} FROM {table}")]
    return "\n".join(rows)


@pytest.mark.slow
def test_a_moved_project_reads_and_writes_its_artifacts_in_its_new_folder(tmp_path):
    first, moved = tmp_path / "first place", tmp_path / "elsewhere" / "project"
    first.mkdir()
    written = run(WRITE, str(first))
    assert written["artifacts"].startswith((first / "mlartifacts").as_uri())
    moved.parent.mkdir()
    shutil.move(str(first), str(moved))
    assert not first.exists()

    read = run(READ, str(moved), written["run"])
    assert read == {"note": "hello", "prediction": 1, "artifacts": read["artifacts"]}
    assert read["artifacts"].startswith((moved / "mlartifacts").as_uri())
    assert (moved / "mlartifacts").is_dir() and not first.exists()
    text = stored_text(moved / "mlflow.db")
    assert str(first) not in text and "first%20place" not in text and str(moved) in text


@pytest.mark.slow
def test_a_copy_writes_its_own_artifacts_and_leaves_the_original_alone(tmp_path):
    original, copy = tmp_path / "a", tmp_path / "b"
    original.mkdir()
    written = run(WRITE, str(original))
    shutil.copytree(original, copy)
    before = sorted(path.name for path in (original / "mlartifacts").iterdir())
    read = run(READ, str(copy), written["run"])
    assert read["note"] == "hello" and read["artifacts"].startswith((copy / "mlartifacts").as_uri())
    assert sorted(path.name for path in (original / "mlartifacts").iterdir()) == before
    assert tracking.repoint_artifacts(f"sqlite:///{original / 'mlflow.db'}") == []  # the original is where it was


def test_repoint_leaves_other_stores_alone(tmp_path):
    assert tracking.repoint_artifacts("http://127.0.0.1:5000") == []
    assert tracking.repoint_artifacts(f"sqlite:///{tmp_path / 'absent.db'}") == []
    assert not (tmp_path / "absent.db").exists()


def test_a_file_that_is_not_a_store_is_left_to_mlflow(tmp_path):
    (tmp_path / "mlflow.db").write_text("not a database")
    assert tracking.repoint_artifacts(f"sqlite:///{tmp_path / 'mlflow.db'}") == []
    assert (tmp_path / "mlflow.db").read_text() == "not a database"
