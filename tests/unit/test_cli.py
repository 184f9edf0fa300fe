"""The ``nbprod`` script: main's status is the process's, and the memory it leaves is frozen before exit."""

from __future__ import annotations

import subprocess
import sys

#: Runs ``cli.script`` on a missing project and prints, as the interpreter exits, whether the heap was frozen.
SCRIPT = """
import atexit, gc, sys
from nbprod import cli
atexit.register(lambda: print("frozen objects:", gc.get_freeze_count(), flush=True))
cli.script(["build", "--project", sys.argv[1]])
"""


def test_script_exits_with_the_status_of_main_and_freezes_the_heap(tmp_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "missing")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    assert "nbprod: " in done.stderr and "missing" in done.stderr
    frozen = int(done.stdout.split("frozen objects:")[1])
    assert frozen > 10_000  # the command's modules and what it built, not just a handful


def test_module_entry_point_is_the_script(tmp_path):
    done = subprocess.run([sys.executable, "-m", "nbprod.cli", "build", "--project", str(tmp_path / "missing")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "missing" in done.stderr
