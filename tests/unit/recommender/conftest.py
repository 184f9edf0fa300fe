"""Fixtures of the recommender's unit tests."""

from __future__ import annotations

import pandas as pd
import pytest

from .synthetic import synthetic_interactions


@pytest.fixture
def interactions() -> pd.DataFrame:
    return synthetic_interactions()
