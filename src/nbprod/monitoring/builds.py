"""Where the champion's build lives: the project's products, or a retraining build's own folders.

A retraining build (``nbprod monitor``, ``nbprod replay``) runs in folders of its own,
``{products}/retrain/<stamp>`` and ``{monitor.reports}/retrain-<stamp>``, so a build the
gate rejects never replaces the data the serving model was trained on, nor the
project's reports. When the gate promotes one, ``{monitor.reports}/champion_build.json``
records the version and its products folder; monitoring takes its reference (the
train split) and expected quality from there for as long as that version is the
champion. Once another version is champion (e.g. promoted by ``nbprod build``), the
project's own products are the reference again.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Mapping

from nbprod import io
from nbprod.settings import resolve_path

STATE_FILE = "champion_build.json"
RETRAIN_FOLDER = "retrain"


def state_path(settings: Mapping[str, Any], project: Path) -> Path:
    """``{monitor.reports}/champion_build.json``."""
    return resolve_path(project, settings["monitor"]["reports"]) / STATE_FILE


def retrain_folders(settings: Mapping[str, Any], stamp: str) -> list[str]:
    """``products=`` and ``reports=`` overrides placing a retraining build in its own folders."""
    products = Path(settings["products"]) / RETRAIN_FOLDER / stamp
    reports = Path(settings["monitor"]["reports"]) / f"{RETRAIN_FOLDER}-{stamp}"
    return [f'products="{products.as_posix()}"', f'reports="{reports.as_posix()}"']


def record_champion(settings: Mapping[str, Any], project: Path, version: str, products: str,
                    run_id: str | None) -> None:
    """Note that ``version`` was trained in the build whose products are ``products``."""
    io.write_json({"version": str(version), "products": str(products), "run_id": run_id},
                  state_path(settings, project))


def champion_products(settings: Mapping[str, Any], project: Path, version: str | None) -> str:
    """The products folder of ``version``'s build: the recorded retraining build's, else ``products``."""
    path = state_path(settings, project)
    if version is None or not path.is_file():
        return settings["products"]
    try:
        state = json.loads(path.read_text())
    except ValueError:
        return settings["products"]
    if str(state.get("version")) != str(version) or not resolve_path(project, state["products"]).is_dir():
        return settings["products"]
    return state["products"]


def for_champion(settings: Mapping[str, Any], project: Path, version: str | None) -> dict[str, Any]:
    """A copy of ``settings`` whose ``products`` is the champion's build."""
    result = copy.deepcopy(dict(settings))
    result["products"] = champion_products(settings, project, version)
    return result
