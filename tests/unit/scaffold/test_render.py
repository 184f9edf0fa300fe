"""The generated files: one template each, and the reference project is what the generator makes of its settings."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from nbprod import settings
from nbprod.data import schema as schema_module
from nbprod.scaffold import infer, render
from nbprod.scaffold.plan import Plan, plan_project
from nbprod.scaffold.template import COPIED, template_folder
from nbprod.scaffold.write import positive_class_setting

REPO = Path(__file__).resolve().parents[3]
REFERENCE_ENV = (REPO / settings.ENV_FILE).read_text()


def reference_plan() -> Plan:
    """The plan whose project is this repository: the nycflights13 settings of its env.yaml."""
    data, split = yaml.safe_load(REFERENCE_ENV)["data"], yaml.safe_load(REFERENCE_ENV)["split"]
    target = infer.Target(data["target"], data["task"], "binary", [0, 1], data.get("positive_class"))
    return Plan(
        name="nbprod", source=data["source"], schema_file=data["schema"], rows=336776, columns=22, target=target,
        time=infer.TimeColumn(data["time_column"], "datetime"),
        split={key: split[key] for key in ("valid_start", "test_start", "new_start")},
        categorical=data["categorical"], numeric=data["numeric"],
        drops=[infer.Drop(name, "chosen by hand") for name in data["drop_columns"]], schema={},
        class_counts={0: 1, 1: 1}, missing_target=data["missing_target"],
    )


def test_the_template_is_the_reference_project_itself_not_a_copy():
    for name in (*COPIED, settings.ENV_FILE, "binder"):
        assert (template_folder() / name).resolve() == (REPO / name).resolve()


def test_the_reference_env_yaml_is_what_the_generator_makes_of_the_nycflights13_settings():
    generated = render.render_env(REFERENCE_ENV, reference_plan(), positive_class_setting())
    assert yaml.safe_load(generated) == yaml.safe_load(REFERENCE_ENV)


def test_a_generated_env_yaml_differs_from_the_template_only_in_data_split_and_names():
    frame = pd.DataFrame({"x": range(40), "y": ["No"] * 30 + ["Yes"] * 10, "g": list("ab") * 20})
    generated = render.render_env(REFERENCE_ENV, plan_project(frame, "Churn Demo", "churn.csv", "y"), False)
    strip = lambda text: render.replace_section(render.replace_section(text, "data", ""), "split", "")  # noqa: E731
    restored = render.replace_setting(render.replace_setting(strip(generated), "tracking", "experiment", "nbprod"),
                                      "registry", "model_name", "nbprod-model")
    spaces = lambda text: re.sub(r" +", " ", text)  # noqa: E731 (a longer name moves its comment along)
    assert spaces(restored) == spaces(strip(REFERENCE_ENV))
    loaded = yaml.safe_load(generated)
    assert loaded["data"]["target"] == "y" and loaded["registry"]["model_name"] == "churn-demo-model"
    assert loaded["data"]["drop_columns"] == ["x"] and loaded["data"]["categorical"] == ["g"]


def test_a_generated_env_yaml_passes_the_settings_check(tmp_path):
    frame = pd.DataFrame({"day": pd.date_range("2020-01-01", periods=60).strftime("%Y-%m-%d"),
                          "price": [i % 7 + 0.5 for i in range(60)], "kind": list("abc") * 20})
    plan = plan_project(frame, "prices", "prices.csv", "price")
    (tmp_path / settings.ENV_FILE).write_text(render.render_env(REFERENCE_ENV, plan, positive_class_setting()))
    (tmp_path / settings.PIPELINE_FILE).write_text((REPO / settings.PIPELINE_FILE).read_text())
    loaded = settings.load(tmp_path)
    assert loaded["data"]["time_column"] == "day" and loaded["data"]["task"] == "regression"
    assert loaded["split"]["valid_start"] < loaded["split"]["test_start"] < loaded["split"]["new_start"]
    assert loaded["monitor"]["window"] == plan.window


def test_yes_and_no_stay_text_in_the_yaml():
    assert render.flow("Yes") == "'Yes'" and yaml.safe_load(render.flow(["No", "Yes"])) == ["No", "Yes"]
    assert render.setting("positive_class", "Yes", "the minority class").startswith("  positive_class: 'Yes'")


def test_the_generated_schema_reads_back_and_the_table_passes_it():
    frame = pd.DataFrame({"when": pd.date_range("2020-01-01", periods=40), "n": [float(i) for i in range(40)],
                          "c": list("ab") * 20, "y": [0, 1, 1, 1] * 10})
    plan = plan_project(frame, "t", "t.csv", "y")
    declared = yaml.safe_load(render.render_schema(plan))
    assert declared == plan.schema
    rules = schema_module.build_schema(declared, {})
    assert schema_module.validate_table(frame, rules)


def test_placeholders_are_all_filled_or_it_is_an_error():
    assert render.fill("make @@A@@", {"A": "run"}) == "make run"
    with pytest.raises(render.RenderError, match="B"):
        render.fill("@@A@@ @@B@@", {"A": "x"})


def test_a_template_without_the_section_is_a_clear_error():
    with pytest.raises(render.RenderError, match="'data'"):
        render.replace_section("seed: 1\n", "data", "data:\n")
    with pytest.raises(render.RenderError, match="tracking.experiment"):
        render.replace_setting("tracking:\n  uri: x\n", "tracking", "experiment", "y")


def test_the_monitoring_window_follows_the_time_column():
    years = pd.DataFrame({"year": range(2000, 2020), "y": [0.5 + i for i in range(20)]})
    assert plan_project(years, "p", "p.csv", "y").window == "YS"
    months = pd.DataFrame({"yyyymm": [202001 + i for i in range(12)], "y": [0.5 + i for i in range(12)]})
    assert plan_project(months, "p", "p.csv", "y").window == "MS"
    days = pd.DataFrame({"day": pd.date_range("2020-01-01", periods=101), "y": [0.5 + i for i in range(101)]})
    assert plan_project(days, "p", "p.csv", "y").window == "5D"
