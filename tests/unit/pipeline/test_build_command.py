"""``nbprod build``'s last line on failure: the error behind Ploomber's and Papermill's wrappers."""

from __future__ import annotations

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
