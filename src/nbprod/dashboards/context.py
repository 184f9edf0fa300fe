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
from nbprod.tracking import missing_store, set_uri, tracking_uri

#: Set (to anything but ``""``/``0``) by :mod:`nbprod.dashboards.snapshot`: no widgets, static outputs.
STATIC_ENV = "NBPROD_DASHBOARD_STATIC"
EXPERIMENT_ENV = "MLFLOW_EXPERIMENT_ID"


@dataclass(frozen=True)
class Context:
    """What a dashboard reads."""

    project: Path
    settings: Mapping[str, Any]
    env_file: Path | None = None
    overrides: tuple[str, ...] = ()
    tracking_uri: str = ""
    experiment_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def path(self, value: str) -> Path:
        """A settings path, made absolute against the project."""
        from nbprod.settings import resolve_path

        return resolve_path(self.project, value)

    @property
    def products(self) -> Path:
        """The build's products folder."""
        return self.path(self.settings["products"])

    @property
    def reports(self) -> Path:
        """The reports folder."""
        return self.path(self.settings["reports"])

    def split_path(self, name: str) -> Path:
        """``{products}/data/<name>.parquet`` (``train``, ``valid``, ``test``, ``new``)."""
        return self.products / "data" / f"{name}.parquet"

    @property
    def evaluation_path(self) -> Path:
        """``{products}/evaluation.json``."""
        return self.products / "evaluation.json"

    @property
    def monitoring_reports(self) -> Path:
        """Monitoring's folder: ``monitor.reports`` (relative to the project), else ``{reports}/monitoring``."""
        folder = (self.settings.get("monitor") or {}).get("reports")
        return self.path(folder) if folder else self.reports / "monitoring"

    @property
    def drift_history_path(self) -> Path:
        """``{monitor.reports}/drift_history.json``."""
        return self.monitoring_reports / "drift_history.json"

    @property
    def pipeline_drift_path(self) -> Path:
        """``{products}/monitoring/pipeline_drift.json``: the build's own drift check (the ``monitor`` task)."""
        return self.products / "monitoring" / "pipeline_drift.json"

    @property
    def min_rows(self) -> int:
        """``monitor.min_rows``: a window with fewer rows is reported but does not vote."""
        return int(self.settings["monitor"]["min_rows"])

    def shown(self, path: Path | str) -> str:
        """A path as shown to a reader: relative to the project when inside it."""
        path = Path(path)
        try:
            return str(path.resolve().relative_to(self.project))
        except ValueError:
            return str(path)

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
        return self.path(self.settings["serve"]["prediction_log"])

    @property
    def target(self) -> str:
        return self.settings["data"]["target"]

    @property
    def task(self) -> str:
        return self.settings["data"]["task"]

    @property
    def time_column(self) -> str | None:
        return self.settings["data"]["time_column"]

    @property
    def model_name(self) -> str:
        return self.settings["registry"]["model_name"]

    @property
    def alias(self) -> str:
        return self.settings["registry"]["alias"]

    @property
    def static(self) -> bool:
        """Whether the dashboard runs for a static snapshot (no live widgets)."""
        return bool(self.extra.get("static", False))


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
    overrides = tuple(parse_set(environ.get(SET_ENV)))
    settings = settings_module.load(project, env_file, overrides)
    resolved = tracking_uri(settings, project, environ)
    return Context(project=project, settings=settings, env_file=env_file, overrides=overrides,
                   tracking_uri=resolved, experiment_id=environ.get(EXPERIMENT_ENV) or None,
                   extra={"static": is_static(environ)})


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
    import mlflow

    if missing_store(context.tracking_uri) is not None:
        return None
    quiet()
    set_uri(context.tracking_uri)
    if context.experiment_id:
        return context.experiment_id
    experiment = mlflow.MlflowClient().get_experiment_by_name(context.settings["tracking"]["experiment"])
    return None if experiment is None else experiment.experiment_id


def dashboards_folder(project: Path) -> Path:
    """``notebooks/dashboards`` of a project, else the one of nbprod's project template."""
    from nbprod.scaffold.template import template_folder

    folder = Path(project) / "notebooks" / "dashboards"
    if folder.is_dir():
        return folder
    return template_folder() / "notebooks" / "dashboards"
