"""The texts that differ per project, generated from one template each (pure: strings in, strings out).

- ``env.yaml``: the reference project's own ``env.yaml`` with its ``data:`` and ``split:``
  sections written from the plan (the rest, every other default, is the template's text);
- the declared schema, in the format of ``schemas/nycflights13.yaml``;
- the files of ``nbprod/scaffold/files`` (README, Makefile, tests, ...): ``@@KEY@@`` filled in.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

import yaml

from nbprod.scaffold import infer
from nbprod.scaffold.plan import Plan

#: The setting of a binary target's positive class (``data.positive_class``), written when the settings know it.
POSITIVE_CLASS = "positive_class"
#: Column where the comments of a rendered setting start (as in env.yaml).
COMMENT_COLUMN = 29


class RenderError(ValueError):
    """The template does not have the shape the generator expects."""


def flow(value: Any) -> str:
    """A value as one line of YAML (``"Yes"`` stays a string, lists in brackets)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1 << 20, allow_unicode=True,
                          sort_keys=False).strip()
    return text[: -len("...")].strip() if text.endswith("...") else text


def setting(key: str, value: Any, comment: str = "", indent: str = "  ") -> str:
    """``  key: value   # comment`` as env.yaml writes its settings."""
    line = f"{indent}{key}: {flow(value)}"
    if not comment:
        return line
    if len(line) >= COMMENT_COLUMN - 1:
        return f"{indent}# {comment}\n{line}"
    return f"{line.ljust(COMMENT_COLUMN - 1)} # {comment}"


def target_comment(plan: Plan) -> str:
    """What the target is, for the comment beside ``data.target``."""
    target = plan.target
    if target.task == "regression":
        return "regression: a number to predict"
    counts = ", ".join(f"{flow(value)}: {count}" for value, count in plan.class_counts.items())
    return f"{target.kind} classification, rows per class {{{counts}}}"


def time_comment(plan: Plan) -> str:
    """What the time column is, for the comment beside ``data.time_column``."""
    if plan.time is None:
        return "none found: rows are split at random (split.valid_frac, split.test_frac)"
    kinds = {"datetime": "datetimes", "text": "dates written as text", "period": "integer periods"}
    return f"{kinds[plan.time.kind]}: rows are split by time (split.*_start); null splits at random"


def positive_comment(target: infer.Target) -> str:
    """Why ``data.positive_class`` has its value."""
    if target.kind == "binary":
        return "the class the scores are about (inferred: the minority class)" if target.positive_class is not None \
            else "null: the minority class of the training rows"
    return "none: not a binary target"


def data_section(plan: Plan, positive_class_setting: bool) -> str:
    """The ``data:`` section of a new project's ``env.yaml``, with what was inferred in comments."""
    target = plan.target
    lines = [
        "data:",
        f"  # Written by `nbprod new` from {plan.source} ({plan.rows} rows, {plan.columns} columns).",
        "  # Everything below was inferred from the table: review it, change what is wrong, then `make run`.",
        setting("source", plan.source, "a .csv or .parquet file, relative to the project"),
        setting("target", target.name, target_comment(plan)),
        setting("task", target.task, "classification | regression"),
    ]
    if target.kind == "multiclass":
        lines.append(f"  # classes: {flow(target.classes)}")
    if positive_class_setting:
        lines.append(setting(POSITIVE_CLASS, target.positive_class, positive_comment(target)))
    elif target.kind == "binary":
        lines.append(f"  # positive class (inferred: the minority class): {flow(target.positive_class)}")
    lines.append(setting("time_column", plan.time.name if plan.time else None, time_comment(plan)))
    lines += [f"  # dropped {drop.column}: {drop.reason}" for drop in plan.drops]
    lines += [
        setting("drop_columns", [drop.column for drop in plan.drops], "columns never used"),
        setting("categorical", plan.categorical, "text and booleans: categories"),
        setting("numeric", plan.numeric, "numbers"),
        setting("missing_target", plan.missing_target,
                "rows whose target is missing: drop | positive (classification only)"),
        setting("schema", plan.schema_file, "declared schema of the raw table (null: only the settings' checks)"),
    ]
    return "\n".join(lines) + "\n"


def split_section(plan: Plan, template: Mapping[str, Any]) -> str:
    """The ``split:`` section: dates (or periods) from the data's own time range, else the random split."""
    lines = ["split:"]
    if plan.split is None:
        lines.append("  # no time column: the *_start values are not used; the fractions split the rows at random")
        starts = {key: template[key] for key in ("valid_start", "test_start", "new_start")}
    else:
        lines += ["  # by time on " + plan.time.name + ", at quantiles 0.6, 0.7 and 0.8 of its distinct values:",
                  "  # [.., valid_start) train, [valid_start, test_start) validation, [test_start, new_start) test,",
                  "  # [new_start, ..) \"new data\" held back for monitoring"]
        starts = plan.split
    lines += [setting(key, str(value)) for key, value in starts.items()]
    lines += ["  # random split (no time column): fractions of the rows",
              setting("valid_frac", float(template["valid_frac"])), setting("test_frac", float(template["test_frac"]))]
    return "\n".join(lines) + "\n"


