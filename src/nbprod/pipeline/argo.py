"""The pipeline as an Argo Workflow: one DAG step per task, each running ``nbprod task NAME`` in the image.

The steps share the project's products and reports on one volume (a claim made for the run,
ReadWriteMany since independent steps may run at once on different nodes) and the MLflow
store named by the ``nbprod-config`` ConfigMap, with the credentials of the ``nbprod-secrets``
Secret (the names deploy/k8s uses). Built with Hera; Hera is imported only when a workflow is
made.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

#: The image's non-root user and group (the Dockerfile's ``ARG UID``).
IMAGE_UID = 10001
#: Where the image's project keeps products and reports (env.yaml ``products`` and ``reports``, under WORKDIR).
MOUNTS = {"build": "/app/build", "reports": "/app/reports"}
CONFIG_MAP = "nbprod-config"
SECRET = "nbprod-secrets"
#: Environment variable -> key of :data:`SECRET`.
SECRET_KEYS = {"MLFLOW_TRACKING_USERNAME": "mlflow-username", "MLFLOW_TRACKING_PASSWORD": "mlflow-password"}
VOLUME = "products"


def step_name(task: str) -> str:
    """An Argo-safe step name for a task (lower case, letters, digits and dashes)."""
    return re.sub(r"[^a-z0-9-]+", "-", task.lower()).strip("-") or "task"


def upstream_of(tasks: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """Task -> its upstream tasks (sorted), from ``(upstream, downstream)`` edges."""
    return {task: sorted(up for up, down in edges if down == task) for task in tasks}


def task_command(task: str, overrides: Sequence[str] = ()) -> list[str]:
    """The arguments of ``nbprod`` that build ``task`` with the ``--set`` overrides."""
    return ["task", task, *[part for override in overrides for part in ("--set", override)]]


def workflow(tasks: Sequence[str], edges: Sequence[tuple[str, str]], image: str, name: str,
             overrides: Sequence[str] = (), storage: str = "20Gi") -> Any:
    """A Hera ``Workflow`` of the DAG; ``name`` prefixes the runs' generated names.

    The entry point is the DAG template ``pipeline``; each task's container template is
    ``task-<step name>``; a DAG step is named after its task (see :func:`step_name`).
    """
    from hera.workflows import DAG, ConfigMapEnvFrom, Container, SecretEnv, Task, Workflow
    from hera.workflows import models as m

    names = {task: step_name(task) for task in tasks}
    if len(set(names.values())) != len(names):
        raise ValueError(f"task names collide as Argo step names: {names}")
    claim = m.PersistentVolumeClaim(
        metadata=m.ObjectMeta(name=VOLUME),
        spec=m.PersistentVolumeClaimSpec(access_modes=["ReadWriteMany"],
                                         resources=m.VolumeResourceRequirements(requests={"storage": storage})))
    security = m.PodSecurityContext(run_as_non_root=True, run_as_user=IMAGE_UID, run_as_group=IMAGE_UID,
                                    fs_group=IMAGE_UID)
    mounts = [m.VolumeMount(name=VOLUME, mount_path=path, sub_path=sub) for sub, path in MOUNTS.items()]
    env = [SecretEnv(name=variable, secret_name=SECRET, secret_key=key, optional=True)
           for variable, key in SECRET_KEYS.items()]
    with Workflow(generate_name=f"{step_name(name)}-", entrypoint="pipeline", volume_claim_templates=[claim],
                  security_context=security) as argo_workflow:
        templates = {task: Container(name=f"task-{names[task]}", image=image, command=["nbprod"],
                                     args=task_command(task, overrides), volume_mounts=mounts,
                                     env_from=[ConfigMapEnvFrom(name=CONFIG_MAP)], env=env)
                     for task in tasks}
        upstream = upstream_of(tasks, edges)
        with DAG(name="pipeline"):
            for task in tasks:
                Task(name=names[task], template=templates[task],
                     dependencies=[names[up] for up in upstream[task]] or None)
    return argo_workflow
