"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pandas as pd
import pytest

from .helpers import tiny_frame


@pytest.fixture
def frame() -> pd.DataFrame:
    """A fresh 40-row mixed-type frame (see :func:`tiny_frame`)."""
    return tiny_frame()
