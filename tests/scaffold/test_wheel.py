"""Done when: a wheel built from this repository, installed in a new virtual environment outside it,
writes projects with ``nbprod new`` that build to a champion (and, for one, pass their own tests).

One environment for the module: the wheel is built from a copy of the repository's files, installed
with its test extras (pip may use this machine's index and cache), and nothing of the checkout is on
the path of what runs in it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris

pytestmark = [pytest.mark.slow, pytest.mark.long, pytest.mark.timeout(3600)]

REPO = Path(__file__).resolve().parents[2]


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: int = 1800) -> subprocess.CompletedProcess:
    """Run ``command``; fail with the end of its output when it fails."""
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert completed.returncode == 0, f"{command} failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    return completed


def copy_sources(target: Path) -> Path:
    """The repository's files (tracked and new, not ignored) in ``target``, symlinks kept as symlinks."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        source, copy = REPO / name, target / name
        if not source.is_symlink() and not source.exists():
            continue
        copy.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            copy.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, copy)
    return target


def clean_environment(venv: Path) -> dict[str, str]:
    """This process's environment without the checkout on the path or any MLflow pointer, the venv's commands first."""
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("PYTHONPATH", "VIRTUAL_ENV") and not key.startswith(("NBPROD", "MLFLOW_"))}
    environment["PATH"] = f"{venv / 'bin'}{os.pathsep}{environment.get('PATH', '')}"
    return environment


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The wheel and a new venv with it installed: {wheel, venv, env, work}."""
    work = tmp_path_factory.mktemp("wheel")
    source = copy_sources(work / "source")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(work / "dist"), str(source)],
        cwd=work, env=dict(os.environ))
    wheel = next((work / "dist").glob("nbprod-*.whl"))
    venv = work / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=work, env=dict(os.environ))
    env = clean_environment(venv)
    # byte-compiled at install (pip's default): with PYTHONDONTWRITEBYTECODE set, as on this machine, a venv
    # installed with --no-compile compiles every import in every process (measured: the module 78 s slower)
    run([str(venv / "bin" / "pip"), "install", "--quiet", f"nbprod[test] @ {wheel.as_uri()}"], cwd=work, env=env)
    return {"wheel": wheel, "venv": venv, "env": env, "work": work}


def write_tables(folder: Path) -> dict[str, Path]:
    """The three tables of the test, from scikit-learn's bundled datasets, as CSV files."""
    folder.mkdir(exist_ok=True)
    cancer = load_breast_cancer(as_frame=True).frame
    cancer["malignant"] = np.where(cancer.pop("target") == 0, "Yes", "No")
    iris = load_iris(as_frame=True)
    flowers = iris.frame.assign(species=np.asarray(iris.target_names)[iris.frame.pop("target")])
    diabetes = load_diabetes(as_frame=True).frame
    diabetes.insert(0, "visit_date", pd.date_range("2019-01-01", periods=len(diabetes), freq="D").strftime("%Y-%m-%d"))
    tables = {"cancer": cancer, "iris": flowers, "diabetes": diabetes}
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return {name: folder / f"{name}.csv" for name in tables}


@pytest.fixture(scope="module")
def tables(installed) -> dict[str, Path]:
    return write_tables(installed["work"] / "tables")


def promotion(project: Path) -> dict:
    """The promotion gate's evidence of the project's build."""
    return json.loads((project / "reports" / "promotion.json").read_text())


def new_project(installed: dict, name: str, data: Path, target: str) -> tuple[Path, str]:
    """``nbprod new`` in the venv, in a folder outside the repository: (project, what it printed)."""
    project = installed["work"] / "projects" / name
    project.parent.mkdir(exist_ok=True)
    done = run([str(installed["venv"] / "bin" / "nbprod"), "new", str(project), "--data", str(data),
                "--target", target], cwd=project.parent, env=installed["env"])
    return project, done.stdout


def test_the_wheel_carries_the_project_template_and_installs_without_the_checkout(installed):
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    for name in ("pipeline.yaml", "env.yaml", "notebooks/train.ipynb", "notebooks/dashboards/model_report.ipynb",
                 "binder/postBuild"):
        assert f"nbprod/project_template/{name}" in names
    for name in ("Dockerfile", "dockerignore", "requirements.lock", "ci.yml", "deploy/k8s/base/serve.yaml",
                 "deploy/k8s/overlays/prod/kustomization.yaml", "deploy/monitoring/alerts.test.yaml",
                 "deploy/monitoring/grafana-dashboard.json", "scripts/install-promtool.sh"):
        assert f"nbprod/project_template/{name}" in names, name
    for name in ("Makefile", "README.md", "tests/test_project.py", "tests/test_deploy.py"):
        assert f"nbprod/scaffold/files/{name}" in names
    assert "nbprod/jupyter/voila/templates/nbprod/index.html.j2" in names
    located = run([str(installed["venv"] / "bin" / "python"), "-c", "import nbprod; print(nbprod.__file__)"],
                  cwd=installed["work"], env=installed["env"]).stdout
    assert str(installed["venv"]) in located and str(REPO) not in located


def test_yes_no_table_without_time_column_runs_with_make_and_tests_in_a_fresh_clone(installed, tables):
    project, printed = new_project(installed, "cancer", tables["cancer"], "malignant")
    assert "positive class: 'Yes'" in printed and "time column: none" in printed
    assert installed["wheel"].as_uri() in (project / "Makefile").read_text()
    # the image installs the same nbprod: the wheel, copied into the project where docker build reaches it
    assert (project / "wheels" / installed["wheel"].name).read_bytes() == installed["wheel"].read_bytes()
    assert f"ARG NBPROD=wheels/{installed['wheel'].name}\n" in (project / "Dockerfile").read_text()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "nbprod new"]):
        run([*git, *command], cwd=project, env=installed["env"])
    make = ["make", f"VENV={installed['venv']}"]
    run([*make, "run"], cwd=project, env=installed["env"])
    assert promotion(project)["decision"] == "promoted"
    clone = project.parent / "cancer-clone"
    run(["git", "clone", "-q", str(project), str(clone)], cwd=project.parent, env=installed["env"])
    tested = run([*make, "test"], cwd=clone, env=installed["env"])
    # every test of the project ran and passed: its settings, the sample build, nbval, and its deployment
    # files (tests/test_deploy.py: hadolint, kustomize + kubernetes-validate, Argo, actionlint, promtool)
    count = sum(path.read_text().count("\ndef test_") for path in (clone / "tests").glob("test_*.py"))
    assert (clone / "tests" / "test_deploy.py").is_file() and count >= 8
    assert f" {count} passed" in tested.stdout and " failed" not in tested.stdout, tested.stdout[-3000:]


@pytest.mark.parametrize(("table", "target", "inferred", "task"), [
    ("iris", "species", "multiclass classification", "classification"),
    ("diabetes", "target", "time column: visit_date (text)", "regression"),
], ids=["multiclass", "regression-with-dates-as-text"])
def test_table_builds_to_a_champion_with_nbprod_build(installed, tables, table, target, inferred, task):
    project, printed = new_project(installed, table, tables[table], target)
    assert inferred in printed
    run([str(installed["venv"] / "bin" / "nbprod"), "build"], cwd=project, env=installed["env"])
    assert promotion(project)["decision"] == "promoted"
    assert json.loads((project / "build" / "evaluation.json").read_text())["task"] == task
