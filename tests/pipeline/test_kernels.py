"""Warm kernels: papermill runs each notebook in a kernel started (and preloaded) ahead of time.

Real kernels, one tiny fixture notebook per behaviour. ``colorsys`` stands for the
preloaded libraries: nothing else imports it, so seeing it in ``sys.modules`` means
the notebook ran in the warm kernel.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import psutil
import papermill
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from nbprod.pipeline import kernels

pytestmark = pytest.mark.slow

PROBE = ("import os, sys\n"
         "print('colorsys' in sys.modules, '_nbprod_module' in dir(), os.getcwd() == {cwd!r},"
         " os.environ.get('NBPROD_PROBE'))")


def probe_notebook(folder: Path, name: str = "probe.ipynb") -> Path:
    notebook = new_notebook(cells=[new_code_cell(PROBE.format(cwd=os.path.realpath(folder)))])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / name
    nbformat.write(notebook, path)
    return path


def run(path: Path, out: Path) -> tuple[str, int]:
    """Execute with papermill as Ploomber does (working folder: the notebook's); first cell's text and count."""
    papermill.execute_notebook(str(path), str(out), cwd=str(path.parent), progress_bar=False)
    cell = nbformat.read(out, as_version=4).cells[0]
    return "".join(output.get("text", "") for output in cell.outputs).strip(), cell.execution_count


#: A second cell changing what a notebook may change; its output: the kernel's process id and a warning.
POLLUTE = ("import os, sys, warnings\n"
           "leftover = 1\nos.environ['NBPROD_PROBE'] = 'changed'\nsys.path.append('/nowhere')\nos.chdir('/')\n"
           "warnings.warn('shown in every notebook')\nprint(os.getpid())")


def test_a_kernel_is_reused_by_the_next_notebook_as_a_fresh_session(tmp_path, monkeypatch):
    monkeypatch.setenv("NBPROD_PROBE", "build-env")
    notebook = probe_notebook(tmp_path)
    contents = nbformat.read(notebook, as_version=4)
    contents.cells.append(new_code_cell(POLLUTE + "\nprint('/nowhere' in sys.path)"))
    nbformat.write(contents, notebook)
    folder = os.path.realpath(tmp_path)
    with kernels.warm_kernels([("python3", folder)] * 3, modules=("colorsys",)) as pool:
        runs = [run(notebook, tmp_path / f"run{number}.ipynb") for number in range(3)]
        cells = [nbformat.read(tmp_path / f"run{number}.ipynb", as_version=4).cells[1] for number in range(3)]
        assert pool.running == [] and pool.warming is None  # nothing more expected: the kernel was shut down
    assert runs == [("True False True build-env", 1)] * 3  # preloaded, empty namespace, folder, environment, count
    printed = ["".join(output.get("text", "") for output in cell.outputs if output.get("name") == "stdout")
               for cell in cells]
    warned = ["shown in every notebook" in "".join(output.get("text", "") for output in cell.outputs
                                                   if output.get("name") == "stderr") for cell in cells]
    assert len({text.split()[0] for text in printed}) == 1  # one kernel process ran all three
    assert [text.split()[1] for text in printed] == ["True"] * 3 and warned == [True] * 3
    assert [cell.execution_count for cell in cells] == [2, 2, 2]


def printed_pid(path: Path) -> str:
    """What the first code cell of an executed notebook printed first (papermill puts a banner above)."""
    code = [cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    return code[0].outputs[0]["text"]


def test_a_kernel_whose_notebook_failed_is_not_reused(tmp_path):
    failing = tmp_path / "failing.ipynb"
    notebook = new_notebook(cells=[new_code_cell("import os\nprint(os.getpid())\nraise ValueError('bad')")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, failing)
    folder = os.path.realpath(tmp_path)
    with kernels.warm_kernels([("python3", folder)] * 2, modules=("colorsys",)) as pool:
        with pytest.raises(papermill.PapermillExecutionError):
            papermill.execute_notebook(str(failing), str(tmp_path / "out.ipynb"), cwd=folder, progress_bar=False)
        assert pool.warming is not None and pool.warming[2].get("manager") is None  # a new kernel is warming
        first = printed_pid(tmp_path / "out.ipynb")
        with pytest.raises(papermill.PapermillExecutionError):
            papermill.execute_notebook(str(failing), str(tmp_path / "out.ipynb"), cwd=folder, progress_bar=False)
        second = printed_pid(tmp_path / "out.ipynb")
    assert first != second


def test_without_a_pool_papermill_starts_its_own_kernel(tmp_path):
    from papermill.engines import NBClientEngine, papermill_engines

    with kernels.warm_kernels([], modules=("colorsys",)):
        pass
    assert papermill_engines.get_engine(None) is NBClientEngine  # the seam is restored
    assert run(probe_notebook(tmp_path), tmp_path / "out.ipynb")[0].startswith("False False True")


def test_a_kernel_warmed_for_another_folder_is_not_used_and_not_left_running(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    pool = kernels.KernelPool([("python3", os.path.realpath(elsewhere))], modules=("colorsys",))
    pool.start_next()
    _, thread, box = pool.warming
    assert pool.take("python3", os.path.realpath(tmp_path)) is None
    assert not thread.is_alive() and not _alive(box["manager"])
    pool.close()


def test_close_shuts_down_a_kernel_nobody_took(tmp_path):
    pool = kernels.KernelPool([("python3", os.path.realpath(tmp_path))], modules=("colorsys",))
    pool.start_next()
    _, thread, box = pool.warming
    pool.close()
    assert not thread.is_alive() and not _alive(box["manager"])
    pool.start_next()
    assert pool.warming is None  # closed: warms nothing more


def test_preload_code_leaves_the_namespace_as_it_found_it(monkeypatch):
    remembered = []
    monkeypatch.setattr(kernels, "remember_session", lambda: remembered.append(True))  # it belongs in a kernel
    namespace: dict = {}
    exec(kernels.preload_code(["json", "colorsys"]), namespace)
    assert set(namespace) == {"__builtins__"} and remembered == [True]


def _alive(manager) -> bool:
    from jupyter_client.utils import run_sync

    return bool(run_sync(manager.is_alive)())


#: Prints whether the kernel was preloaded, its NBPROD_PROBE, whether a variable only the early start had is set,
#: and the kernel's process id.
ADOPTED = ("import os, sys\nprint('colorsys' in sys.modules, os.environ.get('NBPROD_PROBE'),"
           " 'NBPROD_EARLY_ONLY' in os.environ, os.getpid())")


def test_a_kernel_started_before_the_build_environment_was_final_takes_it_when_its_notebook_comes(
        tmp_path, monkeypatch):
    notebook = new_notebook(cells=[new_code_cell(ADOPTED)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "adopt.ipynb")
    folder = os.path.realpath(tmp_path)
    monkeypatch.setenv("NBPROD_PROBE", "final")
    with kernels.KernelPool([], modules=("colorsys",)) as pool:
        pool.prestart(("python3", folder), {**os.environ, "NBPROD_PROBE": "early", "NBPROD_EARLY_ONLY": "1"})
        early = pool.warming[2]
        with kernels.warm_kernels([("python3", folder)] * 2, pool=pool):
            runs = [run(tmp_path / "adopt.ipynb", tmp_path / f"run{number}.ipynb") for number in range(2)]
    texts = [text.split() for text, _ in runs]
    assert [words[:3] for words in texts] == [["True", "final", "False"]] * 2 and [count for _, count in runs] == [1, 1]
    assert {int(words[3]) for words in texts} == {early["manager"].provisioner.pid}  # the early kernel ran both
    assert not _alive(early["manager"])


def test_prestart_without_a_notebook_warms_nothing():
    with kernels.KernelPool([], modules=("colorsys",)) as pool:
        pool.prestart(None, dict(os.environ))
        assert pool.warming is None


#: A first notebook leaving cyclic garbage (a weak reference to it kept where a reset does not reach) with automatic
#: collections off; a second printing whether that garbage is gone and how many full collections ran in between.
LEAVE_GARBAGE = ("import builtins, gc, weakref\ngc.disable()\nclass Node:\n    pass\nnode = Node()\nnode.self = node\n"
                 "builtins._nbprod_garbage = weakref.ref(node)\n"
                 "builtins._nbprod_full = gc.get_stats()[-1]['collections']")
#: A cell whose result is cyclic garbage once its name is gone: IPython's output cache (``_``, ``_2``) holds it.
LEAVE_OUTPUT = "shown = Node()\nshown.self = shown\nbuiltins._nbprod_output = weakref.ref(shown)\nshown"
GARBAGE_GONE = ("import builtins, gc\n"
                "print(builtins._nbprod_garbage() is None and builtins._nbprod_output() is None,"
                " gc.get_stats()[-1]['collections'] - builtins._nbprod_full, gc.get_freeze_count() > 0)")


def test_a_kept_kernel_frees_the_last_notebooks_garbage_in_one_full_collection_past_its_frozen_preload(
        tmp_path):
    folder = os.path.realpath(tmp_path)
    for name, codes in (("leave.ipynb", (LEAVE_GARBAGE, LEAVE_OUTPUT)), ("check.ipynb", (GARBAGE_GONE,))):
        notebook = new_notebook(cells=[new_code_cell(code) for code in codes])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(notebook, tmp_path / name)
    with kernels.warm_kernels([("python3", folder)] * 2, modules=("colorsys",)) as pool:
        run(tmp_path / "leave.ipynb", tmp_path / "out1.ipynb")
        assert pool.warming[1].name == "nbprod-kernel-refresh"  # made fresh in the background
        text, _ = run(tmp_path / "check.ipynb", tmp_path / "out2.ipynb")
    # collected, in one full collection (IPython's reset's), which walked none of the preload (frozen)
    assert text == "True 1 True"


def test_a_kernel_that_cannot_be_made_fresh_is_replaced_by_a_warm_one(tmp_path, monkeypatch):
    refused = []

    def refuse(manager, code=kernels.RECYCLE_CODE):
        refused.append(manager.provisioner.pid)
        kernels.shutdown(manager)
        return False

    monkeypatch.setattr(kernels, "recycle", refuse)
    notebook = new_notebook(cells=[new_code_cell("import os, sys\nprint('colorsys' in sys.modules, os.getpid())")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "pid.ipynb")
    with kernels.warm_kernels([("python3", os.path.realpath(tmp_path))] * 2, modules=("colorsys",)):
        first, second = (run(tmp_path / "pid.ipynb", tmp_path / f"out{number}.ipynb")[0].split() for number in range(2))
    assert first[0] == second[0] == "True"  # both preloaded: the second kernel was warmed, not cold-started
    assert refused == [int(first[1])] and second[1] != first[1]



def test_a_refresh_that_fails_outright_shuts_the_kernel_down_and_the_next_notebook_starts_cold(tmp_path, monkeypatch):
    def broken(manager, code=kernels.RECYCLE_CODE):
        raise RuntimeError("no client")

    monkeypatch.setattr(kernels, "recycle", broken)
    notebook = new_notebook(cells=[new_code_cell("import os, sys\nprint('colorsys' in sys.modules, os.getpid())")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "pid.ipynb")
    with kernels.warm_kernels([("python3", os.path.realpath(tmp_path))] * 2, modules=("colorsys",)) as pool:
        first = run(tmp_path / "pid.ipynb", tmp_path / "out0.ipynb")[0].split()
        _, thread, box = pool.warming
        thread.join(60)
        assert isinstance(box["error"], RuntimeError) and "manager" not in box
        second = run(tmp_path / "pid.ipynb", tmp_path / "out1.ipynb")[0].split()
    assert first[0] == "True" and second[0] == "False"  # the second kernel was papermill's own, started cold
    assert not psutil.pid_exists(int(first[1])) or psutil.Process(int(first[1])).status() == psutil.STATUS_ZOMBIE
