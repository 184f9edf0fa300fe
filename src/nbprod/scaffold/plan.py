"""Everything ``nbprod new`` decides about a table, in one value (pure: a DataFrame in, a plan out)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

import pandas as pd

from nbprod.scaffold import infer

#: Value of ``--time-column`` that asks for a random split even when a time column is found.
NO_TIME = "none"


@dataclass(frozen=True)
class Plan:
    """What a new project is: its name, data, target, time column, columns and split.

    ``source`` and ``schema_file`` are paths inside the project; ``split`` holds the three
    ``split.*_start`` texts when there is a time column; ``window`` is ``monitor.window``
    (None: the template's); ``class_counts`` are the rows per class of a class target.
    """

    name: str
    source: str
    schema_file: str
    rows: int
    columns: int
    target: infer.Target
    time: infer.TimeColumn | None
    split: dict[str, str] | None
    categorical: list[str]
    numeric: list[str]
    drops: list[infer.Drop]
    schema: dict[str, Any]
    window: str | None = None
    class_counts: dict[Any, int] = field(default_factory=dict)
    missing_target: str = "drop"


def project_name(folder_name: str) -> str:
    """A name for MLflow and file names: lower case letters, digits and dashes."""
    name = re.sub(r"[^a-z0-9]+", "-", folder_name.lower()).strip("-")
    return name or "project"


def check_columns(frame: pd.DataFrame, target: str, time_column: str | None, keep: Iterable[str]) -> None:
    """Raise :class:`~nbprod.scaffold.infer.InferenceError` for a named column the table lacks, or a
    table whose column names repeat."""
    repeated = sorted({str(name) for name in frame.columns[frame.columns.duplicated()]})
    if repeated:
        raise infer.InferenceError(f"the table has duplicate column names: {', '.join(repeated)}")
    for option, name in [("--target", target), ("--time-column", time_column), *(("--keep", k) for k in keep)]:
        if name is not None and name != NO_TIME and name not in frame.columns:
            listed = ", ".join(map(str, frame.columns[:12])) + (", ..." if frame.shape[1] > 12 else "")
            raise infer.InferenceError(f"{option} {name!r} is not a column of the table; its columns: {listed}")


def choose_time(frame: pd.DataFrame, target: str, time_column: str | None) -> infer.TimeColumn | None:
    """The time column: the one named (``none``: no time column), else the one inferred."""
    if time_column == NO_TIME:
        return None
    if time_column is None:
        return infer.infer_time_column(frame, exclude=[target])
    series = frame[time_column]
    for kind, test in (("datetime", pd.api.types.is_datetime64_any_dtype), ("period", infer.is_period),
                       ("text", infer.parses_as_dates)):
        if test(series):
            return infer.TimeColumn(time_column, kind)
    raise infer.InferenceError(f"--time-column {time_column!r} holds neither dates nor periods "
                               f"(e.g. {series.dropna().iloc[0]!r}); name another column or none")


def monitor_window(series: pd.Series, time: infer.TimeColumn, new_start: str) -> str:
    """``monitor.window``: for dates about a quarter of the held-back period, in days; for integer
    periods one period a window (``YS`` for years, ``MS`` for yyyymm months)."""
    if time.kind == "period":
        return "YS" if series.dropna().between(1800, 2200).all() else "MS"
    stamps = infer.time_values(series.dropna(), time.kind)
    days = (stamps.max() - pd.Timestamp(new_start)).days
    return f"{max(1, round(days / 4))}D"


def plan_project(frame: pd.DataFrame, folder_name: str, data_file: str, target: str, task: str | None = None,
                 time_column: str | None = None, keep: Iterable[str] = ()) -> Plan:
    """Infer a project's plan from its table: see :mod:`nbprod.scaffold.infer` for each rule."""
    keep = list(keep)
    check_columns(frame, target, time_column, keep)
    found = infer.infer_target(frame[target], task)
    time = choose_time(frame, target, time_column)
    drops = infer.infer_drops(frame, found, time.name if time else None, keep)
    dropped = {drop.column for drop in drops}
    used = [str(name) for name in frame.columns if name not in dropped and name not in (target, time and time.name)]
    categorical, numeric = infer.column_kinds(frame, used)
    split = infer.split_points(frame[time.name], time.kind) if time else None
    name = project_name(folder_name)
    counts = ({infer.python_value(k): int(v) for k, v in frame[target].value_counts().sort_index().items()}
              if found.task == "classification" else {})
    return Plan(
        name=name, source=f"data/{data_file}", schema_file=f"schemas/{name}.yaml", rows=len(frame),
        columns=frame.shape[1], target=found, time=time, split=split, categorical=categorical, numeric=numeric,
        drops=drops, schema=infer.infer_schema(frame, found, time, categorical, numeric),
        window=monitor_window(frame[time.name], time, split["new_start"]) if time else None,
        class_counts=counts,
    )