def replace_section(text: str, key: str, section: str) -> str:
    """``text`` with its top-level ``key:`` section (up to the next top-level key) replaced by ``section``."""
    begin, end = section_span(text, key)
    following = text[end:]
    return text[:begin] + section + ("\n" if following else "") + following


def section_span(text: str, key: str) -> tuple[int, int]:
    """Where the top-level ``key:`` section of ``text`` starts and ends (before the next top-level key)."""
    match = re.search(rf"^{re.escape(key)}:.*?(?=^[A-Za-z_]\w*:|\Z)", text, flags=re.S | re.M)
    if match is None:
        raise RenderError(f"the env.yaml template has no top-level {key!r} section")
    return match.start(), match.end()


def replace_setting(text: str, section: str, key: str, value: Any) -> str:
    """``text`` with ``key``'s value inside top-level ``section`` replaced, its comment kept in its column."""
    start, end = section_span(text, section)
    line = re.search(rf"^  {re.escape(key)}: [^#\n]*?( *#.*)?$", text[start:end], flags=re.M)
    if line is None:
        raise RenderError(f"the env.yaml template has no setting {section}.{key}")
    new, comment = f"  {key}: {flow(value)}", (line.group(1) or "").lstrip()
    if comment:
        column = line.end(1) - line.start() - len(comment)
        new = f"{new.ljust(column - 1)} {comment}"
    return text[: start + line.start()] + new + text[start + line.end():]


def render_env(template: str, plan: Plan, positive_class_setting: bool) -> str:
    """A new project's ``env.yaml``: the template with the plan's data, split, names and window."""
    template_split = yaml.safe_load(template)["split"]
    text = replace_section(template, "data", data_section(plan, positive_class_setting))
    text = replace_section(text, "split", split_section(plan, template_split))
    text = replace_setting(text, "tracking", "experiment", plan.name)
    text = replace_setting(text, "registry", "model_name", f"{plan.name}-model")
    if plan.window:
        text = replace_setting(text, "monitor", "window", plan.window)
    return text


def render_schema(plan: Plan) -> str:
    """The declared schema file: one line per column, as ``schemas/nycflights13.yaml`` is written."""
    lines = [
        f"# Declared schema of the raw table ({plan.source}), inferred by `nbprod new` from its "
        f"{plan.rows} rows: review it.",
        "# Types: number | category | datetime | bool. Rules: nullable, max_null_rate, min, max, allowed.",
        "# Ranges are the ones seen in the data; a file that breaks any rule stops the pipeline.",
        f"min_rows: {plan.schema['min_rows']}",
        "columns:",
    ]
    lines += [f"  {flow(name)}: {flow(rules)}" for name, rules in plan.schema["columns"].items()]
    return "\n".join(lines) + "\n"


def summary(plan: Plan) -> list[str]:
    """What was inferred, one line each, for the terminal and the project's README."""
    target = plan.target
    lines = [f"data: {plan.source}, {plan.rows} rows, {plan.columns} columns"]
    if target.task == "regression":
        lines.append(f"target: {target.name} (regression)")
    else:
        lines.append(f"target: {target.name} ({target.kind} classification, classes {flow(target.classes)})")
    if target.kind == "binary":
        lines.append(f"positive class: {flow(target.positive_class)} (the minority class)")
    if plan.time is None:
        lines.append("time column: none (rows split at random)")
    else:
        lines.append(f"time column: {plan.time.name} ({plan.time.kind}); validation from {plan.split['valid_start']}, "
                     f"test from {plan.split['test_start']}, new data from {plan.split['new_start']}")
    lines.append(f"categorical columns ({len(plan.categorical)}): {', '.join(plan.categorical) or '-'}")
    lines.append(f"numeric columns ({len(plan.numeric)}): {', '.join(plan.numeric) or '-'}")
    lines += [f"dropped {drop.column}: {drop.reason}" for drop in plan.drops] or ["dropped: nothing"]
    return lines


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with every ``@@KEY@@`` replaced; a placeholder left without a value is an error."""
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", value)
    left = sorted(set(re.findall(r"@@([A-Z_]+)@@", text)))
    if left:
        raise RenderError(f"template placeholders without a value: {', '.join(left)}")
    return text


def bullet_lines(lines: Iterable[str]) -> str:
    """Lines as a Markdown list."""
    return "\n".join(f"- {line}" for line in lines)
