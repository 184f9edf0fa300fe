"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from project_copy import REPO, SAMPLE, copy_project, load_settings


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The test files marked ``long`` first: with ``make test``'s workers (a file at a time each), a file of
    several minutes started last would leave the other worker idle at the end."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository folder."""
    return REPO


@pytest.fixture(scope="session")
def sample_build(tmp_path_factory: pytest.TempPathFactory):
    """A project copy built once on a sample of the default data: (project, settings, result).

    Read it, do not change it: other tests share it. The build points MLflow at the copy's store; that is
    undone after it (a test reading the store calls ``tracking.configure`` itself).
    """
    from nbprod.pipeline.build import build

    before = store_pointers()
    project = copy_project(tmp_path_factory.mktemp("sample") / "project")
    settings = load_settings(project, SAMPLE)
    result = build(settings, project)
    restore_store_pointers(before, "the session's sample build", quiet=True)
    return project, settings, result


#: Where MLflow and nbprod's tasks look for the store: what a test sets here must not reach the next test
#: (``mlflow.set_tracking_uri`` exports ``MLFLOW_TRACKING_URI``, and nbprod lets that variable win).
STORE_POINTERS = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID", "NBPROD_PARENT_RUN")

#: MLflow's module-level URIs (``mlflow.set_tracking_uri`` / ``set_registry_uri``): (module, attribute).
MLFLOW_GLOBALS = (("mlflow.tracking._tracking_service.utils", "_tracking_uri"),
                  ("mlflow.tracking._model_registry.utils", "_registry_uri"))


def store_pointers() -> dict[str, str | None]:
    """The environment's store pointers and MLflow's module-level URIs (None: unset, or MLflow not imported)."""
    pointers = {name: os.environ.get(name) for name in STORE_POINTERS}
    for module, attribute in MLFLOW_GLOBALS:
        pointers[f"{module}.{attribute}"] = getattr(sys.modules.get(module), attribute, None)
    return pointers


def restore_store_pointers(before: dict[str, str | None], who: str, quiet: bool = False) -> None:
    """Put back what ``store_pointers`` returned before ``who`` ran; a leak is named on stderr (unless ``quiet``)."""
    for name, value in before.items():
        now = store_pointers()[name]
        if now == value:
            continue
        if not quiet:
            print(f"\n{who} left {name}={now!r}; restored", file=sys.stderr)
        module, _, attribute = name.rpartition(".")
        if module in sys.modules:  # MLflow's global: set directly (set_tracking_uri would export it)
            setattr(sys.modules[module], attribute, value)
        elif value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(autouse=True, scope="module")
def store_pointers_restored_after_module(request: pytest.FixtureRequest):
    """After each module (its module-scoped fixtures included), the store pointers are as they were before it."""
    before = store_pointers()
    yield
    restore_store_pointers(before, request.node.nodeid)


@pytest.fixture(autouse=True)
def store_pointers_restored(request: pytest.FixtureRequest):
    """After each test, the store pointers are as they were before it (a leak is named)."""
    before = store_pointers()
    yield
    restore_store_pointers(before, request.node.nodeid)
