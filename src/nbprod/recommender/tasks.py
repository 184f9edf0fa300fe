"""The recommender pipeline's function task: collect the interactions."""

from __future__ import annotations

from typing import Any, Sequence

from nbprod import io, tracking
from nbprod.recommender import data


def get(product: Any, source: str, user: str, item: str, time: str, weight: str | None,
        user_attributes: Sequence[str], item_attributes: Sequence[str], sample_frac: float, seed: int) -> None:
    """Read ``source``, bring it to the standard columns, keep a ``sample_frac`` of the users, write Parquet."""
    frame = data.standardize(data.read_source(source), user, item, time, weight, list(user_attributes),
                             list(item_attributes))
    frame = data.sample_users(frame, float(sample_frac), int(seed))
    with tracking.task_run("get"):
        tracking.log_frame_input(frame, "interactions", "raw", source)
    io.write_parquet(frame, str(product))
