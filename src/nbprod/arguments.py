"""Argument types for the commands' numeric options: a bad value is argparse's usual one-line error.

    parser.add_argument("--port", type=port, default=8866)
    parser.add_argument("--chunk-rows", type=at_least(1), default=50_000)
"""

from __future__ import annotations

import argparse
from typing import Callable


def _number(text: str, kind: type) -> int | float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'a whole number' if kind is int else 'a number'}, "
                                         f"got {text!r}") from None


def at_least(minimum: int | float, kind: type = int) -> Callable[[str], int | float]:
    """A type: a number (``kind``) no smaller than ``minimum``."""
    def parse(text: str) -> int | float:
        value = _number(text, kind)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text}")
        return value

    parse.__name__ = f"at least {minimum}"
    return parse


def positive(text: str) -> float:
    """A type: a number greater than 0."""
    value = _number(text, float)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def port(text: str) -> int:
    """A type: a TCP port, 1 to 65535."""
    value = _number(text, int)
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"must be between 1 and 65535, got {text}")
    return value


def timestamp(text: str) -> str:
    """A type: a date or date-time pandas reads (``2013-10-01``, ``2013-10-01T12:00``); kept as text."""
    import pandas as pd

    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError):
        stamp = None
    if stamp is None or pd.isna(stamp):
        raise argparse.ArgumentTypeError(f"expected a date or date-time such as 2013-10-01, got {text!r}")
    return text
