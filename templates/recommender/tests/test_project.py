"""This recommender project's tests: its settings, a sample build that ends with the gate's decision, nbval on
its notebooks, and the dashboards' static snapshots of that build."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import PROJECT

from nbprod import settings
from nbprod.recommender.data import read_source

#: The pipeline notebooks whose executed copies nbval runs again.
NOTEBOOKS = ("eda", "prepare", "train", "evaluate")


def test_settings_load_and_name_columns_the_data_has():
    data = settings.load(PROJECT)["data"]
    source = data["source"] if data["source"] == "movielens" else str(settings.resolve_path(PROJECT, data["source"]))
    columns = set(read_source(source).columns)
    named = [data["user"], data["item"], data["time"], data["weight"], *data["user_attributes"],
             *data["item_attributes"]]
    assert [name for name in named if name and name not in columns] == []


def test_a_sample_build_ends_with_the_gates_decision(sample_build):
    project, process = sample_build
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    reports = settings.resolve_path(project, settings.load(project)["reports"])
    promotion = json.loads((reports / "promotion.json").read_text())
    assert promotion["decision"] in ("promoted", "rejected")
    assert [reason["check"] for reason in promotion["reasons"]] == ["metric", "size", "memory", "latency"]


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
    from nbprod.recommender.dashboards import snapshots

    project, process = sample_build
    assert process.returncode == 0, process.stderr[-3000:]
    for name, path in snapshots(project).items():
        page = path.read_text()
        assert "nbprod-headline" in page and "Traceback" not in page and "could not be shown" not in page, name
