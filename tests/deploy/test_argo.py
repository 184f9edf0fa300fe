"""``nbprod export argo``: the pipeline as an Argo Workflow, checked offline.

No JSON schema of Argo is shipped by any package installed here, so the YAML is validated by
parsing it with Hera's generated Argo models (``hera.workflows.models.Workflow``, pydantic
models generated from Argo's OpenAPI specification): types are checked by pydantic, and a
round trip through the model must give back the same document, so a field Argo does not know
(which pydantic would silently drop) is caught too. The volume claim is validated as a
Kubernetes PersistentVolumeClaim with kubernetes-validate. (Checked once by hand, not here:
the exported YAML has no error against Argo's own api/jsonschema/schema.json of v4.1.) Submitting
it needs a cluster.
"""

from __future__ import annotations

import json

import kubernetes_validate
import pydantic
import pytest
import yaml
from nbprod import cli
from nbprod import settings as settings_module
from nbprod.pipeline import dag as dag_module
from nbprod.pipeline.argo import IMAGE_UID, step_name, workflow
from nbprod.scaffold.validate import NotArgo, argo_edges, validate_argo
from project_copy import copy_project
from deploy_helpers import REPO


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return copy_project(tmp_path_factory.mktemp("argo") / "project", git=False)


@pytest.fixture(scope="module")
def exported(project, tmp_path_factory) -> dict:
    """The workflow ``nbprod export argo`` writes for the project, with an image and an override."""
    target = tmp_path_factory.mktemp("export") / "pipeline-argo.yaml"
    code = cli.main(["export", "argo", "--project", str(project), "--image", "registry.example.com/nbprod:1.2.3",
                     "-o", str(target), "--set", "sample_frac=0.1"])
    assert code == 0
    return yaml.safe_load(target.read_text())


def templates(document: dict) -> dict[str, dict]:
    return {template["name"]: template for template in document["spec"]["templates"]}


def steps(document: dict) -> list[dict]:
    return templates(document)[document["spec"]["entrypoint"]]["dag"]["tasks"]


def test_workflow_edges_equal_the_pipeline_yaml_edges(project, exported):
    dag = dag_module.load_dag(project, settings_module.load(project))
    tasks, edges = argo_edges(exported)
    assert edges == set(dag_module.edges(dag))
    assert tasks == set(dag_module.task_names(dag)) and len(steps(exported)) == len(tasks)


def test_every_step_runs_nbprod_task_in_the_image_with_the_overrides(exported):
    for step in steps(exported):
        container = templates(exported)[step["template"]]["container"]
        assert container["image"] == "registry.example.com/nbprod:1.2.3"
        assert container["command"] == ["nbprod"]
        assert container["args"][0] == "task" and container["args"][2:] == ["--set", "sample_frac=0.1"]
        assert {mount["mountPath"] for mount in container["volumeMounts"]} == {"/app/build", "/app/reports"}
        assert container["envFrom"] == [{"configMapRef": {"name": "nbprod-config"}}]


def test_workflow_validates_against_argos_models(exported):
    validate_argo(exported)
    assert exported["apiVersion"] == "argoproj.io/v1alpha1" and exported["kind"] == "Workflow"
    assert exported["spec"]["securityContext"]["runAsUser"] == IMAGE_UID


def test_shared_volume_is_a_valid_claim_that_every_step_mounts(exported):
    (claim,) = exported["spec"]["volumeClaimTemplates"]
    kubernetes_validate.validate({"apiVersion": "v1", "kind": "PersistentVolumeClaim", **claim},
                                 kubernetes_validate.latest_version(), strict=True)
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    for step in steps(exported):
        mounts = templates(exported)[step["template"]]["container"]["volumeMounts"]
        assert {mount["name"] for mount in mounts} == {claim["metadata"]["name"]}


def test_image_user_of_the_workflow_is_the_dockerfiles():
    assert f"ARG UID={IMAGE_UID}\n" in (REPO / "Dockerfile").read_text()


@pytest.mark.parametrize("breakage", ["a string where a list belongs", "a misspelt field"])
def test_a_broken_workflow_is_caught(exported, breakage):
    document = json.loads(json.dumps(exported))
    container = document["spec"]["templates"][0]["container"]
    if breakage == "a string where a list belongs":
        container["args"] = " ".join(container["args"])
        with pytest.raises(pydantic.ValidationError):
            validate_argo(document)
    else:
        container["volumeMount"] = container.pop("volumeMounts")
        with pytest.raises(NotArgo):
            validate_argo(document)


def test_step_names_are_argo_safe_and_colliding_names_are_refused():
    assert step_name("Train_Model") == "train-model"
    with pytest.raises(ValueError, match="collide"):
        workflow(["a_b", "a-b"], [], "nbprod:latest", "nbprod")


def test_export_to_stdout_and_an_unwritable_file(project, capsys, tmp_path):
    assert cli.main(["export", "argo", "--project", str(project)]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["kind"] == "Workflow"
    assert cli.main(["export", "argo", "--project", str(project), "-o", str(tmp_path / "no" / "such.yaml")]) == 2
    assert capsys.readouterr().err.startswith("nbprod export: cannot write ")


def test_a_recommender_project_exports_its_own_pipeline(tmp_path):
    folder = tmp_path / "movies"
    assert cli.main(["new", str(folder), "--template", "recommender"]) == 0
    target = tmp_path / "pipeline-argo.yaml"
    assert cli.main(["export", "argo", "--project", str(folder), "--image", "registry.example.com/movies:1",
                     "-o", str(target), "--set", "sample_frac=0.1"]) == 0
    document = yaml.safe_load(target.read_text())
    validate_argo(document)
    dag = dag_module.load_dag(folder, settings_module.load(folder))
    tasks, edges = argo_edges(document)
    assert tasks == set(dag_module.task_names(dag)) == {"get", "eda", "prepare", "train", "evaluate", "promote"}
    assert edges == set(dag_module.edges(dag)) and ("evaluate", "promote") in edges
    for step in steps(document):
        args = templates(document)[step["template"]]["container"]["args"]
        assert args[0] == "task" and args[2:] == ["--set", "sample_frac=0.1"]
