"""Incremental builds: only what changed runs again, including changes Ploomber alone does not see."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pipeline_helpers import products_of, reports_of

from nbprod.pipeline import fingerprints
from nbprod.pipeline.build import build, failed_tasks
from nbprod.pipeline.dag import BuildFailed
from project_copy import REPORTING_TASKS, copy_project, load_settings

pytestmark = [pytest.mark.slow, pytest.mark.long]

SAMPLE = ("sample_frac=0.02",)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    """A freshly built project copy that the tests in this module change step by step."""
    project = copy_project(tmp_path_factory.mktemp("incremental") / "project", drop_tasks=REPORTING_TASKS)
    settings = load_settings(project, SAMPLE)
    assert build(settings, project).ok
    return project, settings


def append_code_cell(notebook: Path, code: str) -> None:
    """Add a code cell at the end of a notebook, as a user editing it would."""
    content = json.loads(notebook.read_text())
    content["cells"].append({"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "id": "edited",
                             "source": [code]})
    notebook.write_text(json.dumps(content, indent=1))


def test_nothing_changed_executes_nothing_and_opens_no_run(built):
    project, settings = built
    result = build(settings, project)
    assert result.executed == [] and result.parent_run_id is None


def test_editing_one_notebook_reruns_it_and_its_dependents_only(built):
    project, settings = built
    append_code_cell(project / "notebooks" / "train.ipynb", "print('edited')")
    assert sorted(build(settings, project).executed) == ["evaluate", "promote", "train"]
    append_code_cell(project / "notebooks" / "eda.ipynb", "print('edited')")
    assert build(settings, project).executed == ["eda"]


def test_changing_a_parameter_reruns_the_tasks_it_affects(built):
    project, _ = built
    settings = load_settings(project, (*SAMPLE, "evaluate.permutation_repeats=2"))
    assert build(settings, project).executed == ["evaluate", "promote"]


def test_changing_package_code_reruns_the_tasks_that_import_it(built, tmp_path, monkeypatch):
    project, _ = built
    settings = load_settings(project, (*SAMPLE, "evaluate.permutation_repeats=2"))
    package = shutil.copytree(fingerprints.package_folder(), tmp_path / "nbprod")
    monkeypatch.setattr(fingerprints, "package_folder", lambda: package)
    assert build(settings, project).executed == [], "a copy of the same code is no change"
    with open(package / "model" / "evaluation.py", "a") as handle:
        handle.write("\n# a change to the evaluation code\n")
    assert build(settings, project).executed == ["evaluate", "promote"]
    with open(package / "model" / "metrics.py", "a") as handle:
        handle.write("\n# a change to the metrics, used by prepare (the class tags), training and evaluation\n")
    assert sorted(build(settings, project).executed) == ["evaluate", "prepare", "promote", "train"]


def test_a_task_that_failed_runs_again_once_its_inputs_are_back(built):
    project, _ = built
    settings = load_settings(project, (*SAMPLE, "evaluate.permutation_repeats=2"))  # as the tests above left it
    report = reports_of(project, settings) / "train.ipynb"
    broken = load_settings(project, (*SAMPLE, "evaluate.permutation_repeats=2",
                                     "train.candidates=[{name: bad, kind: linear, params: {C: [-1.0]}}]"))
    with pytest.raises(BuildFailed) as failure:  # a candidate scikit-learn refuses when it fits
        build(broken, project)
    assert failed_tasks(failure.value.statuses) == ["train"]
    assert "-1.0" in report.read_text()  # the failed run's notebook
    # the same params as the last good run: Ploomber's metadata alone calls train up to date
    assert sorted(build(settings, project).executed) == ["evaluate", "promote", "train"]
    assert "-1.0" not in report.read_text()


def test_failed_tasks_are_the_errored_ones():
    assert failed_tasks({"get": "Executed", "train": "Errored", "evaluate": "Aborted", "eda": "Skipped"}) == ["train"]


def test_replacing_the_raw_data_file_reruns_everything_downstream(tmp_path):
    from sklearn.datasets import load_breast_cancer

    project = copy_project(tmp_path / "project", git=False, drop_tasks=REPORTING_TASKS)
    frame = load_breast_cancer(as_frame=True).frame
    data = project / "cancer.csv"
    frame.to_csv(data, index=False)
    byod = ("data.source=cancer.csv", "data.target=target", "data.time_column=null", "data.schema=null",
            "data.drop_columns=[]", "evaluate.permutation_rows=100")
    settings = load_settings(project, byod)
    assert build(settings, project).ok
    frame.sample(frac=1.0, random_state=1).iloc[:-10].to_csv(data, index=False)
    executed = build(settings, project).executed
    assert sorted(executed) == sorted(["get", "validate", "eda", "prepare", "train", "evaluate", "promote"])
    assert len(json.loads((products_of(project, settings) / "data" / "validation.json").read_text())) > 0
