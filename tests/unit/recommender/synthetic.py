"""Tiny synthetic interactions: two segments of users with different tastes, over time."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Items each segment likes (users of a segment mostly pick from its own list).
TASTES = {"north": [f"n{i}" for i in range(8)], "south": [f"s{i}" for i in range(8)]}


def synthetic_interactions(users: int = 40, per_user: int = 6, seed: int = 0) -> pd.DataFrame:
    """Interactions in the standard columns plus a ``country`` user attribute; user ``uK`` arrives on day K."""
    random = np.random.default_rng(seed)
    rows = []
    for number in range(users):
        country = "north" if number % 2 == 0 else "south"
        liked = TASTES[country]
        picks = random.choice(len(liked), size=per_user, replace=False, p=np.linspace(2, 1, len(liked)) /
                              np.linspace(2, 1, len(liked)).sum())
        for offset, pick in enumerate(picks):
            rows.append({"user": f"u{number}", "item": liked[pick],
                         "time": pd.Timestamp("2020-01-01") + pd.Timedelta(days=number, hours=offset),
                         "weight": 1.0, "country": country})
    return pd.DataFrame(rows)
