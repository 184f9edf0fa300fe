"""A build on a table whose time column is an integer period: a year, or a yyyymm month written as text.

The split cuts are periods (``split.valid_start=2006``), the monitor task's windows are
whole periods of the new split, and the build ends with a champion.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from pipeline_helpers import products_of, reports_of
from sklearn.datasets import load_diabetes

from nbprod.pipeline.build import build
from project_copy import copy_project, load_settings

pytestmark = pytest.mark.slow

COMMON = ("data.schema=null", "data.drop_columns=[]", "data.target=target", "data.task=regression",
          "evaluate.permutation_rows=100", "monitor.min_rows=20")


def with_years(frame: pd.DataFrame) -> pd.DataFrame:
    """2000 to 2009, about 44 rows each, in row order."""
    return frame.assign(year=2000 + (pd.RangeIndex(len(frame)) * 10 // len(frame)))


def with_months(frame: pd.DataFrame) -> pd.DataFrame:
    """201001 to 201112 as text, about 18 rows each, in row order."""
    index = pd.RangeIndex(len(frame)) * 24 // len(frame)
    return frame.assign(month=[f"{2010 + i // 12}{i % 12 + 1:02d}" for i in index])


@pytest.mark.parametrize(("shape", "column", "cuts", "new_windows"), [
    (with_years, "year", ("2006", "2007", "2008"), ["2008-01-01", "2009-01-01"]),
    (with_months, "month", ("201107", "201109", "201111"), ["2011-11-01", "2011-12-01"]),
], ids=["integer-year", "yyyymm-text"])
def test_a_period_time_column_splits_and_windows_by_period(tmp_path, shape, column, cuts, new_windows):
    project = copy_project(tmp_path / "project", git=False, drop_tasks=("dashboards",))
    shape(load_diabetes(as_frame=True).frame).to_csv(project / "data.csv", index=False)
    settings = load_settings(project, (*COMMON, "data.source=data.csv", f"data.time_column={column}",
                                       *(f"split.{key}={value}" for key, value in
                                         zip(("valid_start", "test_start", "new_start"), cuts))))
    result = build(settings, project)
    assert result.ok and {"promote", "monitor"} <= set(result.executed)

    data = products_of(project, settings) / "data"
    parts = {name: pd.read_parquet(data / f"{name}.parquet")[column] for name in ("train", "valid", "test", "new")}
    assert pd.api.types.is_integer_dtype(parts["train"])  # periods stay periods, not nanoseconds since 1970
    first, second, third = (int(cut) for cut in cuts)
    assert parts["train"].max() < first <= parts["valid"].min() and parts["valid"].max() < second
    assert second <= parts["test"].min() and parts["test"].max() < third <= parts["new"].min()

    record = json.loads((products_of(project, settings) / "monitoring" / "pipeline_drift.json").read_text())
    assert [window["start"][:10] for window in record["windows"]] == new_windows
    assert sum(window["rows"] for window in record["windows"]) == len(parts["new"])
    promotion = json.loads((reports_of(project, settings) / "promotion.json").read_text())
    assert promotion["decision"] == "promoted", promotion["summary"]
