"""Fixtures shared by the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from project_copy import REPO


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository folder."""
    return REPO
