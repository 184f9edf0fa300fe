"""nbprod.project: one catalog of a project's paths, store and names, read from pipeline.yaml and env.yaml."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from nbprod.project import Project, ProjectError

from .helpers import REPO

PIPELINE = """\
tasks:
  - source: nbprod.pipeline.tasks.get
    name: get
    product: "{{products}}/raw.parquet"
  - source: notebooks/prepare.ipynb
    name: prepare
    product:
      nb: "{{ reports }}/prepare.ipynb"
      train: "{{products}}/splits/train.parquet"
      new: /elsewhere/new.parquet
  - source: notebooks/odd.ipynb
    product:
      nb: "{{reports}}/{{data.target}}.ipynb"
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A project folder: the shipped env.yaml and a tiny pipeline.yaml."""
    shutil.copy(REPO / "env.yaml", tmp_path / "env.yaml")
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    return tmp_path


def test_products_are_the_pipelines_with_the_folders_resolved(root):
    project = Project.load(root)
    assert project.product("get") == root / "build" / "raw.parquet"
    assert project.split("train") == root / "build" / "splits" / "train.parquet"
    assert project.product("prepare", "nb") == root / "reports" / "prepare.ipynb"
    assert project.product("prepare", "new") == Path("/elsewhere/new.parquet")


def test_overrides_move_the_folders_and_everything_in_them(root, tmp_path):
    project = Project.load(root, overrides=[f"products={tmp_path / 'other'}", "reports=out"])
    assert project.split("train") == tmp_path / "other" / "splits" / "train.parquet"
    assert project.product("prepare", "nb") == root / "out" / "prepare.ipynb"
    moved = project.with_overrides(["products=third"])
    assert moved.split("train") == root / "third" / "splits" / "train.parquet"
    assert project.split("train") == tmp_path / "other" / "splits" / "train.parquet"  # unchanged
    assert moved.overrides[-1] == "products=third"


def test_a_settings_file_and_the_settings_names(root, tmp_path):
    other = tmp_path / "mine.yaml"
    other.write_text((root / "env.yaml").read_text().replace("model_name: nbprod-model", "model_name: mine"))
    project = Project.load(root, env_file=other, overrides=["serve.prediction_log=logs", "monitor.reports=mon"])
    assert (project.model_name, project.alias, project.model_uri) == ("mine", "champion", "models:/mine@champion")
    assert project.prediction_log == root / "logs"
    assert project.drift_history == root / "mon" / "drift_history.json"
    assert project.champion_build == root / "mon" / "champion_build.json"
    assert (project.target, project.task, project.experiment) == ("late", "classification", "nbprod")


def test_the_store_is_the_projects_unless_the_environment_names_one(root):
    project = Project.load(root)
    assert project.tracking_uri({}) == f"sqlite:///{root.resolve() / 'mlflow.db'}"
    assert project.tracking_uri({"MLFLOW_TRACKING_URI": "http://tracking:5000"}) == "http://tracking:5000"


def test_unknown_products_and_placeholders_are_clear_errors(root):
    project = Project.load(root)
    with pytest.raises(ProjectError, match="no task 'train' with a product .*get, prepare, odd"):
        project.product("train")
    with pytest.raises(ProjectError, match="task 'prepare' in pipeline.yaml has no product 'valid'.*nb, train, new"):
        project.split("valid")
    with pytest.raises(ProjectError, match="has a single product"):
        project.product("get", "nb")
    # settings are data, never templates: only {{products}} and {{reports}} are resolved
    with pytest.raises(ProjectError, match=r"odd.nb in pipeline.yaml uses \{\{data.target\}\}"):
        project.product("odd", "nb")


def test_a_missing_pipeline_is_an_error(tmp_path):
    shutil.copy(REPO / "env.yaml", tmp_path / "env.yaml")
    with pytest.raises(ProjectError, match="pipeline.yaml does not exist"):
        Project.load(tmp_path)


def test_the_reference_projects_catalog_is_cheap_and_names_every_output():
    started = time.perf_counter()
    project = Project.load(REPO)
    assert time.perf_counter() - started < 0.5
    assert project.contract.name == "contract.json" and project.evaluation.name == "evaluation.json"
    assert project.holdout_scores.name == "holdout_scores.parquet" and project.promotion.name == "promotion.json"
    assert project.pipeline_drift.parent == project.products / "monitoring"
    assert project.dashboard_snapshots == project.reports / "dashboards"
    assert project.raw_data == project.products / "data" / "raw.parquet"


@pytest.mark.slow
def test_the_catalog_agrees_with_the_rendered_dag(tmp_path):
    from nbprod.pipeline.dag import load_dag, product_paths

    project = Project.load(REPO, overrides=[f"products={tmp_path / 'b'}", f"reports={tmp_path / 'r'}"])
    dag = load_dag(project.root, project.settings)
    for name in dag.keys():
        paths = product_paths(dag[name].product)
        expected = paths if isinstance(paths, dict) else {None: paths}
        assert {key: Path(path) for key, path in expected.items()} == \
               {key: project.product(name, key) for key in expected}
