"""The recommender pipeline's function task: collect the interactions."""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from nbprod import io, tracking
from nbprod.recommender import data


def interactions(source: str, user: str, item: str, time: str, weight: str | None,
                 user_attributes: Sequence[str], item_attributes: Sequence[str], sample_frac: float,
                 seed: int) -> pd.DataFrame:
    """``source`` in the standard columns, a ``sample_frac`` of its users kept: what :func:`get` writes (and
    ``nbprod reproduce`` digests again)."""
    frame = data.standardize(data.read_source(source), user, item, time, weight, list(user_attributes),
                             list(item_attributes))
    return data.sample_users(frame, float(sample_frac), int(seed))


def get(product: Any, source: str, user: str, item: str, time: str, weight: str | None,
        user_attributes: Sequence[str], item_attributes: Sequence[str], sample_frac: float, seed: int) -> None:
    """Read ``source``, bring it to the standard columns, keep a ``sample_frac`` of the users, write Parquet."""
    frame = interactions(source, user, item, time, weight, user_attributes, item_attributes, sample_frac, seed)
    with tracking.task_run("get"):
        tracking.log_frame_input(frame, "raw", "raw", source)  # "raw": the name builds look up (reproduce)
    io.write_parquet(frame, str(product))
