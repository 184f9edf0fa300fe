"""Where the champion's build lives: the project's products, or a retraining build's own folders.

A retraining build (``nbprod monitor``, ``nbprod replay``) runs in folders of its own,
``{products}/retrain/<stamp>`` and ``{monitor.reports}/retrain-<stamp>``, so a build the
gate rejects never replaces the data the serving model was trained on, nor the
project's reports. When the gate promotes one, ``{monitor.reports}/champion_build.json``
records the version and its products folder; monitoring takes its reference (the
train split) from there for as long as that version is the champion. Once another
version is champion (e.g. promoted by ``nbprod build``), the project's own products
are the reference again.

The file also keeps the champion's quality as the gate last measured it, on the
newest test period: after a retraining the gate rejected, that -- not the champion's
old test score -- is what the monitored windows are expected to reach, so a model
that the newest data already showed to be as good as any new one is not retrained
again week after week.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Mapping

from nbprod import io
from nbprod.project import Project

RETRAIN_FOLDER = "retrain"


def retrain_folders(settings: Mapping[str, Any], stamp: str) -> list[str]:
    """``products=`` and ``reports=`` overrides placing a retraining build in its own folders."""
    products = Path(settings["products"]) / RETRAIN_FOLDER / stamp
    reports = Path(settings["monitor"]["reports"]) / f"{RETRAIN_FOLDER}-{stamp}"
    return [f'products="{products.as_posix()}"', f'reports="{reports.as_posix()}"']


def record_champion(project: Project, version: str, products: str, run_id: str | None,
                    metrics: Mapping[str, float] | None = None) -> None:
    """Note that ``version`` was trained in the build whose products are ``products`` and last scored ``metrics``
    (in :class:`nbprod.project.Project` ``project``'s ``champion_build``)."""
    io.write_json({"version": str(version), "products": str(products), "run_id": run_id,
                   "metrics": dict(metrics or {})}, project.champion_build)


def _state_for(project: Project, version: str | None) -> dict[str, Any] | None:
    """The recorded state when it is about ``version``."""
    path = project.champion_build
    if version is None or not path.is_file():
        return None
    try:
        state = json.loads(path.read_text())
    except ValueError:
        return None
    return state if str(state.get("version")) == str(version) else None


def champion_metric(project: Project, version: str | None, metric: str) -> float | None:
    """``version``'s ``metric`` as the gate last measured it after a retraining (None: not recorded)."""
    state = _state_for(project, version)
    value = ((state or {}).get("metrics") or {}).get(metric)
    return None if value is None else float(value)


def champion_products(project: Project, version: str | None) -> str:
    """The products folder of ``version``'s build: the recorded retraining build's, else ``products``."""
    state = _state_for(project, version)
    if state is None or not project.path(state["products"]).is_dir():
        return project.settings["products"]
    return state["products"]


def for_champion(project: Project, version: str | None) -> Project:
    """The project with ``products`` the champion's build: its splits and evaluation are that build's."""
    settings = copy.deepcopy(dict(project.settings))
    settings["products"] = champion_products(project, version)
    return project.with_settings(settings)
