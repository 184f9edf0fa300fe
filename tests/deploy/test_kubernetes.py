"""The Kubernetes manifests (kustomize base + overlays under deploy/k8s), rendered and validated offline.

Each overlay is rendered by nbprod.scaffold.kustomize (its output was compared by hand with
``kubectl kustomize`` v5.5.0: identical for both overlays) and every resource is validated
strictly (unknown fields refused) against the Kubernetes OpenAPI schemas that
``kubernetes-validate`` ships, by nbprod.scaffold.validate (which the projects ``nbprod new`` writes
run on their own copy). Applying them needs a cluster (README, "Deploying").
"""

from __future__ import annotations

import copy
import re

import kubernetes_validate
import pytest
import yaml

from deploy_helpers import REPO
from nbprod.scaffold.kustomize import KustomizeError, render
from nbprod.scaffold.validate import (kubernetes_problems, kubernetes_versions, mebibytes, pod_spec,
                                     validate_kubernetes)

K8S = REPO / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
#: The oldest and the newest Kubernetes minor versions the manifests are checked against.
VERSIONS = kubernetes_versions()


def settings() -> dict:
    return yaml.safe_load((REPO / "env.yaml").read_text())


def rendered(overlay: str) -> dict[tuple[str, str], dict]:
    """(kind, name) -> resource of an overlay."""
    return {(resource["kind"], resource["metadata"]["name"]): resource for resource in render(K8S / "overlays" / overlay)}


def test_every_rendered_resource_is_valid_kubernetes():
    for overlay in OVERLAYS:
        kinds = sorted(resource["kind"] for resource in render(K8S / "overlays" / overlay))
        assert kinds == ["ConfigMap", "CronJob", "Deployment", "Deployment", "HorizontalPodAutoscaler",
                         "PersistentVolumeClaim", "PodDisruptionBudget", "Service", "Service"]
    assert VERSIONS[0] == "1.30.0" and VERSIONS[0] != VERSIONS[1]
    assert kubernetes_problems(REPO) == []


def test_a_broken_overlay_is_reported_by_resource_and_version(tmp_path):
    import shutil

    shutil.copytree(K8S, tmp_path / "deploy" / "k8s")
    serve = tmp_path / "deploy" / "k8s" / "base" / "serve.yaml"
    serve.write_text(serve.read_text().replace("containerPort: 8765", "containerPort: http"))
    problems = kubernetes_problems(tmp_path)
    assert len(problems) == len(OVERLAYS) * len(VERSIONS)
    assert all("Deployment/nbprod-serve" in problem for problem in problems)


@pytest.mark.parametrize("breakage", ["a string where a number belongs", "a misspelt field", "a missing field"])
def test_a_broken_manifest_is_caught(breakage):
    deployment = copy.deepcopy(rendered("prod")[("Deployment", "nbprod-serve")])
    container = pod_spec(deployment)["containers"][0]
    if breakage == "a string where a number belongs":
        container["ports"][0]["containerPort"] = "http"
    elif breakage == "a misspelt field":
        container["livenessProbes"] = container.pop("livenessProbe")
    else:
        del container["name"]
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_kubernetes(deployment, VERSIONS[-1])


def test_renderer_refuses_a_kustomize_feature_it_does_not_implement(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\nnamePrefix: team-\n")
    with pytest.raises(KustomizeError, match="namePrefix"):
        render(tmp_path)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_memory_is_the_gates_budget(overlay):
    budget = settings()["registry"]["budget"]["max_memory_mb"]
    resources = pod_spec(rendered(overlay)[("Deployment", "nbprod-serve")])["containers"][0]["resources"]
    assert mebibytes(resources["limits"]["memory"]) == budget
    assert mebibytes(resources["requests"]["memory"]) == budget


def test_service_probes_port_and_scrape_annotation_follow_env_yaml():
    deployment = rendered("prod")[("Deployment", "nbprod-serve")]
    container = pod_spec(deployment)["containers"][0]
    port = settings()["serve"]["port"]
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert container["args"][-2:] == ["--port", str(port)]
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port) and annotations["prometheus.io/path"] == "/metrics"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_runs_as_the_images_non_root_user(overlay):
    uid = int(re.search(r"^ARG UID=(\d+)$", (REPO / "Dockerfile").read_text(), re.MULTILINE).group(1))
    workloads = [resource for resource in rendered(overlay).values() if resource["kind"] in ("Deployment", "CronJob")]
    assert len(workloads) == 3
    for resource in workloads:
        pod = pod_spec(resource)
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == uid
        for container in pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_credentials_come_from_secrets_and_the_tracking_uri_from_the_config_map(overlay):
    resources = rendered(overlay)
    token_env = settings()["serve"]["token_env"]
    for resource in resources.values():
        if resource["kind"] not in ("Deployment", "CronJob"):
            continue
        container = pod_spec(resource)["containers"][0]
        assert container["envFrom"] == [{"configMapRef": {"name": "nbprod-config"}}]
        env = {item["name"]: item for item in container["env"]}
        assert all("value" not in item for item in env.values()), "no literal values in env"
        for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "nbprod-secrets"
        if resource["metadata"]["name"] == "nbprod-serve":
            assert env[token_env]["valueFrom"]["secretKeyRef"] == {"name": "nbprod-secrets", "key": "token"}
    assert set(resources[("ConfigMap", "nbprod-config")]["data"]) == {"MLFLOW_TRACKING_URI"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_selectors_targets_and_commands_hang_together(overlay):
    resources = rendered(overlay)
    labels = resources[("Deployment", "nbprod-serve")]["spec"]["template"]["metadata"]["labels"]
    for kind in ("Service", "PodDisruptionBudget"):
        spec = resources[(kind, "nbprod-serve")]["spec"]
        selector = spec["selector"].get("matchLabels", spec["selector"])
        assert selector.items() <= labels.items()
    hpa = resources[("HorizontalPodAutoscaler", "nbprod-serve")]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "nbprod-serve"}
    assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"]
    assert pod_spec(resources[("CronJob", "nbprod-monitor")])["containers"][0]["args"] == ["monitor"]
    assert pod_spec(resources[("Deployment", "nbprod-dashboards")])["containers"][0]["args"][:3] == \
        ["dashboard", "--host", "0.0.0.0"]
    claims = {volume["persistentVolumeClaim"]["claimName"] for resource in resources.values()
              if resource["kind"] in ("Deployment", "CronJob") for volume in pod_spec(resource)["volumes"]
              if "persistentVolumeClaim" in volume}
    assert claims == {"nbprod-data"} and ("PersistentVolumeClaim", "nbprod-data") in resources


def test_overlays_set_the_namespace_and_the_image():
    for overlay, namespace, image in (("dev", "nbprod-dev", "nbprod:dev"),
                                      ("prod", "nbprod", "registry.example.com/nbprod:0.1.0")):
        resources = rendered(overlay).values()
        assert {resource["metadata"]["namespace"] for resource in resources} == {namespace}
        images = {container["image"] for resource in resources if resource["kind"] in ("Deployment", "CronJob")
                  for container in pod_spec(resource)["containers"]}
        assert images == {image}
