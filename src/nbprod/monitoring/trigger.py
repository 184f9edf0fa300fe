"""The retrain decision: a pure function of the windows' drift and performance.

Rules (``monitor`` settings):

* only windows with at least ``min_rows`` rows and a drift result vote; smaller
  (or empty) windows are reported but neither drift nor count;
* **drift**: the dataset drifted in at least ``trigger_k`` of the last
  ``trigger_n`` voting windows (so ``k`` drifted windows spread over more than
  ``n`` voting windows do not fire);
* **performance**: the most recent of those ``n`` windows whose metric is known
  (labelled rows) is past ``performance_floor`` (below it for metrics where
  greater is better, above it for error metrics), or worse than the serving
  model's expected value (its test metric) by more than ``performance_drop``;
* windows that start before ``since`` (the last retraining's window: its data
  went into the retrained model) are not looked at again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from nbprod.model.metrics import GREATER_IS_BETTER


@dataclass(frozen=True)
class Vote:
    """What one window says: its rows, whether the dataset drifted, its quality when known."""

    start: str
    rows: int
    drifted: bool | None
    share: float = float("nan")
    metric: str | None = None
    value: float | None = None
    expected: float | None = None

    @classmethod
    def from_window(cls, window: Mapping[str, Any]) -> "Vote":
        """From a history window entry (``start``, ``rows``, ``drift``, ``performance``)."""
        drift = window.get("drift") or {}
        performance = window.get("performance") or {}
        share = drift.get("share")
        return cls(start=str(window["start"]), rows=int(window.get("rows") or 0), drifted=drift.get("drifted"),
                   share=float("nan") if share is None else float(share),
                   metric=performance.get("metric"), value=performance.get("value"),
                   expected=performance.get("reference"))


@dataclass(frozen=True)
class Rules:
    """The ``monitor`` settings the decision uses."""

    trigger_k: int
    trigger_n: int
    min_rows: int
    performance_floor: float | None = None   # None: no floor
    performance_drop: float | None = None    # None: no check against the expected value

    @classmethod
    def from_settings(cls, monitor: Mapping[str, Any]) -> "Rules":
        return cls(int(monitor["trigger_k"]), int(monitor["trigger_n"]), int(monitor["min_rows"]),
                   _optional_float(monitor.get("performance_floor")), _optional_float(monitor.get("performance_drop")))


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class Decision:
    """Retrain or not, why, and the window that decided (the latest voting one)."""

    retrain: bool
    reason: str
    window: str | None
    trigger: str | None = None            # "drift", "performance" or None
    voting: tuple[str, ...] = ()          # starts of the windows that voted (the last n)
    drifted: tuple[str, ...] = ()         # those of them that drifted
    skipped: tuple[str, ...] = field(default=())  # windows too small to vote

    @property
    def kind(self) -> str:
        return "retrain" if self.retrain else "no_action"


def _past_floor(metric: str | None, value: float | None, floor: float | None) -> bool:
    if floor is None or value is None or not math.isfinite(float(value)):
        return False
    greater = GREATER_IS_BETTER.get(str(metric), True)
    return float(value) < floor if greater else float(value) > floor


def _dropped(vote: Vote, drop: float | None) -> float | None:
    """How much worse than expected the vote's metric is, when that is more than ``drop``; else None."""
    if drop is None or vote.expected is None or vote.value is None or not math.isfinite(float(vote.expected)):
        return None
    worse = float(vote.expected) - float(vote.value)
    if not GREATER_IS_BETTER.get(str(vote.metric), True):
        worse = -worse
    return worse if worse > drop else None


def _performance_decision(last: Sequence[Vote], rules: Rules, common: Mapping[str, Any]) -> Decision | None:
    """Retrain on the latest labelled window's quality (floor, then drop), or None."""
    labelled = [v for v in last if v.value is not None and math.isfinite(float(v.value))]
    if not labelled:
        return None
    v = labelled[-1]
    if _past_floor(v.metric, v.value, rules.performance_floor):
        side = "below" if GREATER_IS_BETTER.get(str(v.metric), True) else "above"
        return Decision(True, f"{v.metric} {float(v.value):.3f} on the window starting {v.start} is {side} the "
                              f"floor {rules.performance_floor:g}", v.start, "performance", **common)
    worse = _dropped(v, rules.performance_drop)
    if worse is not None:
        return Decision(True, f"{v.metric} {float(v.value):.3f} on the window starting {v.start} is {worse:.3f} "
                              f"worse than the serving model's {float(v.expected):.3f} (allowed: "
                              f"{rules.performance_drop:g})", v.start, "performance", **common)
    return None


def decide(votes: Sequence[Vote], rules: Rules, since: str | None = None) -> Decision:
    """Apply the rules to ``votes`` (in time order)."""
    import pandas as pd

    from nbprod.monitoring.windows import naive_utc

    low = naive_utc([since]).iloc[0] if since else None  # window starts are naive UTC
    considered = [v for v in votes if low is None or pd.Timestamp(v.start) > low]
    skipped = tuple(v.start for v in considered if v.rows < rules.min_rows or v.drifted is None)
    voting = [v for v in considered if v.rows >= rules.min_rows and v.drifted is not None]
    last = voting[-max(rules.trigger_n, 1):]
    drifted = [v for v in last if v.drifted]
    latest = last[-1].start if last else (considered[-1].start if considered else None)
    common = dict(voting=tuple(v.start for v in last), drifted=tuple(v.start for v in drifted), skipped=skipped)
    performance = _performance_decision(last, rules, common)
    if performance is not None:
        return performance
    if not considered:
        since_text = f" after {since}" if since else ""
        return Decision(False, f"no window{since_text} to check", None, **common)
    if not voting:
        return Decision(False, f"no window has enough rows to vote ({len(considered)} window(s) under "
                               f"{rules.min_rows} rows)", latest, **common)
    if len(drifted) >= rules.trigger_k:
        return Decision(True, f"the data drifted in {len(drifted)} of the last {len(last)} windows "
                              f"(rule: {rules.trigger_k} of {rules.trigger_n})", latest, "drift", **common)
    return Decision(False, f"the data drifted in {len(drifted)} of the last {len(last)} windows "
                           f"(rule: retrain at {rules.trigger_k} of {rules.trigger_n})", latest, **common)
