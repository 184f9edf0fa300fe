"""The project catalog: where everything of one project is, resolved once.

A :class:`Project` is built from ``pipeline.yaml`` (the tasks and their products)
and ``env.yaml`` (the settings, with ``--env``/``--set`` overrides applied). The
commands, the notebooks' ``bind``, the dashboards, the monitor and the service all
ask it for a path instead of rebuilding one::

    project = Project.load(root, overrides=["sample_frac=0.1"])
    project.product("prepare", "train")     # .../build/data/train.parquet, as pipeline.yaml says
    project.tracking_uri()                  # the MLflow store (MLFLOW_TRACKING_URI wins)

Product paths are read from ``pipeline.yaml``: only the ``{{products}}`` and
``{{reports}}`` placeholders are resolved (with the settings of the same names), so
editing a product path there is followed everywhere. Nothing is imported beyond
YAML, Ploomber is not loaded and the DAG is not rendered: a project costs a few
milliseconds. Settings values are data, never templates.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from nbprod import settings as settings_module
from nbprod.settings import PIPELINE_FILE, SettingsError, resolve_path

#: The placeholders a product path may hold, each the setting of the same name.
PLACEHOLDERS = ("products", "reports")
_PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")
#: The drift history ``nbprod monitor`` writes in ``monitor.reports``.
HISTORY_FILE = "drift_history.json"
#: Which retraining build the champion comes from (``monitor.reports``).
CHAMPION_BUILD_FILE = "champion_build.json"
#: Lock files (see :mod:`nbprod.locks`): builds in ``products``, monitoring passes in ``monitor.reports``.
BUILD_LOCK_FILE = ".build.lock"
MONITOR_LOCK_FILE = ".monitor.lock"


class ProjectError(SettingsError):
    """``pipeline.yaml`` cannot be read, or it does not declare a product asked for."""


def read_products(pipeline_file: Path) -> dict[str, str | dict[str, str]]:
    """Each task's product template(s) as ``pipeline.yaml`` declares them: task -> path, or -> {key: path}."""
    try:
        spec = yaml.safe_load(Path(pipeline_file).read_text()) or {}
    except FileNotFoundError:
        raise ProjectError(f"{pipeline_file} does not exist") from None
    except yaml.YAMLError as error:
        raise ProjectError(f"{pipeline_file} is not valid YAML: {error}") from None
    products: dict[str, str | dict[str, str]] = {}
    for task in spec.get("tasks") or []:
        if not isinstance(task, Mapping) or "product" not in task:
            continue
        name = task.get("name") or Path(str(task.get("source", ""))).stem
        product = task["product"]
        products[str(name)] = ({str(k): str(v) for k, v in product.items()} if isinstance(product, Mapping)
                               else str(product))
    return products


