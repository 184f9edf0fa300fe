"""``nbprod build``'s last line on failure: the error behind Ploomber's and Papermill's wrappers."""

from __future__ import annotations

from pathlib import Path

from nbprod.pipeline.command import error_line

FUNCTION_TASK = """Traceback (most recent call last):
  File "src/nbprod/data/sources.py", line 53, in read_table
    raise DataSourceError(f"data file {path} does not exist")
nbprod.data.sources.DataSourceError: data file missing.csv does not exist

ploomber.exceptions.TaskBuildError: Error building task "get"
"""

NOTEBOOK_TASK = """papermill.exceptions.PapermillExecutionError:
---------------------------------------------------------------------------
Exception encountered at "In [3]":
ValueError: n_jobs == 0 in Parallel has no meaning
ploomber.exceptions.TaskBuildError: Error building task "train"
"""


def test_the_cause_is_the_last_error_that_is_not_a_wrapper():
    assert error_line(FUNCTION_TASK) == "DataSourceError: data file missing.csv does not exist"
    assert error_line(NOTEBOOK_TASK) == "ValueError: n_jobs == 0 in Parallel has no meaning"
    assert error_line("ploomber.exceptions.DAGBuildError: Failed to build DAG") is None


def test_a_second_build_in_the_same_products_folder_is_refused_naming_the_first(tmp_path, capsys):
    import os
    import shutil

    from nbprod import cli
    from nbprod.locks import hold
    from nbprod.project import Project
    from nbprod.settings import ENV_FILE, PIPELINE_FILE

    repo = Path(__file__).resolve().parents[3]
    shutil.copy(repo / ENV_FILE, tmp_path / ENV_FILE)
    (tmp_path / PIPELINE_FILE).write_text("tasks: []\n")
    with hold(Project.load(tmp_path).build_lock, "nbprod build"):  # a build running in this project
        status = cli.main(["build", "--project", str(tmp_path)])
    error = capsys.readouterr().err
    assert status == 1
    assert f"another build is running in {tmp_path / 'build'}" in error and f"pid {os.getpid()}" in error
