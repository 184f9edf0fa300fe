"""The pipeline notebooks: nbval re-runs the executed copies, and each runs by hand against real products."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from project_copy import QUICK, SAMPLE

pytestmark = pytest.mark.slow

NOTEBOOKS = ("eda", "prepare", "train", "evaluate")
MARKER = "NBVAL_CHECK_OUTPUT"


def checked_outputs(notebook: nbformat.NotebookNode) -> list[str]:
    """The text outputs of the cells whose results must be reproducible."""
    return [
        "".join(output.get("data", {}).get("text/plain", "") for output in cell.outputs)
        for cell in notebook.cells
        if cell.cell_type == "code" and MARKER in cell.source
    ]


def test_nbval_reproduces_the_checked_cells_of_every_executed_notebook(sample_build):
    project, settings, _ = sample_build
    reports = project / settings["reports"]
    paths = [str(reports / f"{name}.ipynb") for name in NOTEBOOKS]
    for path in paths:
        assert checked_outputs(nbformat.read(path, as_version=4)), f"{path} has no checked cell"
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q", *paths],
        cwd=project / "notebooks", capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-4000:]
    assert " passed" in completed.stdout and " failed" not in completed.stdout


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_by_hand_against_the_real_upstream_products(sample_build, name, monkeypatch):
    project, settings, _ = sample_build
    monkeypatch.setenv("NBPROD_PROJECT", str(project))
    monkeypatch.setenv("NBPROD_SET", ";".join((*QUICK, *SAMPLE)))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    source = nbformat.read(project / "notebooks" / f"{name}.ipynb", as_version=4)
    assert all(not cell.get("outputs") for cell in source.cells if cell.cell_type == "code")
    NotebookClient(source, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(project / "notebooks")}}).execute()
    built = nbformat.read(project / settings["reports"] / f"{name}.ipynb", as_version=4)
    assert checked_outputs(source) == checked_outputs(built)
    assert all(text for text in checked_outputs(source))
