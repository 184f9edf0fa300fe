"""``nbprod new --template recommender``: the files it writes, its options, and ONE sampled build."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from nbprod import cli

#: The sampled build: a fifth of MovieLens' users, a one-point grid per family.
SAMPLE = ["sample_frac=0.2",
          "train.candidates=[{name: popularity, kind: popularity}, {name: item_knn, kind: item_knn, "
          "params: {neighbours: [20]}}, {name: als, kind: als, params: {factors: [16], iterations: [8]}}]"]


def test_new_writes_the_recommender_template_with_the_projects_names(tmp_path, capsys):
    folder = tmp_path / "Movie Picks"
    assert cli.main(["new", str(folder), "--template", "recommender"]) == 0
    assert "a recommender project" in capsys.readouterr().out
    for name in ("pipeline.yaml", "env.yaml", "README.md", ".gitignore", "notebooks/train.ipynb"):
        assert (folder / name).is_file(), name
    env = yaml.safe_load((folder / "env.yaml").read_text())
    assert env["kind"] == "recommender" and env["data"]["source"] == "movielens"
    assert env["registry"]["model_name"] == "movie-picks-model" and env["tracking"]["experiment"] == "movie-picks"


def test_the_recommender_project_gets_the_tabular_projects_kit_with_its_names(tmp_path):
    from nbprod.scaffold import validate

    folder = tmp_path / "Movie Picks"
    assert cli.main(["new", str(folder), "--template", "recommender"]) == 0
    for name in ("Makefile", "pytest.ini", "tests/conftest.py", "tests/test_project.py", "tests/test_deploy.py",
                 "notebooks/dashboards/model_report.ipynb", "Dockerfile", ".dockerignore", "requirements.lock", "binder/postBuild",
                 ".github/workflows/ci.yml", "deploy", "scripts/install-promtool.sh", "wheels/README.md"):
        assert (folder / name).exists(), name
    makefile = (folder / "Makefile").read_text()
    assert "NBPROD ?= nbprod[recommender]" in makefile and "docker build -t movie-picks:latest" in makefile
    assert "nbprod[recommender]" in (folder / "binder" / "postBuild").read_text()
    assert "@@" not in makefile and validate.build_context_problems(folder) == []
    assert validate.hadolint(folder / "Dockerfile") == []


def test_new_on_a_table_of_ones_own_names_its_columns(tmp_path):
    table = tmp_path / "clicks.csv"
    pd.DataFrame({"visitor": ["a", "b"], "product": ["x", "y"], "at": ["2024-01-01", "2024-01-02"]}).to_csv(table)
    folder = tmp_path / "shop"
    assert cli.main(["new", str(folder), "--template", "recommender", "--data", str(table), "--user", "visitor",
                     "--item", "product", "--time", "at"]) == 0
    data = yaml.safe_load((folder / "env.yaml").read_text())["data"]
    assert (data["source"], data["user"], data["item"], data["time"], data["weight"]) == \
        ("data/clicks.csv", "visitor", "product", "at", None)
    assert data["item_attributes"] == [] and (folder / "data" / "clicks.csv").is_file()


@pytest.mark.parametrize(("arguments", "message"), [
    (["--template", "recommender", "--data", "clicks.csv", "--user", "u"], "needs --item, --time"),
    ([], "a tabular project needs --data FILE and --target COLUMN"),
])
def test_missing_options_are_one_line_errors(tmp_path, capsys, arguments, message):
    assert cli.main(["new", str(tmp_path / "p"), *arguments]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1 and not (tmp_path / "p").exists()


@pytest.mark.slow
def test_a_sampled_movielens_build_evaluates_known_and_cold_start_users_and_gates_on_ndcg(tmp_path, repo):
    folder = tmp_path / "movies"
    assert cli.main(["new", str(folder), "--template", "recommender"]) == 0
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    env["PYTHONPATH"] = str(repo / "src")
    arguments = [item for setting in SAMPLE for item in ("--set", setting)]
    done = subprocess.run([sys.executable, "-m", "nbprod.cli", "build", *arguments], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    evaluation = json.loads((folder / "build" / "evaluation.json").read_text())
    assert set(evaluation["candidates"]) == {"popularity", "item_knn[neighbours=20]",
                                             "als[factors=16-iterations=8]"}
    for result in evaluation["candidates"].values():
        groups = result["metrics"]["groups"]
        assert groups["known"]["users"] > 0 and groups["cold"]["users"] > 0
        assert set(groups["cold"]["paths"]) == {"fallback:global"}  # MovieLens has no user attributes
    assert set(evaluation["candidates"]["als[factors=16-iterations=8]"]["metrics"]["groups"]["known"]["paths"]) == \
        {"collaborative"}
    promotion = json.loads((folder / "reports" / "promotion.json").read_text())
    assert promotion["metric"]["name"] == "all ndcg@10"
    assert [reason["check"] for reason in promotion["reasons"]] == ["metric", "size", "memory", "latency"]
    assert promotion["budget"]["p99_ms"]["measured"] is not None
    assert (promotion["champion_after"] is not None) == (promotion["decision"] == "promoted")
    for name in ("eda", "prepare", "train", "evaluate"):
        assert (folder / "reports" / f"{name}.ipynb").is_file()

    # the service loads the registered version as a recommender (POST /recommend)
    from nbprod.serving import model_source, recommend

    version = promotion["candidate"]["version"]
    loaded = model_source.load_version(f"sqlite:///{folder / 'mlflow.db'}", "movies-model", version)
    assert isinstance(loaded, recommend.LoadedRecommender) and loaded.version == version
    assert loaded.recommend(recommend.RecommendRequest("someone new", k=5)).path == "fallback:global"
