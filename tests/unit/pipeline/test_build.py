"""The build's own process: what a finished task leaves in it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

#: Reads a 160 MB table, drops it, then ends a task as the build does; prints the RSS (MB) at each step.
SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np, pandas as pd, psutil
    from nbprod.pipeline.build import ExportingProgress

    def rss():
        return psutil.Process().memory_info().rss / 2**20

    path = sys.argv[1]
    pd.DataFrame({f"c{i}": np.arange(1_000_000, dtype=float) for i in range(20)}).to_parquet(path)
    before = rss()
    frame = pd.read_parquet(path)
    read = rss()
    del frame
    dropped = rss()
    ExportingProgress(exports=None).finished("get", "Skipped", 0.1)
    print(json.dumps({"before": before, "read": read, "dropped": dropped, "finished": rss()}))
""")


def test_a_finished_task_gives_back_the_memory_pyarrow_kept_cached(tmp_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "table.parquet")], capture_output=True,
                          text=True, check=True)
    rss = json.loads(done.stdout.strip().splitlines()[-1])
    held = rss["dropped"] - rss["before"]
    assert rss["read"] - rss["before"] > 150, rss  # the table was read (160 MB of float64)
    assert held > 100, rss  # dropped, but still held by the allocator: what the build process kept
    assert rss["finished"] - rss["before"] < held / 4, rss  # given back once the task ended


def test_the_dag_is_loaded_again_only_when_a_forgotten_task_was_up_to_date():
    """A first build forgets every task, all outdated already: no second load (about 0.5 s). A task whose code
    changed but whose products Ploomber found up to date makes its status change: the DAG is loaded again."""
    from types import SimpleNamespace

    from ploomber.constants import TaskStatus

    from nbprod.pipeline.build import needs_reload

    first = {"get": SimpleNamespace(exec_status=TaskStatus.WaitingExecution),
             "train": SimpleNamespace(exec_status=TaskStatus.WaitingUpstream)}
    assert not needs_reload(first, ["get", "train"]) and not needs_reload(first, [])
    later = {"get": SimpleNamespace(exec_status=TaskStatus.Skipped),
             "train": SimpleNamespace(exec_status=TaskStatus.Skipped)}
    assert needs_reload(later, ["train"]) and not needs_reload(later, [])


def test_a_function_tasks_imports_are_made_while_the_notebook_before_it_runs(tmp_path, monkeypatch):
    """The probe module's import waits until the test lets it go: the task after the notebook starts only once the
    module is imported whole."""
    import builtins
    import threading

    from nbprod.pipeline.build import ImportingProgress

    (tmp_path / "nbprod_slow_probe.py").write_text(
        "import builtins, threading\nbuiltins._nbprod_let_go.wait(60)\nTHREAD = threading.current_thread().name\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "nbprod_slow_probe", raising=False)
    monkeypatch.setattr(builtins, "_nbprod_let_go", threading.Event(), raising=False)
    heard = []

    class Heard:
        def started(self, name):
            heard.append((name, hasattr(sys.modules.get("nbprod_slow_probe"), "THREAD")))  # imported whole

        def finished(self, name, status, seconds):
            heard.append((name, status))

    progress = ImportingProgress({"evaluate": ("nbprod_slow_probe",)}, Heard())
    progress.started("evaluate")
    assert progress.importing is not None and progress.importing.name == "nbprod-imports-ahead"
    progress.finished("evaluate", "Executed", 1.0)
    builtins._nbprod_let_go.set()
    progress.started("promote")
    assert sys.modules["nbprod_slow_probe"].THREAD == "nbprod-imports-ahead" and progress.importing is None
    assert heard == [("evaluate", False), ("evaluate", "Executed"), ("promote", True)]
