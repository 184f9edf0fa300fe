"""The offline checks of a project's deployment kit, shared by this repository's tests (``tests/deploy``)
and the tests of every project ``nbprod new`` writes (its ``tests/test_deploy.py``).

The kit: ``Dockerfile`` and ``.dockerignore`` (hadolint), ``deploy/k8s`` (rendered by
:mod:`nbprod.scaffold.kustomize`, validated with kubernetes-validate), ``nbprod export argo``
(Hera's generated Argo models), ``.github/workflows/ci.yml`` (actionlint and GitHub's workflow
schema through check-jsonschema) and ``deploy/monitoring`` (promtool). The Python tools come
with nbprod's ``test`` extra; promtool from Debian's ``prometheus`` package
(``scripts/install-promtool.sh``). Nothing here needs a Docker engine or a cluster; the tools
are imported or run only when a check is called.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

#: The project's deployment files, relative to the project.
DOCKERFILE = "Dockerfile"
DOCKERIGNORE = ".dockerignore"
K8S = "deploy/k8s"
OVERLAYS = ("dev", "prod")
WORKFLOW = ".github/workflows/ci.yml"
ALERTS = "deploy/monitoring/alerts.yaml"
ALERT_TESTS = "deploy/monitoring/alerts.test.yaml"
DASHBOARD = "deploy/monitoring/grafana-dashboard.json"
#: The oldest Kubernetes minor version the manifests are checked against (and the newest known).
OLDEST_KUBERNETES = "1.30.0"
#: What Grafana puts in place of its variables before a query reaches Prometheus.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$instance": ".*"}
SELECTOR = re.compile(r"\b(nbprod_[a-z0-9_]+)\s*(?:\{([^}]*)\})?")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
#: Seconds any one tool may take.
TOOL_TIMEOUT = 300


class NotArgo(ValueError):
    """A document that Hera's Argo models change on a round trip (fields Argo does not know)."""


# -- tools -----------------------------------------------------------------------------------
def tool(name: str) -> str:
    """The path of a command-line tool installed beside this Python (the test extra), else on PATH.

    Raises
    ------
    FileNotFoundError
        The tool is not installed (the message says how to install it).
    """
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        hint = "bash scripts/install-promtool.sh" if name == "promtool" else "pip install 'nbprod[test]'"
        raise FileNotFoundError(f"{name} is not installed: {hint}")
    return found


