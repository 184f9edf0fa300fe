"""A tiny renderer of the kustomize features ``deploy/k8s`` uses, for machines without kustomize.

The deployment tests of this repository and of every project ``nbprod new`` writes render
their overlays with it (see :mod:`nbprod.scaffold.validate`).

Supported: ``resources`` (files and folders holding a kustomization.yaml), ``namespace``,
``images`` (``newName``/``newTag`` on containers) and ``patches`` given as a ``path`` to a
strategic-merge patch with a ``target`` kind and name (maps merged key by key, lists of maps
merged by their ``name``). Anything else in a kustomization.yaml is refused, so the manifests
cannot silently rely on a feature this renderer ignores. ``kubectl apply -k`` is what deploys.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
#: Resource kinds that live outside namespaces (none in deploy/k8s; kept for correctness).
CLUSTER_KINDS = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"}


class KustomizeError(ValueError):
    """A kustomization this renderer cannot render."""


def render(folder: Path) -> list[dict[str, Any]]:
    """The resources of the kustomization in ``folder``, as kustomize would build them."""
    spec = yaml.safe_load((folder / "kustomization.yaml").read_text())
    unknown = set(spec) - SUPPORTED
    if unknown:
        raise KustomizeError(f"{folder}/kustomization.yaml: unsupported fields {sorted(unknown)}")
    resources: list[dict[str, Any]] = []
    for entry in spec.get("resources", []):
        path = (folder / entry).resolve()
        resources += render(path) if path.is_dir() else [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for patch in spec.get("patches", []):
        apply_patch(resources, yaml.safe_load((folder / patch["path"]).read_text()), patch["target"])
    for image in spec.get("images", []):
        set_image(resources, image)
    if "namespace" in spec:
        for resource in resources:
            if resource["kind"] not in CLUSTER_KINDS:
                resource["metadata"]["namespace"] = spec["namespace"]
    return resources


def apply_patch(resources: list[dict[str, Any]], patch: dict[str, Any], target: dict[str, str]) -> None:
    """Merge ``patch`` into the resource of ``target``'s kind and name."""
    matches = [resource for resource in resources
               if resource["kind"] == target["kind"] and resource["metadata"]["name"] == target["name"]]
    if len(matches) != 1:
        raise KustomizeError(f"patch target {target} matches {len(matches)} resources")
    merged = merge(matches[0], patch)
    matches[0].clear()
    matches[0].update(merged)


def merge(base: Any, patch: Any) -> Any:
    """A strategic merge: maps key by key, lists of named maps by name, anything else replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        result = copy.deepcopy(base)
        for key, value in patch.items():
            result[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return result
    if isinstance(base, list) and isinstance(patch, list) and all(isinstance(item, dict) and "name" in item
                                                                  for item in base + patch):
        result = copy.deepcopy(base)
        names = [item["name"] for item in result]
        for item in patch:
            if item["name"] in names:
                index = names.index(item["name"])
                result[index] = merge(result[index], item)
            else:
                result.append(copy.deepcopy(item))
        return result
    return copy.deepcopy(patch)


def set_image(resources: list[dict[str, Any]], image: dict[str, str]) -> None:
    """Rewrite containers whose image is ``image["name"]`` (with or without a tag)."""
    for container in containers(resources):
        name, _, tag = container["image"].partition(":")
        if name == image["name"]:
            container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag or 'latest')}"


def containers(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every container (and init container) of the workloads among ``resources``."""
    found = []
    for resource in resources:
        spec = resource.get("spec", {})
        pod = spec.get("jobTemplate", {}).get("spec", spec).get("template", {}).get("spec", {})
        found += pod.get("containers", []) + pod.get("initContainers", [])
    return found
