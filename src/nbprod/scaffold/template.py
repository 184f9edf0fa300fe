"""Where the project template lives.

``nbprod/project_template/`` holds the reference project's notebooks (with the dashboards),
``pipeline.yaml``, ``env.yaml``, ``binder/`` and its deployment kit (``Dockerfile``,
``dockerignore``, ``requirements.lock``, ``deploy/``, the CI workflow ``ci.yml``, ``scripts/``;
see :mod:`nbprod.scaffold.deploykit`). In a checkout these are symlinks to the repository's own
files, so there is one copy of each; a built wheel carries their contents.
``nbprod/scaffold/files/`` holds what only a generated project has (its Makefile, README, tests,
``.gitignore``).
"""

from __future__ import annotations

from pathlib import Path

#: Files and folders of the template copied unchanged into a new project.
COPIED = ("pipeline.yaml", "notebooks")


def template_folder() -> Path:
    """The installed project template (``nbprod/project_template``), symlinks resolved."""
    return (Path(__file__).resolve().parents[1] / "project_template").resolve()


def scaffold_files() -> Path:
    """The files only a generated project has (``nbprod/scaffold/files``)."""
    return Path(__file__).resolve().parent / "files"
