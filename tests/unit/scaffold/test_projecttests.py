"""The generated projects' one set of tests (:mod:`nbprod.scaffold.projecttests`): filled in for each kind of
project, and its settings check finding a column the data lacks in either kind."""

from __future__ import annotations

import numpy as np
import pandas as pd
import yaml

from nbprod import cli
from nbprod.scaffold import projecttests


def write_table(path) -> None:
    rng = np.random.default_rng(0)
    pd.DataFrame({"visitor": [f"v{n % 9}" for n in range(40)], "product": [f"p{n % 7}" for n in range(40)],
                  "at": pd.date_range("2024-01-01", periods=40, freq="D").astype(str),
                  "minutes": rng.normal(300, 40, 40).round(1), "churn": ["No", "Yes"] * 20}).to_csv(path, index=False)


def rename_column(project, section_key: str, value: str) -> None:
    env = project / "env.yaml"
    loaded = yaml.safe_load(env.read_text())
    loaded["data"][section_key] = value
    env.write_text(yaml.safe_dump(loaded, sort_keys=False))


def test_both_kinds_get_the_same_tests_filled_in_with_their_kind(tmp_path):
    write_table(tmp_path / "table.csv")
    assert cli.main(["new", str(tmp_path / "shop"), "--template", "recommender", "--data", str(tmp_path / "table.csv"),
                     "--user", "visitor", "--item", "product", "--time", "at"]) == 0
    assert cli.main(["new", str(tmp_path / "churn"), "--data", str(tmp_path / "table.csv"), "--target", "churn"]) == 0
    shop, churn = (tmp_path / "shop" / "tests", tmp_path / "churn" / "tests")
    assert (shop / "test_project.py").read_text() == (churn / "test_project.py").read_text()
    assert 'KIND = "recommender"' in (shop / "conftest.py").read_text()
    assert 'KIND = "tabular"' in (churn / "conftest.py").read_text()
    assert "@@" not in (shop / "conftest.py").read_text() + (churn / "conftest.py").read_text()
    assert projecttests.gate_checks("recommender") == ("metric", "size", "memory", "latency")
    assert projecttests.gate_checks("tabular")[-1] == "schema"
    assert projecttests.sample_decisions("tabular") == ("promoted",)

    for project, key in ((tmp_path / "shop", "item"), (tmp_path / "churn", "target")):
        assert projecttests.settings_problems(project) == []
        rename_column(project, key, "nowhere")
        assert any("'nowhere'" in problem for problem in projecttests.settings_problems(project)), project.name