@dataclass(frozen=True)
class Project:
    """One project's layout and settings (see the module docstring).

    ``root`` is the project folder, ``settings`` the checked settings, ``templates``
    each task's product template(s) from ``pipeline.yaml``.
    """

    root: Path
    settings: Mapping[str, Any]
    templates: Mapping[str, str | Mapping[str, str]] = field(default_factory=dict)
    env_file: Path | None = None
    overrides: tuple[str, ...] = ()

    # -- building ----------------------------------------------------------------------------------
    @classmethod
    def load(cls, root: Path | None = None, env_file: Path | None = None, overrides: Iterable[str] = (),
             defaults_used: list[tuple[str, Any]] | None = None) -> "Project":
        """The project at ``root`` (default: the nearest folder holding ``pipeline.yaml``); ``defaults_used``
        as in :func:`nbprod.settings.load`."""
        root = Path(root or settings_module.find_project_root()).resolve()
        overrides = tuple(overrides)
        loaded = settings_module.load(root, env_file, overrides, defaults_used)
        return cls(root, loaded, read_products(root / PIPELINE_FILE), env_file, overrides)

    def with_settings(self, settings: Mapping[str, Any]) -> "Project":
        """The same project and pipeline with other (already checked) settings."""
        return replace(self, settings=settings)

    def with_overrides(self, overrides: Iterable[str]) -> "Project":
        """The same project with ``key=value`` overrides applied on top (checked)."""
        overrides = tuple(overrides)
        settings = copy.deepcopy(dict(self.settings))
        for text in overrides:
            settings_module.apply_override(settings, *settings_module.parse_override(text))
        settings_module.check(settings)
        return replace(self, settings=settings, overrides=self.overrides + overrides)

    # -- paths -------------------------------------------------------------------------------------
    def path(self, value: str | Path) -> Path:
        """A path setting made absolute: relative ones are relative to the project folder."""
        return resolve_path(self.root, str(value))

    @property
    def products(self) -> Path:
        """The ``products`` folder (intermediate products)."""
        return self.path(self.settings["products"])

    @property
    def reports(self) -> Path:
        """The ``reports`` folder (executed notebooks, evidence)."""
        return self.path(self.settings["reports"])

    def product(self, task: str, key: str | None = None) -> Path:
        """The path of ``task``'s product (``key`` of a multi-file product), as ``pipeline.yaml`` declares it."""
        if task not in self.templates:
            known = ", ".join(self.templates) or "none"
            raise ProjectError(f"pipeline.yaml has no task {task!r} with a product (tasks: {known})")
        template = self.templates[task]
        if isinstance(template, Mapping):
            if key is None or key not in template:
                raise ProjectError(f"task {task!r} in pipeline.yaml has no product {key!r} "
                                   f"(products: {', '.join(template)})")
            template = template[key]
        elif key is not None:
            raise ProjectError(f"task {task!r} in pipeline.yaml has a single product, not {key!r}")
        return self.path(self.render(template, f"{task}.{key}" if key else task))

    def render(self, template: str, where: str = "a product") -> str:
        """``template`` with ``{{products}}`` and ``{{reports}}`` replaced; any other placeholder is an error."""
        def value(match: re.Match) -> str:
            name = match.group(1)
            if name not in PLACEHOLDERS:
                raise ProjectError(f"the product path of {where} in pipeline.yaml uses {{{{{name}}}}}: "
                                   f"only {', '.join('{{' + p + '}}' for p in PLACEHOLDERS)} are allowed there")
            return str(self.path(self.settings[name]))

        return _PLACEHOLDER.sub(value, template)

    def split(self, name: str) -> Path:
        """A split the prepare task writes: ``train``, ``valid``, ``test`` or ``new``."""
        return self.product("prepare", name)

    @property
    def raw_data(self) -> Path:
        return self.product("get")

    @property
    def contract(self) -> Path:
        """The feature contract prepare learns."""
        return self.product("prepare", "contract")

    @property
    def evaluation(self) -> Path:
        """The evaluate task's summary (``evaluation.json``)."""
        return self.product("evaluate", "evaluation")

    @property
    def holdout_scores(self) -> Path:
        """Each candidate's scores on the holdout, saved by evaluate."""
        return self.product("evaluate", "scores")

    @property
    def promotion(self) -> Path:
        """The gate's evidence (JSON); its HTML is ``product("promote", "html")``."""
        return self.product("promote", "json")

    @property
    def pipeline_drift(self) -> Path:
        """The ``monitor`` task's drift check of the held-back data."""
        return self.product("monitor", "history")

    @property
    def dashboard_snapshots(self) -> Path:
        """The folder of the dashboards' static snapshots (``{reports}/dashboards`` when no task makes them)."""
        if "dashboards" not in self.templates:
            return self.reports / "dashboards"
        return self.product("dashboards", "model_report").parent

    @property
    def monitoring_reports(self) -> Path:
        """``monitor.reports``: the drift history, decisions, retraining logs."""
        return self.path(self.settings["monitor"]["reports"])

    @property
    def drift_history(self) -> Path:
        return self.monitoring_reports / HISTORY_FILE

    @property
    def champion_build(self) -> Path:
        """Which retraining build the champion was trained in (see :mod:`nbprod.monitoring.builds`)."""
        return self.monitoring_reports / CHAMPION_BUILD_FILE

    @property
    def prediction_log(self) -> Path:
        """The service's prediction log folder (``serve.prediction_log``)."""
        return self.path(self.settings["serve"]["prediction_log"])

    @property
    def prediction_log_quarantine(self) -> Path:
        """Where unreadable prediction log files are moved (``quarantine/`` in the log's folder)."""
        from nbprod.serving.prediction_log import QUARANTINE

        return self.prediction_log / QUARANTINE

    @property
    def build_lock(self) -> Path:
        """The lock file of builds into this ``products`` folder (see :mod:`nbprod.locks`)."""
        return self.products / BUILD_LOCK_FILE

    @property
    def monitor_lock(self) -> Path:
        """The lock file of monitoring passes (held from reading the drift history to the retrain decision)."""
        return self.monitoring_reports / MONITOR_LOCK_FILE

    def shown(self, path: Path | str) -> str:
        """A path as shown to a reader: relative to the project when inside it."""
        path = Path(path)
        try:
            return str(path.resolve().relative_to(self.root))
        except ValueError:
            return str(path)

    # -- MLflow ------------------------------------------------------------------------------------
    def tracking_uri(self, environ: Mapping[str, str] | None = None) -> str:
        """The MLflow store: ``MLFLOW_TRACKING_URI`` of ``environ`` (default: this process's) if set, else
        ``tracking.uri``, a relative SQLite path taken from the project folder."""
        from nbprod.tracking import tracking_uri

        return tracking_uri(self.settings, self.root, environ)

    @property
    def auth_db(self) -> Path:
        """The users and permissions of ``nbprod mlflow-ui --auth`` (``tracking.auth_db``)."""
        return self.path(self.settings["tracking"]["auth_db"])

    @property
    def experiment(self) -> str:
        return self.settings["tracking"]["experiment"]

    @property
    def model_name(self) -> str:
        """The registered model the gate promotes and the service serves."""
        return self.settings["registry"]["model_name"]

    @property
    def alias(self) -> str:
        return self.settings["registry"]["alias"]

    @property
    def model_uri(self) -> str:
        """``models:/<model_name>@<alias>``."""
        return f"models:/{self.model_name}@{self.alias}"

    # -- the data ----------------------------------------------------------------------------------
    @property
    def target(self) -> str:
        return self.settings["data"]["target"]

    @property
    def task(self) -> str:
        return self.settings["data"]["task"]

    @property
    def time_column(self) -> str | None:
        return self.settings["data"]["time_column"]
