"""Pipeline tasks writing the dashboards' static snapshots (``{reports}/dashboards/<name>.html``).

Wire :func:`snapshots` after ``promote`` and ``monitor`` (so the model report
shows the gate's latest decision, and the drift report the build's drift check
when ``nbprod monitor`` has not run yet)::

    - source: nbprod.dashboards.task.snapshots
      name: dashboards
      product:
        model_report: "{{reports}}/dashboards/model_report.html"
        drift_report: "{{reports}}/dashboards/drift_report.html"
      params:
        dashboards: notebooks/dashboards
        products: "{{products}}"
        reports: "{{reports}}"
        target: "{{data.target}}"
        task: "{{data.task}}"
        time_column: "{{data.time_column}}"
        metric: "{{evaluate.metric}}"
        model_name: "{{registry.model_name}}"
        alias: "{{registry.alias}}"
        experiment: "{{tracking.experiment}}"
        prediction_log: "{{serve.prediction_log}}"
        monitor_reports: "{{monitor.reports}}"
        min_rows: "{{monitor.min_rows}}"

(:func:`snapshots_after_evaluate` is the same task for a pipeline without
``promote`` and ``monitor`` tasks: Ploomber reads a function task's upstream from
the ``upstream["..."]`` it uses.)

The build runs tasks with the working directory of the project and
``MLFLOW_TRACKING_URI``/``MLFLOW_EXPERIMENT_ID`` in the environment; the
dashboards are pointed at that project, with these params as settings
overrides (``NBPROD_SET``), so they read what this build wrote even when it
was run with ``--set``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping


#: Settings a snapshot task passes on to the dashboards: param name -> settings key.
SETTINGS = {"products": "products", "reports": "reports", "target": "data.target", "task": "data.task",
            "time_column": "data.time_column", "metric": "evaluate.metric",
            "model_name": "registry.model_name", "alias": "registry.alias",
            "experiment": "tracking.experiment", "prediction_log": "serve.prediction_log",
            "monitor_reports": "monitor.reports", "min_rows": "monitor.min_rows"}
#: Default of a param: keep the project's ``env.yaml`` value.
KEEP = "__env.yaml__"


def overrides(**values: Any) -> list[str]:
    """``key=value`` settings overrides from task params (Ploomber renders them as text).

    Text settings are passed as JSON strings (so YAML reads ``yes`` or ``2013-10-01``
    back as that text); others (``monitor.min_rows``) as written, for YAML to type.
    A value of :data:`KEEP` is skipped; None (a YAML ``null``, e.g. no time column) is passed on.
    """
    from nbprod.settings import expected_type

    found = []
    for name, value in values.items():
        if name not in SETTINGS:
            raise TypeError(f"unknown dashboard setting {name!r}")
        if value == KEEP:
            continue
        key = SETTINGS[name]
        expected = expected_type(key.split("."))
        if value in (None, "None"):
            text = "null"
        elif str in (expected if isinstance(expected, tuple) else (expected,)):
            text = json.dumps(str(value))
        else:
            text = str(value)
        found.append(f"{key}={text}")
    return found


def _targets(product: Any) -> dict[str, Path]:
    if isinstance(product, (str, Path)):
        return {"model_report": Path(str(product))}
    if hasattr(product, "to_json_serializable"):  # a Ploomber MetaProduct: iterating it yields values
        product = product.to_json_serializable()
    return {key: Path(str(value)) for key, value in dict(product).items()}


def write(product: Any, dashboards: str, project: str | None = None, timeout: int = 600,
          **settings: Any) -> dict[str, Path]:
    """Snapshot the dashboards named by ``product``'s keys into its files."""
    from nbprod.dashboards.snapshot import dashboard_env, write_snapshots

    root = Path(project) if project else Path.cwd()
    folder = Path(dashboards)
    folder = folder if folder.is_absolute() else root / folder
    env = dashboard_env(root, None, overrides(**settings), os.environ.get("MLFLOW_TRACKING_URI"), static=True)
    targets = _targets(product)
    return write_snapshots(folder, targets, env, names=list(targets), timeout=int(timeout))


def snapshots(product: Any, upstream: Mapping[str, Any], dashboards: str,
              products: str = KEEP, reports: str = KEEP, target: str = KEEP, task: str = KEEP,
              time_column: str | None = KEEP, metric: str = KEEP, model_name: str = KEEP, alias: str = KEEP,
              experiment: str = KEEP, prediction_log: str = KEEP, monitor_reports: str = KEEP,
              min_rows: str = KEEP, project: str | None = None, timeout: int = 600) -> None:
    """Ploomber task (after ``evaluate``, ``promote`` and ``monitor``): write the dashboards' HTML snapshots.

    ``product``: name -> HTML file (``model_report``, ``drift_report``); ``dashboards``:
    the notebooks' folder (relative to the project); ``project``: default the working
    directory (a build's); the other params override the project's settings
    (see :data:`SETTINGS`; omitted: ``env.yaml``'s value).
    """
    _ = upstream["evaluate"], upstream["promote"], upstream["monitor"]  # Ploomber reads the upstream from these
    write(product, dashboards, project, timeout, products=products, reports=reports, target=target,
          task=task, time_column=time_column, metric=metric, model_name=model_name, alias=alias,
          experiment=experiment, prediction_log=prediction_log, monitor_reports=monitor_reports,
          min_rows=min_rows)


def snapshots_after_evaluate(product: Any, upstream: Mapping[str, Any], dashboards: str,
                             products: str = KEEP, reports: str = KEEP, target: str = KEEP, task: str = KEEP,
                             time_column: str | None = KEEP, metric: str = KEEP, model_name: str = KEEP,
                             alias: str = KEEP, experiment: str = KEEP, prediction_log: str = KEEP,
                             monitor_reports: str = KEEP, min_rows: str = KEEP, project: str | None = None,
                             timeout: int = 600) -> None:
    """:func:`snapshots` for a pipeline without ``promote`` and ``monitor`` tasks (runs after ``evaluate``)."""
    _ = upstream["evaluate"]  # Ploomber reads the upstream task from this
    write(product, dashboards, project, timeout, products=products, reports=reports, target=target,
          task=task, time_column=time_column, metric=metric, model_name=model_name, alias=alias,
          experiment=experiment, prediction_log=prediction_log, monitor_reports=monitor_reports,
          min_rows=min_rows)
