"""Checking the raw table against a declared schema, with pandera.

A schema file (YAML) declares, per column: ``type`` (number, category, datetime,
bool), ``nullable``, ``max_null_rate``, ``min``/``max`` and ``allowed`` values;
and for the table ``min_rows``. On top of any schema, the settings themselves are
checked: the target, time and overridden columns must exist, and the target must
suit the task. A failure names the column, the rule and example rows.

Whatever the schema, a text column whose values are mostly numbers, but not all (``12``,
``7.5``, ``?``), is refused unless the settings name it: in ``data.categorical`` it
stays text, in ``data.numeric`` the values that are not numbers are read as missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd
import pandera.pandas as pa
import yaml
from pandera.errors import SchemaErrors

EXAMPLES = 3
#: More distinct values than this in a classification target is taken for a regression target.
MAX_CLASSES = 100
#: A text column counts as numbers mixed with text when at least this share of its values are numbers.
MOSTLY_NUMBERS = 0.5
#: Values of a text column sampled first: a column whose sample is mostly text is not checked further.
SAMPLE = 1000


class DataValidationError(ValueError):
    """The raw table breaks the declared schema."""


def type_check(kind: str) -> pa.Check:
    """A check that the column's dtype is of the declared kind."""
    tests = {
        "number": pd.api.types.is_numeric_dtype,
        "datetime": pd.api.types.is_datetime64_any_dtype,
        "bool": pd.api.types.is_bool_dtype,
        "category": lambda series: not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series),
    }
    if kind not in tests:
        raise ValueError(f"unknown column type {kind!r} in schema; use one of {sorted(tests)}")
    test = tests[kind]
    return pa.Check(lambda series: bool(test(series)), name=f"type is {kind}", ignore_na=False)


def time_check() -> pa.Check:
    """A check that the column holds times: datetimes or integer periods (a year, a yyyymm month)."""
    from nbprod.data.times import period_of

    def holds_times(series: pd.Series) -> bool:
        return bool(pd.api.types.is_datetime64_any_dtype(series) or period_of(series) is not None)

    return pa.Check(holds_times, name="type is datetime or an integer period (year, yyyymm)", ignore_na=False)


def null_rate_check(rate: float) -> pa.Check:
    """A check that at most ``rate`` of the column is missing."""
    return pa.Check(lambda series: bool(series.isna().mean() <= rate), name=f"null rate <= {rate}",
                    ignore_na=False)


def column_checks(rules: Mapping[str, Any]) -> list[pa.Check]:
    """The pandera checks of one declared column."""
    checks = [type_check(rules["type"])] if "type" in rules else []
    if "max_null_rate" in rules:
        checks.append(null_rate_check(float(rules["max_null_rate"])))
    if "min" in rules:
        checks.append(pa.Check.ge(rules["min"]))
    if "max" in rules:
        checks.append(pa.Check.le(rules["max"]))
    if "allowed" in rules:
        checks.append(pa.Check.isin(rules["allowed"]))
    return checks


def settings_columns(target: str, task: str, time_column: str | None, named: list[str]) -> dict[str, pa.Column]:
    """Columns the settings rely on, with the target's rules for the task."""
    columns = {name: pa.Column(nullable=True, required=True) for name in named}
    if time_column:
        columns[time_column] = pa.Column(nullable=False, required=True, checks=[time_check()])
    # A classification target's labels are checked by check_target, with messages naming the classes.
    target_checks = [type_check("number")] if task != "classification" else []
    columns[target] = pa.Column(nullable=True, required=True, checks=target_checks)
    return columns


def target_problems(values: pd.Series, task: str, missing_target: str, positive_class: Any = None) -> list[str]:
    """What keeps ``values`` from being a classification target under these settings (empty: nothing).

    Any labels will do (text, booleans, integers); they must be at least two classes,
    not fractional numbers, and not too many (:data:`MAX_CLASSES`); ``positive_class``,
    when set, must be one of them, and only a binary target has one (so only a binary
    target can fill missing values with it).
    """
    from nbprod.model.classes import match_index, sorted_labels, to_label

    if task != "classification" or values.name is None:
        return []
    name = values.name
    known = values.dropna()
    if pd.api.types.is_float_dtype(known.dtype) and bool((known % 1 != 0).any()):
        example = to_label(known[known % 1 != 0].iloc[0])
        return [f"target {name!r} holds fractional numbers (e.g. {example!r}) but data.task is classification: "
                "set data.task to regression"]
    if pd.api.types.is_float_dtype(known.dtype):
        known = known.astype("int64")  # whole numbers with missing values: the labels prepare will use
    classes = sorted_labels(known.unique())
    if len(classes) > MAX_CLASSES:
        return [f"target {name!r} has {len(classes)} classes (more than {MAX_CLASSES}): is it a regression "
                "target? set data.task to regression"]
    if len(classes) < 2:
        found = f"a single class {classes[0]!r}" if classes else "no values"
        return [f"target {name!r} has {found}: a classifier needs at least two classes"]
    problems = []
    if positive_class is not None and len(classes) > 2:
        problems.append(f"data.positive_class {to_label(positive_class)!r} applies to binary targets only; "
                        f"target {name!r} has {len(classes)} classes {classes!r} (set it to null)")
    elif positive_class is not None and match_index(classes, positive_class) is None:
        problems.append(f"data.positive_class {to_label(positive_class)!r} is not one of the classes of "
                        f"target {name!r}: {classes!r}")
    if missing_target == "positive" and len(classes) > 2:
        problems.append(f"data.missing_target 'positive' applies to binary targets only; target {name!r} has "
                        f"{len(classes)} classes {classes!r}: use data.missing_target: drop")
    return problems


