"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from project_copy import REPO, SAMPLE, copy_project, load_settings


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository folder."""
    return REPO


@pytest.fixture(scope="session")
def sample_build(tmp_path_factory: pytest.TempPathFactory):
    """A project copy built once on a sample of the default data: (project, settings, result).

    Read it, do not change it: other tests share it.
    """
    from nbprod.pipeline.build import build

    project = copy_project(tmp_path_factory.mktemp("sample") / "project")
    settings = load_settings(project, SAMPLE)
    return project, settings, build(settings, project)


#: Where MLflow and nbprod's tasks look for the store: what a test sets here must not reach the next test
#: (``mlflow.set_tracking_uri`` exports ``MLFLOW_TRACKING_URI``, and nbprod lets that variable win).
STORE_POINTERS = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID", "NBPROD_PARENT_RUN")


@pytest.fixture(autouse=True)
def store_pointers_restored(request: pytest.FixtureRequest):
    """After each test, the store pointers of the environment are as they were before it (a leak is named)."""
    before = {name: os.environ.get(name) for name in STORE_POINTERS}
    yield
    for name, value in before.items():
        if os.environ.get(name) != value:
            print(f"\n{request.node.nodeid} left {name}={os.environ.get(name)!r}; restored", file=sys.stderr)
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
