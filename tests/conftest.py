"""Fixtures shared by the whole suite."""

from __future__ import annotations

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