def check_target(frame: pd.DataFrame, target: str, task: str, missing_target: str,
                 positive_class: Any = None) -> None:
    """Raise :class:`DataValidationError` listing :func:`target_problems` (a missing column is the schema's to report)."""
    if target not in frame.columns:
        return
    problems = target_problems(frame[target], task, missing_target, positive_class)
    if problems:
        raise DataValidationError("the raw table failed validation:\n" + "\n".join(problems))


def build_schema(declared: Mapping[str, Any] | None, settings_cols: dict[str, pa.Column]) -> pa.DataFrameSchema:
    """A pandera schema from a declared schema and the settings' columns."""
    declared = declared or {}
    columns = dict(settings_cols)
    for name, rules in (declared.get("columns") or {}).items():
        rules = rules or {}
        checks = column_checks(rules) + (columns[name].checks if name in columns else [])
        nullable = rules.get("nullable", columns[name].nullable if name in columns else True)
        columns[name] = pa.Column(nullable=nullable, required=True, checks=checks)
    checks = []
    if "min_rows" in declared:
        minimum = int(declared["min_rows"])
        checks.append(pa.Check(lambda frame: len(frame) >= minimum, name=f"at least {minimum} rows"))
    return pa.DataFrameSchema(columns, checks=checks, coerce=False, strict=False)


def read_declared(path: Path | None) -> dict[str, Any] | None:
    """Read a schema file; None when no schema is declared."""
    if path is None:
        return None
    try:
        return yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError as error:
        raise DataValidationError(f"schema file {path} does not exist") from error


def describe_failures(failures: pd.DataFrame, frame: pd.DataFrame) -> str:
    """One line per (column, rule) with the number of failing rows and a few examples."""
    lines = []
    missing = failures["check"] == "column_in_dataframe"
    failures = failures.assign(
        column=failures["column"].where(~missing, failures["failure_case"]).fillna("<table>"),
        check=failures["check"].where(~missing, "required column is missing"),
    )
    for (column, check), group in failures.groupby(["column", "check"], sort=False, dropna=False):
        cases = group.dropna(subset=["index"]).head(EXAMPLES)
        examples = "; ".join(f"row {int(row['index'])}: {row['failure_case']!r}" for _, row in cases.iterrows())
        if not examples and column in frame.columns and len(frame):
            examples = f"first rows: {frame[column].head(EXAMPLES).tolist()!r}"
        count = len(group.dropna(subset=["index"])) or len(group)
        lines.append(f"column {column!r}, rule {check!r}: {count} failing"
                     + (f" (e.g. {examples})" if examples else ""))
    return "\n".join(lines)


def mixed_type_columns(frame: pd.DataFrame, exempt: Iterable[str] = ()) -> dict[str, pd.Series]:
    """Text columns whose values are mostly numbers, but not all: column -> its values that are not numbers."""
    exempt, found = set(exempt), {}
    for name in frame.columns:
        series = frame[name]
        if name in exempt or not (series.dtype == object or pd.api.types.is_string_dtype(series)):
            continue
        values = series.dropna()
        if not _mostly_numbers(values.sample(min(SAMPLE, len(values)), random_state=0)):
            continue  # a text column, decided quickly on a random sample of its values
        text = values[pd.to_numeric(values, errors="coerce").isna()]
        if len(text) and len(values) - len(text) >= MOSTLY_NUMBERS * len(values):
            found[name] = text
    return found


def _mostly_numbers(values: pd.Series) -> bool:
    return bool(pd.to_numeric(values, errors="coerce").notna().mean() >= MOSTLY_NUMBERS) if len(values) else False


def describe_mixed(mixed: Mapping[str, pd.Series], frame: pd.DataFrame) -> list[str]:
    """One line per column mixing numbers and text, in the form of :func:`describe_failures`."""
    lines = []
    for name, text in mixed.items():
        examples = "; ".join(f"row {index}: {value!r}" for index, value in text.head(EXAMPLES).items())
        lines.append(f"column {name!r}, rule 'numbers mixed with text': {len(text)} of "
                     f"{int(frame[name].notna().sum())} values are not numbers (e.g. {examples}); list the column "
                     "in data.categorical to keep it as text, or in data.numeric to read those values as missing")
    return lines


def validate_table(frame: pd.DataFrame, schema: pa.DataFrameSchema, exempt: Iterable[str] = ()) -> dict[str, Any]:
    """Validate ``frame``; raise :class:`DataValidationError` listing every failure, or return a summary.

    ``exempt``: columns whose type the settings decide (never reported as numbers mixed with text).
    """
    problems = describe_mixed(mixed_type_columns(frame, exempt), frame)
    try:
        schema.validate(frame, lazy=True, inplace=True)  # no copy of the table: the schema coerces nothing
    except SchemaErrors as error:
        problems.insert(0, describe_failures(error.failure_cases, frame))
    if problems:
        raise DataValidationError("the raw table failed validation:\n" + "\n".join(problems))
    return {
        "rows": int(len(frame)),
        "columns": int(frame.shape[1]),
        "checked_columns": sorted(schema.columns),
        "null_rates": {name: float(rate) for name, rate in frame.isna().mean().round(4).items()},
    }
