"""Where a dashboard's data is: the project, its settings, MLflow store and folders.

Resolved exactly like :func:`nbprod.notebook.interactive_parameters` resolves a
pipeline notebook run by hand:

* the project is ``NBPROD_PROJECT`` or the nearest folder at or above the
  working directory holding ``pipeline.yaml`` (Voila and the snapshots run the
  dashboards with the working directory ``notebooks/dashboards/``);
* the settings are ``NBPROD_ENV_FILE`` (default: the project's ``env.yaml``)
  with the ``;``-separated ``key=value`` overrides of ``NBPROD_SET``;
* the MLflow store is ``MLFLOW_TRACKING_URI`` or ``tracking.uri`` (relative
  SQLite paths taken from the project), the experiment ``MLFLOW_EXPERIMENT_ID``
  or the one named ``tracking.experiment``.

Reading a dashboard never creates anything: no experiment, no folder.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from nbprod.notebook import ENV_FILE_ENV, PROJECT_ENV, SET_ENV
from nbprod.project import Project
from nbprod.tracking import missing_store, point_at

#: Set (to anything but ``""``/``0``) by :mod:`nbprod.dashboards.snapshot`: no widgets, static outputs.
STATIC_ENV = "NBPROD_DASHBOARD_STATIC"
EXPERIMENT_ENV = "MLFLOW_EXPERIMENT_ID"


@dataclass(frozen=True)
class Context:
    """What a dashboard reads: the project's catalog (every path, the store, the names) and how it was found."""

    catalog: Project
    tracking_uri: str = ""
    experiment_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def project(self) -> Path:
        """The project folder."""
        return self.catalog.root

    @property
    def settings(self) -> Mapping[str, Any]:
        return self.catalog.settings

    @property
    def env_file(self) -> Path | None:
        return self.catalog.env_file

    @property
    def overrides(self) -> tuple[str, ...]:
        return self.catalog.overrides

    def path(self, value: str) -> Path:
        """A settings path, made absolute against the project."""
        return self.catalog.path(value)

    @property
    def products(self) -> Path:
        """The build's products folder."""
        return self.catalog.products

    @property
    def reports(self) -> Path:
        """The reports folder."""
        return self.catalog.reports

    def split_path(self, name: str) -> Path:
        """A split prepare writes (``train``, ``valid``, ``test``, ``new``), where ``pipeline.yaml`` puts it."""
        return self.catalog.split(name)

    @property
    def evaluation_path(self) -> Path:
        """The evaluate task's ``evaluation.json``."""
        return self.catalog.evaluation

    @property
    def holdout_scores_path(self) -> Path:
        """The candidates' holdout scores the evaluate task saved."""
        return self.catalog.holdout_scores

    @property
    def monitoring_reports(self) -> Path:
        """Monitoring's folder: ``monitor.reports``."""
        return self.catalog.monitoring_reports

    @property
    def drift_history_path(self) -> Path:
        """``{monitor.reports}/drift_history.json``."""
        return self.catalog.drift_history

    @property
    def pipeline_drift_path(self) -> Path:
        """The build's own drift check (the ``monitor`` task's product)."""
        return self.catalog.pipeline_drift

    @property
    def min_rows(self) -> int:
        """``monitor.min_rows``: a window with fewer rows is reported but does not vote."""
        return int(self.settings["monitor"]["min_rows"])

    def shown(self, path: Path | str) -> str:
        """A path as shown to a reader: relative to the project when inside it."""
        return self.catalog.shown(path)

    @property
    def window_column(self) -> str | None:
        """What places a row in a monitoring window: a column name, or None for the request time."""
        chosen = (self.settings.get("monitor") or {}).get("window_column", "auto")
        if chosen in (None, "auto"):
            return self.time_column
        return None if chosen in ("time", "request_time") else chosen

    @property
    def prediction_log(self) -> Path:
        """The service's prediction log folder."""
        return self.catalog.prediction_log

    @property
    def target(self) -> str:
        return self.catalog.target

    @property
    def task(self) -> str:
        return self.catalog.task

    @property
    def time_column(self) -> str | None:
        return self.catalog.time_column

    @property
    def model_name(self) -> str:
        return self.catalog.model_name

    @property
    def alias(self) -> str:
        return self.catalog.alias

    @property
    def static(self) -> bool:
        """Whether the dashboard runs for a static snapshot (no live widgets)."""
        return bool(self.extra.get("static", False))

    def client(self) -> Any:
        """An MLflow client on the project's store (tracking and registry): never the process's default store."""
        from nbprod.tracking import client_for

        return client_for(self.tracking_uri)


def parse_set(text: str | None) -> list[str]:
    """``"a=1; b.c=x"`` -> ``["a=1", "b.c=x"]`` (the ``NBPROD_SET`` format)."""
    return [item.strip() for item in (text or "").split(";") if item.strip()]


def is_static(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``NBPROD_DASHBOARD_STATIC`` asks for a static rendering."""
    value = (os.environ if environ is None else environ).get(STATIC_ENV, "")
    return value.strip().lower() not in ("", "0", "false", "no")


def load_context(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Context:
    """Resolve the project, settings and MLflow store from the environment (see the module docstring)."""
    from nbprod import settings as settings_module

    environ = os.environ if environ is None else environ
    project_text = environ.get(PROJECT_ENV)
    project = (Path(project_text) if project_text else settings_module.find_project_root(cwd)).resolve()
    env_text = environ.get(ENV_FILE_ENV)
    env_file = Path(env_text) if env_text else None
    if env_file is not None and not env_file.is_absolute():
        env_file = (cwd or Path.cwd()) / env_file
    catalog = Project.load(project, env_file, parse_set(environ.get(SET_ENV)))
    return Context(catalog, tracking_uri=catalog.tracking_uri(environ),
                   experiment_id=environ.get(EXPERIMENT_ENV) or None, extra={"static": is_static(environ)})


def quiet() -> None:
    """Keep library chatter (warnings, MLflow's INFO logs) out of a stakeholder's page."""
    warnings.filterwarnings("ignore")
    for name in ("mlflow", "alembic", "urllib3", "py.warnings"):
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def connect(context: Context) -> str | None:
    """Point MLflow at the context's store; return the experiment id (None when there is none yet).

    A SQLite store whose file does not exist is left alone (None): a reader's page
    must not create an empty store in the project.
    """
    if missing_store(context.tracking_uri) is not None:
        return None
    quiet()
    point_at(context.tracking_uri)  # the models a page loads (models:/, runs:/ URIs) come from this store too
    if context.experiment_id:
        return context.experiment_id
    experiment = context.client().get_experiment_by_name(context.catalog.experiment)
    return None if experiment is None else experiment.experiment_id


def dashboards_folder(project: Path) -> Path:
    """``notebooks/dashboards`` of a project, else the one of nbprod's project template."""
    from nbprod.scaffold.template import template_folder

    folder = Path(project) / "notebooks" / "dashboards"
    if folder.is_dir():
        return folder
    return template_folder() / "notebooks" / "dashboards"
