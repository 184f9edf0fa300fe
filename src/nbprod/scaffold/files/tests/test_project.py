"""This project's tests: its settings, a sample build that ends with the gate's decision, nbval on its
notebooks, and the dashboards' static snapshots of that build."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import KIND, PROJECT

from nbprod import settings
from nbprod.scaffold import projecttests

#: The pipeline notebooks whose executed copies nbval runs again.
NOTEBOOKS = ("eda", "prepare", "train", "evaluate")
#: The gate's checks, in order, and what it may decide on the sample build.
CHECKS = projecttests.gate_checks(KIND)
DECISIONS = projecttests.sample_decisions(KIND)


def test_settings_load_and_name_columns_the_data_has():
    assert projecttests.settings_problems(PROJECT) == []


def test_a_sample_build_ends_with_the_gates_decision(sample_build):
    project, process = sample_build
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    reports = settings.resolve_path(project, settings.load(project)["reports"])
    promotion = json.loads((reports / "promotion.json").read_text())
    assert promotion["decision"] in DECISIONS, promotion.get("summary")
    assert [reason["check"] for reason in promotion["reasons"]] == list(CHECKS)


def test_nbval_runs_the_executed_notebooks_again(sample_build):
    project, process = sample_build
    assert process.returncode == 0, process.stderr[-3000:]
    reports = settings.resolve_path(project, settings.load(project)["reports"])
    paths = [str(reports / f"{name}.ipynb") for name in NOTEBOOKS]
    completed = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q",
                                *paths], cwd=project / "notebooks", capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, completed.stdout[-4000:]
    assert " passed" in completed.stdout


def test_the_dashboards_snapshot_the_build(sample_build):
    project, process = sample_build
    assert process.returncode == 0, process.stderr[-3000:]
    pages = projecttests.dashboard_snapshots(project)
    assert pages
    for name, path in pages.items():
        page = path.read_text()
        assert "nbprod-headline" in page and "Traceback" not in page and "could not be shown" not in page, name
