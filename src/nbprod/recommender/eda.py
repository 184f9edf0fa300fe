"""What an interaction table holds: activity per user and item, the long tail, sparsity, time."""

from __future__ import annotations

import numpy as np
import pandas as pd


def overview(frame: pd.DataFrame) -> pd.Series:
    """Interactions, users, items, the matrix's density and the time range."""
    users, items = frame["user"].nunique(), frame["item"].nunique()
    return pd.Series({
        "interactions": len(frame), "users": users, "items": items,
        "density": len(frame.drop_duplicates(["user", "item"])) / max(users * items, 1),
        "first": frame["time"].min(), "last": frame["time"].max(),
    })


def activity(frame: pd.DataFrame, by: str) -> pd.Series:
    """Interactions per ``by`` (``user`` or ``item``), most active first."""
    return frame.groupby(by).size().sort_values(ascending=False)


def activity_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Quantiles of the interactions per user and per item."""
    quantiles = [0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0]
    return pd.DataFrame({by: activity(frame, by).quantile(quantiles) for by in ("user", "item")})


def long_tail(frame: pd.DataFrame) -> pd.Series:
    """The share of all interactions the most popular items hold, against the share of items (the Lorenz
    curve of item popularity, indexed by the share of items)."""
    counts = activity(frame, "item").to_numpy()
    share = np.cumsum(counts) / max(counts.sum(), 1)
    return pd.Series(share, index=np.arange(1, len(counts) + 1) / max(len(counts), 1), name="interactions")


def head_share(frame: pd.DataFrame, items: float = 0.2) -> float:
    """The share of interactions on the ``items`` share of the most popular items."""
    curve = long_tail(frame)
    return float(curve[curve.index <= items].max()) if (curve.index <= items).any() else 0.0


def over_time(frame: pd.DataFrame, period: str = "Y") -> pd.DataFrame:
    """Interactions, active users and new users per ``period`` (a pandas period: ``Y``, ``Q``, ``M``)."""
    when = frame["time"].dt.to_period(period).dt.start_time
    first = frame.groupby("user")["time"].min().dt.to_period(period).dt.start_time
    return pd.DataFrame({
        "interactions": frame.groupby(when).size(),
        "active users": frame.groupby(when)["user"].nunique(),
        "new users": first.value_counts(),
    }).fillna(0).astype(int).sort_index()
