"""The ``nbprod`` command line.

Each sub-command lives in its own module, which provides ``configure(parser)``
and ``run(args) -> int``; this file only dispatches, and imports only the module
of the command being run. ``args.project`` (the project folder), ``args.catalog``
(its :class:`nbprod.project.Project`: every path, the MLflow store, the names) and
``args.settings`` (``env.yaml`` with ``--env``/``--set`` applied; ``args.catalog.settings``)
are filled in before ``run`` is called, unless the module sets ``NEEDS_PROJECT = False``
(``nbprod new``, which makes a project).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
from pathlib import Path
from typing import Any, NoReturn, Sequence

from nbprod import settings as settings_module
from nbprod.project import Project

#: Sub-command name -> (module, one-line help).
COMMANDS: dict[str, tuple[str, str]] = {
    "build": ("nbprod.pipeline.command", "build the pipeline (only what changed)"),
    "task": ("nbprod.pipeline.task_command", "build one task of the pipeline from its upstream products"),
    "export": ("nbprod.pipeline.export_command", "write the pipeline as an Argo Workflow"),
    "reproduce": ("nbprod.pipeline.reproduce_command", "rebuild a recorded build from its commit, settings and data; "
                                                       "compare its metrics and predictions"),
    "serve": ("nbprod.serving.command", "serve the champion model over HTTP"),
    "score": ("nbprod.serving.batch_command", "score a CSV or Parquet file with the champion"),
    "promote": ("nbprod.registry.command", "move the champion alias to a model version by hand"),
    "dashboard": ("nbprod.dashboards.command", "serve the dashboards with Voila, or write static HTML snapshots"),
    "monitor": ("nbprod.monitoring.command", "check drift of the prediction log per window; retrain when it fires"),
    "replay": ("nbprod.monitoring.replay_command", "demo: replay the later months through the service, week by week"),
    "mlflow-ui": ("nbprod.tracking.command", "open the MLflow UI on the project's store (127.0.0.1)"),
    "team-server": ("nbprod.teamserver.command", "start MLflow over PostgreSQL and an S3 bucket on loopback "
                                                 "(a trial team store)"),
    "new": ("nbprod.scaffold.command", "write a new project for a CSV or Parquet table"),
}


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; only ``command``'s own options are loaded."""
    main_parser = argparse.ArgumentParser(prog="nbprod", description=__doc__.splitlines()[0])
    subparsers = main_parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(module=module_name)
        module = importlib.import_module(module_name) if name == command else None
        if getattr(module, "NEEDS_PROJECT", True):
            add_project_options(sub)
        if module is not None:
            module.configure(sub)
    return main_parser


def add_project_options(sub: argparse.ArgumentParser) -> None:
    """``--project``, ``--env`` and ``--set``: the options of every command that works on a project."""
    sub.add_argument("--project", type=Path, default=None,
                     help="project folder (default: the nearest folder holding pipeline.yaml)")
    sub.add_argument("--env", type=Path, default=None, help="settings file instead of env.yaml")
    sub.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a setting, e.g. --set data.target=price (repeatable)")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nbprod`` script."""
    from nbprod.pipeline.imports import defer_iri_grammar

    defer_iri_grammar()  # every command that reaches nbformat (build, monitor, dashboards, new) starts faster
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((word for word in argv if not word.startswith("-")), None)
    args = parser(command).parse_args(argv)
    module = importlib.import_module(args.module)
    if not getattr(module, "NEEDS_PROJECT", True):
        return module.run(args)
    try:
        args.project = (args.project or settings_module.find_project_root()).resolve()
        args.catalog = load_project(args.project, args.env, args.set)
        args.settings = args.catalog.settings
    except settings_module.SettingsError as error:
        print(f"nbprod: {error}", file=sys.stderr)
        return 2
    return module.run(args)


def script(argv: Sequence[str] | None = None) -> NoReturn:
    """The ``nbprod`` script: :func:`main`, whose status the process exits with.

    What the command leaves in memory is then frozen (``gc.freeze``), so that the interpreter's own
    collections as it exits skip it: after a build, about 600,000 objects (MLflow, Ploomber, Jupyter's
    client, pandas, scikit-learn), and those collections took 1.8 s of a 48 s build. The process's memory
    goes back to the system when it ends, as it always did.
    """
    status = main(argv)
    gc.freeze()
    sys.exit(status)


def load_project(root: Path, env_file: Path | None, overrides: Sequence[str]) -> Project:
    """The project, saying on stderr (one line) which settings its ``env.yaml`` lacks and took from nbprod."""
    used: list[tuple[str, Any]] = []
    project = Project.load(root, env_file, overrides, defaults_used=used)
    if used:
        source = env_file.name if env_file else settings_module.ENV_FILE
        print(f"nbprod: {settings_module.defaults_notice(used, source)}", file=sys.stderr)
    return project


if __name__ == "__main__":
    script()
