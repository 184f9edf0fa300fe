"""This project's deployment files, checked offline with the checks nbprod's own repository runs on its copy
(nbprod.scaffold.validate): hadolint, kustomize render + kubernetes-validate, the Argo export against Argo's
models, actionlint + GitHub's workflow schema, promtool. Building and deploying need Docker and a cluster."""

from __future__ import annotations

import yaml
from conftest import PROJECT

from nbprod import cli, settings
from nbprod.pipeline import dag as dag_module
from nbprod.scaffold import validate


def test_dockerfile_passes_hadolint_and_its_build_context_holds_what_it_copies():
    assert validate.hadolint(PROJECT / validate.DOCKERFILE) == []
    assert validate.build_context_problems(PROJECT) == []


def test_kubernetes_overlays_render_and_validate_and_follow_env_yaml():
    assert validate.kubernetes_problems(PROJECT) == []
    loaded = settings.load(PROJECT)
    for overlay in validate.OVERLAYS:
        resources = {(item["kind"], item["metadata"]["name"]): item
                     for item in validate.render_overlay(PROJECT, overlay)}
        container = validate.pod_spec(resources[("Deployment", "nbprod-serve")])["containers"][0]
        assert validate.mebibytes(container["resources"]["limits"]["memory"]) == \
            loaded["registry"]["budget"]["max_memory_mb"]
        assert container["ports"][0]["containerPort"] == loaded["serve"]["port"]


def test_argo_export_validates_and_has_the_pipelines_edges(tmp_path):
    target = tmp_path / "pipeline-argo.yaml"
    assert cli.main(["export", "argo", "--project", str(PROJECT), "--image", "@@IMAGE@@:latest",
                     "-o", str(target)]) == 0
    document = yaml.safe_load(target.read_text())
    validate.validate_argo(document)
    tasks, edges = validate.argo_edges(document)
    dag = dag_module.load_dag(PROJECT, settings.load(PROJECT))
    assert tasks == set(dag_module.task_names(dag)) and edges == set(dag_module.edges(dag))


def test_ci_workflow_passes_actionlint_and_githubs_schema():
    assert validate.workflow_problems(PROJECT / validate.WORKFLOW) == {"actionlint": "", "schema": ""}


def test_alert_rules_their_tests_and_the_dashboards_queries_pass_promtool(tmp_path):
    assert validate.monitoring_problems(PROJECT, tmp_path) == []
    budget_ms = settings.load(PROJECT)["registry"]["budget"]["max_p99_ms"]
    p99 = validate.alert_expressions(PROJECT / validate.ALERTS)["NbprodHighLatencyP99"]
    assert p99.strip().endswith(f"> {budget_ms / 1000:g}")
