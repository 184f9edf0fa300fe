"""A sample build of the default pipeline, shared by the pipeline tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from project_copy import copy_project, load_settings

SAMPLE = ("sample_frac=0.03",)


@pytest.fixture(scope="session")
def sample_build(tmp_path_factory: pytest.TempPathFactory):
    """A project copy built once on a 3 % sample: (project, settings, result)."""
    from nbprod.pipeline.build import build

    project = copy_project(tmp_path_factory.mktemp("sample") / "project")
    settings = load_settings(project, SAMPLE)
    return project, settings, build(settings, project)

