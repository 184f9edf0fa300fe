"""``nbprod build``'s progress: a line per task as it starts and ends, and no kernel transport warning.

A real Ploomber DAG of two tasks (a function, then a notebook run by papermill in a real kernel),
built through the seam (``nbprod.pipeline.dag``) with the command's progress printer.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from nbprod.pipeline import dag as dag_module
from nbprod.pipeline import kernels
from nbprod.pipeline.command import TaskLines

pytestmark = pytest.mark.slow

TRANSPORT_WARNING = "Kernel is running over TCP without encryption"

SPEC = """\
meta: {extract_product: false, extract_upstream: true}
executor: {dotted_path: ploomber.executors.Serial, build_in_subprocess: false}
tasks:
  - source: progress_tasks.write
    name: write
    product: "{{products}}/numbers.txt"
    params: {fail: FAIL}
  - source: read.ipynb
    name: read
    executor_params: {progress_bar: false}
    local_execution: true
    product: {nb: "{{reports}}/read.ipynb"}
"""

TASKS = """\
def write(product, fail):
    if fail:
        raise ValueError("no numbers today")
    open(str(product), "w").write("1 2 3")
"""

LINE = re.compile(r"^\d\d:\d\d:\d\d  (\w+) +(started|done in (\d+\.\d) s|failed after (\d+\.\d) s)$")


def tiny_project(folder: Path, fail: bool, monkeypatch: pytest.MonkeyPatch) -> dict:
    """A pipeline.yaml with a function task and a notebook task; the settings the seam needs."""
    (folder / "pipeline.yaml").write_text(SPEC.replace("FAIL", str(fail).lower()))
    package = folder / "code"
    package.mkdir()
    (package / "progress_tasks.py").write_text(TASKS)
    monkeypatch.syspath_prepend(str(package))
    notebook = new_notebook(cells=[
        new_code_cell("upstream = ['write']\nproduct = None", metadata={"tags": ["parameters"]}),
        new_code_cell("print(open(upstream['write']).read())"),
    ])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, folder / "read.ipynb")
    return {"products": "build", "reports": "reports", "data": {"source": "unused.csv", "schema": None}}


def progress_lines(text: str) -> list[tuple[str, str]]:
    """``(task, event)`` of each progress line; every other line of ``text`` is left out."""
    found = [LINE.match(line) for line in text.splitlines()]
    return [(match.group(1), match.group(2).split()[0]) for match in found if match]


@pytest.mark.parametrize("warm", [True, False], ids=["warm kernel", "cold kernel"])
def test_each_task_prints_a_line_as_it_starts_and_ends_and_no_kernel_warning(tmp_path, monkeypatch, capfd, warm):
    dag = dag_module.load_dag(tmp_path, tiny_project(tmp_path, False, monkeypatch))
    with kernels.warm_kernels(dag_module.notebook_runs(dag) if warm else [], modules=()):
        statuses = dag_module.build(dag, TaskLines())
    out, err = capfd.readouterr()
    assert statuses == {"write": "Executed", "read": "Executed"}
    assert progress_lines(out) == [("write", "started"), ("write", "done"), ("read", "started"), ("read", "done")]
    seconds = [float(match.group(3)) for match in map(LINE.match, out.splitlines()) if match and match.group(3)]
    assert len(seconds) == 2 and all(value >= 0 for value in seconds)
    assert TRANSPORT_WARNING not in out + err  # the kernel talked over encrypted TCP
    assert "1 2 3" in (tmp_path / "reports" / "read.ipynb").read_text()


def test_a_failed_task_says_so_with_its_time_and_what_depends_on_it_never_starts(tmp_path, monkeypatch, capfd):
    dag = dag_module.load_dag(tmp_path, tiny_project(tmp_path, True, monkeypatch))
    with pytest.raises(dag_module.BuildFailed) as failure:
        dag_module.build(dag, TaskLines())
    out, _ = capfd.readouterr()
    assert progress_lines(out) == [("write", "started"), ("write", "failed")]
    assert failure.value.statuses == {"write": "Errored", "read": "Aborted"}
    assert "no numbers today" in failure.value.details


def test_the_kernel_guessed_before_the_dag_loads_is_the_one_the_first_notebook_runs_in(tmp_path, monkeypatch):
    dag = dag_module.load_dag(tmp_path, tiny_project(tmp_path, False, monkeypatch))
    assert dag_module.first_notebook_run(tmp_path) == dag_module.notebook_runs(dag)[0]


def test_the_reference_projects_first_kernel_is_guessed_right(tmp_path):
    from project_copy import copy_project, load_settings

    project = copy_project(tmp_path / "project", git=False)  # nothing built: every notebook is to run
    dag = dag_module.load_dag(project, load_settings(project))
    assert dag_module.first_notebook_run(project) == dag_module.notebook_runs(dag)[0]
    # promote, a function task, runs right after the evaluate notebook: its imports are made while that runs
    assert dag_module.imports_ahead(dag) == {"evaluate": ("nbprod.model.evaluation", "nbprod.model.features",
                                                          "nbprod.model.metrics", "mlflow.sklearn")}


def test_the_tasks_are_left_as_ploomber_made_them(tmp_path, monkeypatch):
    dag = dag_module.load_dag(tmp_path, tiny_project(tmp_path, False, monkeypatch))
    dag_module.build(dag, TaskLines())
    assert all("_build" not in vars(task) for task in dag.values())  # the wrapper is gone after the build


def test_a_kernel_without_encryption_does_warn(tmp_path, capfd):
    """The check above can see the warning: jupyter_client's default kernel manager still prints it."""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_client.utils import run_sync

    manager = AsyncKernelManager(kernel_name="python3")
    run_sync(manager.start_kernel)(cwd=str(tmp_path))
    client = manager.blocking_client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
    finally:
        client.stop_channels()
        kernels.shutdown(manager)
    assert TRANSPORT_WARNING in capfd.readouterr().err


def test_an_executed_notebooks_html_is_written_as_its_task_ends_and_the_phases_are_counted(tmp_path, monkeypatch):
    from nbprod.pipeline.build import ExportingProgress, NotebookExports
    from nbprod.pipeline.phases import Phases

    dag = dag_module.load_dag(tmp_path, tiny_project(tmp_path, False, monkeypatch))
    phases = Phases()
    exports = NotebookExports(dag, phases)
    with kernels.warm_kernels(dag_module.notebook_runs(dag), modules=(), phases=phases):
        statuses = dag_module.build(dag, ExportingProgress(exports, TaskLines()))
    try:
        assert statuses == {"write": "Executed", "read": "Executed"}
        assert list(exports.pending) == ["read"]  # the function task has no notebook to export
        html = exports.pending["read"].result(timeout=120)
    finally:
        exports.close()
    assert html == tmp_path / "reports" / "read.html" and "1 2 3" in html.read_text()
    found = phases.as_dict()
    assert found["notebook_execution"] > 0 and found["html_export"] > 0 and found["kernel_wait"] >= 0
