"""Paths of a build, for the pipeline tests."""

from __future__ import annotations

from pathlib import Path


def products_of(project: Path, settings: dict) -> Path:
    """The products folder of a build."""
    return project / settings["products"]


def reports_of(project: Path, settings: dict) -> Path:
    """The reports folder of a build."""
    return project / settings["reports"]
