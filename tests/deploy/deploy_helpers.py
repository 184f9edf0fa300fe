"""Helpers of the deployment tests: the repository's root; the checks themselves are nbprod.scaffold.validate's,
which the tests of every project ``nbprod new`` writes run too."""

from __future__ import annotations

from pathlib import Path

from nbprod.scaffold.validate import hadolint, run_tool, tool

__all__ = ["REPO", "hadolint", "run_tool", "tool"]

REPO = Path(__file__).resolve().parents[2]
