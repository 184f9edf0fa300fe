"""Bad input stops the pipeline with an error that names what is wrong; nothing downstream runs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
from pipeline_helpers import products_of
from sklearn.datasets import load_breast_cancer

from nbprod.pipeline.build import build
from nbprod.pipeline.dag import BuildFailed
from project_copy import REPORTING_TASKS, copy_project, load_settings

pytestmark = pytest.mark.slow

BYOD = ("data.source=data.csv", "data.target=target", "data.time_column=null", "data.schema=null",
        "data.drop_columns=[]", "evaluate.permutation_rows=100")
DOWNSTREAM = ("eda", "prepare", "train", "evaluate")


@pytest.fixture(scope="module")
def good_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A project built once on good data (breast cancer, from scikit-learn)."""
    project = copy_project(tmp_path_factory.mktemp("bad") / "project", git=False, drop_tasks=REPORTING_TASKS)
    load_breast_cancer(as_frame=True).frame.to_csv(project / "data.csv", index=False)
    settings = load_settings(project, BYOD)
    assert build(settings, project).ok
    return project, settings


def digests(folder: Path) -> dict[str, str]:
    """Content digest of every product file, to show that nothing was touched."""
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file() and ".nbprod" not in path.parts
            and not path.name.startswith(".")}


def failed_build(project: Path, settings: dict) -> BuildFailed:
    """Build and return the failure (the test fails if the build succeeds)."""
    with pytest.raises(BuildFailed) as caught:
        build(settings, project)
    return caught.value


def break_data(project: Path, change) -> None:
    """Rewrite the project's CSV through ``change(frame) -> frame``."""
    frame = load_breast_cancer(as_frame=True).frame
    change(frame).to_csv(project / "data.csv", index=False)


@pytest.mark.parametrize(
    ("change", "failing_task", "words"),
    [
        (lambda f: f.drop(columns=["target"]), "validate", ["'target'", "required column is missing"]),
        (lambda f: f.assign(target=0), "validate", ["target 'target' has a single class 0"]),
        (lambda f: f.assign(target=f["target"] + 0.5), "validate",
         ["target 'target' holds fractional numbers (e.g. 0.5)", "set data.task to regression"]),
        (lambda f: f.assign(**{"mean area": f["mean area"].astype(object).where(f.index % 50 > 0, "?")}),
         "validate", ["column 'mean area', rule 'numbers mixed with text': 12 of 569 values are not numbers",
                      "data.categorical"]),
    ],
    ids=["missing-column", "one-class-target", "fractional-target", "numbers-mixed-with-text"],
)
def test_bad_data_stops_at_validate_and_keeps_earlier_products(good_project, change, failing_task, words):
    project, settings = good_project
    products = products_of(project, settings)
    before = {name: value for name, value in digests(products).items() if "raw.parquet" not in name}
    break_data(project, change)
    failure = failed_build(project, settings)
    assert failure.statuses[failing_task] == "Errored"
    assert all(failure.statuses[name] != "Executed" for name in DOWNSTREAM)
    for word in words:
        assert word in failure.details
    after = {name: value for name, value in digests(products).items() if "raw.parquet" not in name}
    assert after == before, "products downstream of the failure must stay as they were"


def test_wrong_type_against_a_declared_schema_names_column_rule_and_rows(good_project, tmp_path):
    project, settings = good_project
    schema = project / "schema.yaml"
    schema.write_text("columns:\n  mean radius: {type: number, min: 0}\n  mean texture: {type: number}\n")
    settings = load_settings(project, (*BYOD, "data.schema=schema.yaml"))

    def corrupt(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.astype({"mean texture": object})
        frame.loc[3, "mean texture"] = "eleven"
        frame.loc[7, "mean radius"] = -1.0
        return frame

    break_data(project, corrupt)
    failure = failed_build(project, settings)
    assert "column 'mean texture', rule 'type is number'" in failure.details
    assert "column 'mean radius', rule 'greater_than_or_equal_to(0)'" in failure.details
    assert "row 7: -1.0" in failure.details


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [("data.parquet", b"", "is empty"), ("data.parquet", b"\x00\x01garbage\xff" * 10, "could not be parsed"),
     ("data.csv", b"a,target,a\n1,0,2\n3,1,4\n", "has duplicate column names ['a']")],
    ids=["empty-file", "unparseable-file", "duplicate-column-names"],
)
def test_unreadable_file_stops_at_get(tmp_path, name, content, words):
    project = copy_project(tmp_path / "project", git=False, drop_tasks=REPORTING_TASKS)
    (project / name).write_bytes(content)
    settings = load_settings(project, (*BYOD, f"data.source={name}"))
    failure = failed_build(project, settings)
    assert failure.statuses["get"] == "Errored"
    assert words in failure.details and name in failure.details
    assert not (products_of(project, settings) / "data" / "raw.parquet").exists()


def test_cli_reports_the_failure_and_exits_non_zero(good_project, capsys):
    from nbprod.cli import main

    project, _ = good_project
    break_data(project, lambda f: f.drop(columns=["target"]))
    code = main(["build", "--project", str(project), *sum((["--set", item] for item in BYOD), [])])
    assert code == 1
    err = capsys.readouterr().err
    assert "validate" in err and "Errored" in err and "required column is missing" in err
    assert err.strip().splitlines()[-1].startswith("nbprod build: validate failed: ")  # the cause, last
