"""Helpers of the deployment tests: the repository's deployment files and the tools that check them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def tool(name: str) -> str:
    """The path of a command-line tool installed beside this Python (the test extra), else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed: pip install -e '.[test]'")
    return found


def run_tool(name: str, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """Run a tool and capture its output (never raises on a non-zero exit)."""
    return subprocess.run([tool(name), *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NO_COLOR": "1"})


def hadolint(dockerfile: Path) -> list[dict]:
    """hadolint's findings for ``dockerfile`` (its JSON output)."""
    result = run_tool("hadolint", "--no-color", "--format", "json", str(dockerfile))
    return json.loads(result.stdout or "[]")
