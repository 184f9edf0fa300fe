"""``nbprod new`` writes the deployment kit: the repository's own files with the project's names, the nbprod
the image installs; the kit passes the offline checks its project's ``make test`` runs."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from nbprod import cli
from nbprod.scaffold import deploykit, validate
from nbprod.scaffold.origin import Origin, installed_origin
from nbprod.scaffold.render import RenderError
from nbprod.scaffold.template import template_folder

REPO = Path(__file__).resolve().parents[2]
#: Kit entry of the template -> the repository's own file or folder it links to.
REPO_FILES = {"Dockerfile": "Dockerfile", "dockerignore": ".dockerignore", "requirements.lock": "requirements.lock",
              "ci.yml": ".github/workflows/ci.yml", "deploy": "deploy",
              "scripts/install-promtool.sh": "scripts/install-promtool.sh"}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project written by ``nbprod new`` from a 60-row table, in a folder named ``Churn Model``."""
    folder = tmp_path_factory.mktemp("kit")
    rng = np.random.default_rng(0)
    pd.DataFrame({"plan": rng.choice(["basic", "pro"], 60), "minutes": rng.normal(300, 40, 60).round(1),
                  "churn": ["No"] * 45 + ["Yes"] * 15}).to_csv(folder / "churn.csv", index=False)
    assert cli.main(["new", str(folder / "Churn Model"), "--data", str(folder / "churn.csv"),
                     "--target", "churn"]) == 0
    return folder / "Churn Model"


def kit_files() -> list[tuple[str, Path]]:
    """(path in a project, the repository's file) of every file of the kit."""
    found = []
    for entry, target in deploykit.KIT.items():
        source = REPO / REPO_FILES[entry]
        assert (template_folder() / entry).resolve() == source.resolve(), f"{entry} is not the repository's file"
        if source.is_dir():
            found += [(f"{target}/{path.relative_to(source).as_posix()}", path)
                      for path in sorted(source.rglob("*")) if path.is_file()]
        else:
            found.append((target, source))
    return found


def test_the_kit_is_the_repositorys_files_with_only_the_listed_edits(project):
    values = {"image": "churn-model",
              "install": deploykit.PROJECT_INSTALL.format(requirement=deploykit.image_requirement(installed_origin()))}
    changed = set()
    for relative, source in kit_files():
        written = (project / relative).read_text()
        assert written == deploykit.edit(source.read_text(), relative, values), relative
        if written != source.read_text():
            changed.add(relative)
    assert changed == {change.path for change in deploykit.EDITS}


def test_the_kit_carries_the_projects_names(project):
    dev = yaml.safe_load((project / "deploy/k8s/overlays/dev/kustomization.yaml").read_text())
    prod = yaml.safe_load((project / "deploy/k8s/overlays/prod/kustomization.yaml").read_text())
    assert dev["namespace"] == "churn-model-dev" and dev["images"] == [
        {"name": "nbprod", "newName": "churn-model", "newTag": "dev"}]
    assert prod["namespace"] == "churn-model" and prod["images"][0]["newName"] == "registry.example.com/churn-model"
    assert yaml.safe_load((project / ".github/workflows/ci.yml").read_text())["env"]["IMAGE"] == "churn-model"
    dockerfile = (project / "Dockerfile").read_text()
    assert "COPY data ./data\n" in dockerfile and "COPY src" not in dockerfile
    makefile = (project / "Makefile").read_text()
    assert "docker build -t churn-model:latest ." in makefile
    # every job of the shared workflow is a target of the project's Makefile; make test installs promtool
    workflow = yaml.safe_load((project / ".github/workflows/ci.yml").read_text())
    targets = {line.split(":", 1)[0] for line in makefile.splitlines() if re.match(r"^[a-z-]+:", line)}
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if step.get("run", "").startswith("make "):
                assert step["run"].split()[1] in targets, step["run"]
    assert re.search(r"^test: .*promtool", makefile, re.MULTILINE)
    assert (project / "scripts/install-promtool.sh").read_text().startswith("#!/bin/sh")
    assert "@@" not in (project / "tests/test_deploy.py").read_text() + (project / "README.md").read_text()


def test_the_image_installs_the_wheel_nbprod_was_installed_from(tmp_path):
    wheel = tmp_path / "dist" / "nbprod-9.9.9-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"a wheel")
    folder = tmp_path / "project"
    deploykit.write_kit(folder, template_folder(), "churn", Origin("9.9.9", wheel.as_uri()))
    assert (folder / "wheels" / wheel.name).read_bytes() == b"a wheel"
    assert f"ARG NBPROD=wheels/{wheel.name}\n" in (folder / "Dockerfile").read_text()
    assert "a copy of that wheel" in (folder / "wheels" / "README.md").read_text()
    assert deploykit.image_requirement(Origin("9.9.9", "file:///checkout")) == "nbprod==9.9.9"
    assert deploykit.image_requirement(Origin("9.9.9")) == "nbprod==9.9.9"


def test_a_reference_file_that_lost_an_edited_text_stops_the_writing():
    with pytest.raises(RenderError, match="deployment kit's Dockerfile no longer holds 'COPY pyproject.toml"):
        deploykit.edit("FROM python:3.11-slim\n", "Dockerfile", {"image": "x", "install": ""})


def test_the_generated_kit_passes_the_checks_its_make_test_runs(project, tmp_path):
    """The checks of the project's tests/test_deploy.py on the files the edits change, here in-process (the
    wheel test runs that file itself, the Argo export included, through the project's ``make test``)."""
    assert validate.hadolint(project / validate.DOCKERFILE) == []
    assert validate.build_context_problems(project) == []
    assert validate.kubernetes_problems(project) == []
    assert validate.workflow_problems(project / validate.WORKFLOW) == {"actionlint": "", "schema": ""}
    assert validate.monitoring_problems(project, tmp_path) == []
