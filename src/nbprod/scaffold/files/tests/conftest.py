"""Fixtures of this project's tests: one sample build in a temporary folder, shared by the session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nbprod.scaffold import projecttests

PROJECT = Path(__file__).resolve().parents[1]
#: What a build reads; the copy builds in its own folder, with its own MLflow store.
PROJECT_FILES = ("pipeline.yaml", "env.yaml", "notebooks", "schemas", "data")
#: This project's kind (``kind`` in env.yaml).
KIND = "@@KIND@@"
#: A quick build: a sample of the data and a smaller grid (add your own ``--set`` overrides here).
QUICK = ("sample_frac=@@SAMPLE_FRAC@@", *projecttests.QUICK[KIND])


def nbprod(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run the ``nbprod`` command of this environment (the project's own MLflow store, whatever the shell says)."""
    script = Path(sys.executable).parent / "nbprod"
    environment = {key: value for key, value in os.environ.items() if key != "MLFLOW_TRACKING_URI"}
    return subprocess.run([str(script), *args], cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=900)


@pytest.fixture(scope="session")
def sample_build(tmp_path_factory: pytest.TempPathFactory):
    """(project copy, the finished ``nbprod build`` process) of one quick build. Read it, do not change it."""
    project = tmp_path_factory.mktemp("sample") / "project"
    project.mkdir()
    for name in PROJECT_FILES:
        source = PROJECT / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        elif source.exists():
            shutil.copy2(source, project / name)
    arguments = [item for override in QUICK for item in ("--set", override)]
    return project, nbprod("build", *arguments, cwd=project)
