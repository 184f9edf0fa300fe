"""This project's tests: its settings, a sample build that ends with a champion, nbval on its notebooks."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import yaml
from conftest import PROJECT

from nbprod import settings

#: The pipeline notebooks whose executed copies nbval runs again.
NOTEBOOKS = ("eda", "prepare", "train", "evaluate")


def test_settings_load_and_name_columns_the_data_has():
    loaded = settings.load(PROJECT)
    data = loaded["data"]
    path = settings.resolve_path(PROJECT, data["source"])
    columns = set(pd.read_parquet(path).columns if path.suffix == ".parquet" else pd.read_csv(path, nrows=5).columns)
    named = [data["target"], *data["drop_columns"], *data["categorical"], *data["numeric"]]
    assert [name for name in named if name not in columns] == []
    declared = yaml.safe_load(settings.resolve_path(PROJECT, data["schema"]).read_text())
    assert data["target"] in declared["columns"]


def test_a_sample_build_promotes_a_champion(sample_build):
    project, process = sample_build
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    reports = settings.resolve_path(project, settings.load(project)["reports"])
    promotion = json.loads((reports / "promotion.json").read_text())
    assert promotion["decision"] == "promoted", promotion.get("summary")


def test_nbval_runs_the_executed_notebooks_again(sample_build):
    project, process = sample_build
    assert process.returncode == 0, process.stderr[-3000:]
    reports = settings.resolve_path(project, settings.load(project)["reports"])
    paths = [str(reports / f"{name}.ipynb") for name in NOTEBOOKS]
    completed = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q",
                                *paths], cwd=project / "notebooks", capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, completed.stdout[-4000:]
    assert " passed" in completed.stdout
