"""``nbprod new`` as a user runs it: the files it writes, what it prints, what it refuses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from nbprod import cli, settings
from nbprod.scaffold.origin import installed_origin


@pytest.fixture
def churn_csv(tmp_path):
    """A 60-row table: an id, a Yes/No target, a leaky column, a category and a number."""
    rng = np.random.default_rng(0)
    churn = np.array(["No"] * 45 + ["Yes"] * 15)
    frame = pd.DataFrame({"customer_id": range(1000, 1060), "plan": rng.choice(["basic", "pro"], 60),
                          "minutes": rng.normal(300, 40, 60).round(1),
                          "cancel_reason": np.where(churn == "Yes", "moved", "none"), "churn": churn})
    path = tmp_path / "churn.csv"
    frame.to_csv(path, index=False)
    return path


def test_new_writes_a_project_that_names_what_it_inferred(tmp_path, churn_csv, capsys):
    folder = tmp_path / "Churn"
    assert cli.main(["new", str(folder), "--data", str(churn_csv), "--target", "churn"]) == 0
    printed = capsys.readouterr().out
    assert "binary classification, classes ['No', 'Yes']" in printed and "positive class: 'Yes'" in printed
    assert "dropped customer_id: identifier" in printed and "dropped cancel_reason: probable leakage" in printed
    assert "make run" in printed and "make test" in printed
    for name in ("pipeline.yaml", "env.yaml", "schemas/churn.yaml", "data/churn.csv", "notebooks/train.ipynb",
                 "notebooks/dashboards/model_report.ipynb", "Makefile", "README.md", ".gitignore", "pytest.ini",
                 ".github/workflows/ci.yml", "tests/conftest.py", "tests/test_project.py", "binder/postBuild"):
        assert (folder / name).is_file(), name
    loaded = settings.load(folder)
    assert loaded["data"]["source"] == "data/churn.csv" and loaded["data"]["time_column"] is None
    assert loaded["data"]["drop_columns"] == ["customer_id", "cancel_reason"]
    assert loaded["data"]["categorical"] == ["plan"] and loaded["data"]["numeric"] == ["minutes"]
    assert yaml.safe_load((folder / "schemas/churn.yaml").read_text())["columns"]["churn"]["allowed"] == ["No", "Yes"]
    makefile = (folder / "Makefile").read_text()
    assert f"NBPROD ?= {installed_origin().requirement()}\n" in makefile and "@@" not in makefile
    assert "sample_frac=1.0" in (folder / "tests/conftest.py").read_text()
    assert "make test" in (folder / ".github/workflows/ci.yml").read_text()
    assert "'Yes' (the minority class)" in (folder / "README.md").read_text()


def test_keep_overrides_a_leakage_drop(tmp_path, churn_csv):
    folder = tmp_path / "kept"
    assert cli.main(["new", str(folder), "--data", str(churn_csv), "--target", "churn",
                     "--keep", "cancel_reason"]) == 0
    assert settings.load(folder)["data"]["drop_columns"] == ["customer_id"]


def test_an_existing_folder_is_refused_unless_forced(tmp_path, churn_csv, capsys):
    folder = tmp_path / "exists"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    assert cli.main(["new", str(folder), "--data", str(churn_csv), "--target", "churn"]) == 2
    assert "already exists" in capsys.readouterr().err and not (folder / "env.yaml").exists()
    assert cli.main(["new", str(folder), "--data", str(churn_csv), "--target", "churn", "--force"]) == 0
    assert (folder / "env.yaml").is_file() and (folder / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(("arguments", "message"), [
    (["--target", "nope"], "--target 'nope' is not a column of the table; its columns: customer_id, plan"),
    (["--target", "churn", "--time-column", "plan"], "--time-column 'plan' holds neither dates nor periods"),
    (["--target", "plan", "--task", "regression"], "target column 'plan' is not numeric"),
])
def test_bad_options_are_one_line_errors(tmp_path, churn_csv, capsys, arguments, message):
    assert cli.main(["new", str(tmp_path / "p"), "--data", str(churn_csv), *arguments]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1 and not (tmp_path / "p").exists()


def test_a_missing_data_file_is_a_one_line_error(tmp_path, capsys):
    assert cli.main(["new", str(tmp_path / "p"), "--data", str(tmp_path / "none.csv"), "--target", "y"]) == 2
    assert "none.csv does not exist" in capsys.readouterr().err
