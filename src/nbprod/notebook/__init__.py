"""Running a pipeline notebook by hand, in JupyterLab, against the real upstream products.

Each pipeline notebook starts with a parameters cell (``upstream``, ``product``
and its params, all placeholders) followed by::

    from nbprod.notebook import bind
    bind("train", globals())

When Papermill runs the notebook inside a build, the parameters were injected
and ``bind`` changes nothing. Opened by hand, ``product`` is still ``None``:
``bind`` then reads ``pipeline.yaml`` and ``env.yaml`` of the project the
notebook belongs to and fills in the same values a build would pass, so the
notebook runs top to bottom without editing a path. ``NBPROD_PROJECT``,
``NBPROD_ENV_FILE`` and ``NBPROD_SET`` (``;``-separated ``key=value``) point it
at another project, settings file or overrides.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, MutableMapping

PROJECT_ENV = "NBPROD_PROJECT"
ENV_FILE_ENV = "NBPROD_ENV_FILE"
SET_ENV = "NBPROD_SET"


def interactive_project() -> Any:
    """The :class:`~nbprod.project.Project` a notebook run by hand belongs to (see the module docstring)."""
    from nbprod.project import Project

    env_file = os.environ.get(ENV_FILE_ENV)
    overrides = [item for item in os.environ.get(SET_ENV, "").split(";") if item.strip()]
    return Project.load(os.environ.get(PROJECT_ENV) or None, Path(env_file) if env_file else None, overrides)


def interactive_parameters(task: str) -> dict[str, Any]:
    """The parameters a build would pass to ``task``, from the project's pipeline and settings."""
    from nbprod.pipeline.dag import load_dag, task_parameters

    project = interactive_project()
    _point_tracking(project)
    return task_parameters(load_dag(project.root, project.settings), task)


def _point_tracking(project: Any) -> None:
    """Send an interactive run's MLflow records to the project's store and experiment."""
    from nbprod.tracking import configure

    configure(project.settings, project.root)


def bind(task: str, namespace: MutableMapping[str, Any]) -> bool:
    """Fill ``namespace`` with the task's parameters when run by hand; return True if it did."""
    if namespace.get("product") is not None:
        return False
    for name, value in interactive_parameters(task).items():
        if name in ("upstream", "product") or namespace.get(name) is None:
            namespace[name] = value
    return True
