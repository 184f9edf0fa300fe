"""The suite itself: pytest imports test modules outside packages by their file name, so two of one name
in different folders stop the whole collection ("import file mismatch")."""

from __future__ import annotations

import collections
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_no_two_test_modules_outside_packages_share_a_file_name():
    modules = [path for path in TESTS.rglob("test_*.py") if not (path.parent / "__init__.py").exists()]
    names = collections.Counter(path.name for path in modules)
    assert len(modules) > 50
    assert [name for name, count in names.items() if count > 1] == []