def run_tool(name: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run a tool and capture its output (never raises on a non-zero exit)."""
    return subprocess.run([tool(name), *args], cwd=cwd, capture_output=True, text=True, timeout=TOOL_TIMEOUT,
                          env={**os.environ, "NO_COLOR": "1"})


# -- Dockerfile ------------------------------------------------------------------------------
def hadolint(dockerfile: Path) -> list[dict]:
    """hadolint's findings for ``dockerfile`` (its JSON output; no rule ignored)."""
    result = run_tool("hadolint", "--no-color", "--format", "json", str(dockerfile))
    return json.loads(result.stdout or "[]")


def dockerfile_stages(text: str) -> list[list[str]]:
    """A Dockerfile's instructions (continuation lines joined, comments dropped), one list per stage."""
    joined = re.sub(r"\\\n\s*", " ", text)
    instructions = [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    result: list[list[str]] = []
    for line in instructions:
        if line.upper().startswith("FROM "):
            result.append([])
        if result:
            result[-1].append(line)
    return result


def copied_sources(text: str) -> list[str]:
    """The paths a Dockerfile copies from the build context (``COPY`` without ``--from``)."""
    return [word for stage in dockerfile_stages(text) for line in stage
            if line.startswith("COPY ") and "--from=" not in line for word in line.split()[1:-1]]


def build_context_problems(project: Path) -> list[str]:
    """Every path the project's Dockerfile copies that is missing or that ``.dockerignore`` leaves out."""
    ignore = [line.strip() for line in (project / DOCKERIGNORE).read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    problems = []
    for source in copied_sources((project / DOCKERFILE).read_text()):
        if not (project / source).exists():
            problems.append(f"{source}: copied by the Dockerfile, missing")
        included = False
        for pattern in ignore:
            if fnmatch.fnmatch(source, pattern.lstrip("!").rstrip("/")):
                included = pattern.startswith("!")
        if not included:
            problems.append(f"{source}: excluded by .dockerignore")
    return problems


# -- Kubernetes ------------------------------------------------------------------------------
def kubernetes_versions() -> tuple[str, str]:
    """The oldest and the newest Kubernetes versions the manifests are validated against."""
    import kubernetes_validate

    return OLDEST_KUBERNETES, kubernetes_validate.latest_version()


def render_overlay(project: Path, overlay: str) -> list[dict[str, Any]]:
    """The resources of ``deploy/k8s/overlays/<overlay>``, as ``kubectl kustomize`` builds them."""
    from nbprod.scaffold.kustomize import render

    return render(project / K8S / "overlays" / overlay)


def validate_kubernetes(resource: dict[str, Any], version: str) -> None:
    """Raise ``kubernetes_validate.ValidationError`` unless ``resource`` is valid Kubernetes (unknown fields
    refused)."""
    import kubernetes_validate

    kubernetes_validate.validate(resource, version, strict=True)


def kubernetes_problems(project: Path) -> list[str]:
    """Each resource of each overlay that fails strict validation, at each checked version, with the reason."""
    import kubernetes_validate

    problems = []
    for overlay in OVERLAYS:
        for resource in render_overlay(project, overlay):
            for version in kubernetes_versions():
                try:
                    validate_kubernetes(resource, version)
                except kubernetes_validate.ValidationError as error:
                    problems.append(f"{overlay}: {resource['kind']}/{resource['metadata']['name']} "
                                    f"(Kubernetes {version}): {error.message}")
    return problems


def pod_spec(resource: dict[str, Any]) -> dict[str, Any]:
    """The pod spec of a Deployment or a CronJob."""
    spec = resource["spec"]
    return spec.get("jobTemplate", {}).get("spec", spec)["template"]["spec"]


def mebibytes(quantity: str) -> int:
    """A memory quantity written in ``Mi`` or ``Gi`` as mebibytes."""
    match = re.fullmatch(r"(\d+)(Mi|Gi)", quantity)
    if match is None:
        raise ValueError(f"memory quantity {quantity!r}: expected a whole number of Mi or Gi")
    return int(match.group(1)) * (1024 if match.group(2) == "Gi" else 1)


# -- Argo ------------------------------------------------------------------------------------
def validate_argo(document: dict[str, Any]) -> None:
    """Raise pydantic's ValidationError for wrong types, :class:`NotArgo` for fields Argo does not define.

    No JSON schema of Argo is installable offline: the document is parsed with Hera's Argo
    models (pydantic, generated from Argo's OpenAPI specification) and must come back unchanged
    from a round trip (pydantic silently drops unknown fields).
    """
    from hera.workflows.models import Workflow as ArgoWorkflow

    model = ArgoWorkflow.model_validate(document)
    again = model.model_dump(by_alias=True, exclude_none=True, mode="json")
    if json.dumps(again, sort_keys=True) != json.dumps(document, sort_keys=True):
        raise NotArgo("the document has fields Argo's Workflow does not define")


def argo_edges(document: dict[str, Any]) -> tuple[set[str], set[tuple[str, str]]]:
    """(tasks, ``(upstream, downstream)`` edges) of an exported workflow, read from its steps' commands."""
    templates = {template["name"]: template for template in document["spec"]["templates"]}
    steps = templates[document["spec"]["entrypoint"]]["dag"]["tasks"]
    task_of = {step["name"]: templates[step["template"]]["container"]["args"][1] for step in steps}
    edges = {(task_of[upstream], task_of[step["name"]]) for step in steps for upstream in step.get("dependencies", [])}
    return set(task_of.values()), edges


# -- CI workflow -----------------------------------------------------------------------------
def workflow_problems(path: Path) -> dict[str, str]:
    """Tool -> its complaints about the GitHub Actions workflow at ``path`` ('' when it has none)."""
    lint = run_tool("actionlint", "-no-color", "-oneline", str(path), cwd=path.parent)
    schema = run_tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(path), cwd=path.parent)
    return {"actionlint": "" if lint.returncode == 0 else lint.stdout + lint.stderr,
            "schema": "" if schema.returncode == 0 else schema.stdout + schema.stderr}


# -- Prometheus rules and the Grafana dashboard ----------------------------------------------
def run_promtool(*args: str) -> subprocess.CompletedProcess:
    """Run promtool (Debian's prometheus package) and capture its output."""
    return run_tool("promtool", *args)


def alert_expressions(alerts: Path) -> dict[str, str]:
    """Alert name -> expression, of a Prometheus rule file."""
    groups = yaml.safe_load(alerts.read_text())["groups"]
    return {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"] if "alert" in rule}


def dashboard_expressions(dashboard: dict[str, Any]) -> dict[str, str]:
    """``panel title/refId`` -> the query as Prometheus receives it (Grafana variables replaced)."""
    found = {}
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            found[f"{panel['title']}/{target['refId']}"] = expr
    return found


def as_recording_rules(expressions: dict[str, str], folder: Path) -> Path:
    """A rule file recording each expression, so that ``promtool check rules`` parses them all."""
    rules = [{"record": f"dashboard:query_{index}", "expr": expr} for index, expr in enumerate(expressions.values())]
    path = folder / "queries.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    return path


def selectors(expr: str) -> list[tuple[str, set[str]]]:
    """``(metric family, label names matched)`` of each nbprod series selector in ``expr``."""
    result = []
    for name, matchers in SELECTOR.findall(expr):
        family = next((name[: -len(suffix)] for suffix in HISTOGRAM_SUFFIXES if name.endswith(suffix)), name)
        result.append((family, set(MATCHER.findall(matchers or ""))))
    return result


def monitoring_problems(project: Path, scratch: Path) -> list[str]:
    """What promtool says against the project's alert rules, their unit tests and the dashboard's queries.

    ``scratch`` is a folder for the dashboard's queries written as recording rules.
    """
    dashboard = json.loads((project / DASHBOARD).read_text())
    checks = {"check rules": ("check", "rules", str(project / ALERTS)),
              "test rules": ("test", "rules", str(project / ALERT_TESTS)),
              "dashboard queries": ("check", "rules",
                                    str(as_recording_rules(dashboard_expressions(dashboard), scratch)))}
    problems = []
    for name, args in checks.items():
        result = run_promtool(*args)
        if result.returncode != 0:
            problems.append(f"promtool {name}: {(result.stdout + result.stderr).strip()}")
    return problems
