"""Static HTML snapshots of the dashboards: executed headless, code hidden, written atomically.

A snapshot is the dashboard as Voila would first show it (the default build,
version and window), without a kernel behind it: the pickers are left out
(``NBPROD_DASHBOARD_STATIC=1``) and the pictures are embedded PNGs, so the page
can be mailed or archived. Each notebook runs in a fresh kernel (nbclient) with
the working directory of the dashboards folder and the environment variables
telling :mod:`nbprod.dashboards.context` which project, settings and MLflow
store to read.
"""

from __future__ import annotations

import copy
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from nbprod.dashboards import DASHBOARDS
from nbprod.dashboards.context import STATIC_ENV
from nbprod.notebook import ENV_FILE_ENV, PROJECT_ENV, SET_ENV
from nbprod.notebook.templates import with_jupyter_path

TITLES = {"model_report": "Model report", "drift_report": "Drift report"}
#: Dashboards executed at once: a kernel's start and imports are one core's work, and a build waits for them.
SNAPSHOT_WORKERS = 2


class SnapshotError(RuntimeError):
    """A dashboard failed while it was executed for a snapshot."""


def dashboard_env(project: Path, env_file: Path | None = None, overrides: Sequence[str] = (),
                  tracking_uri: str | None = None, base: Mapping[str, str] | None = None,
                  static: bool = False) -> dict[str, str]:
    """The environment a dashboard kernel needs to find ``project`` with these settings."""
    env = dict(os.environ if base is None else base)
    env[PROJECT_ENV] = str(Path(project).resolve())
    if env_file is not None:
        env[ENV_FILE_ENV] = str(Path(env_file).resolve())
    else:
        env.pop(ENV_FILE_ENV, None)
    if overrides:
        env[SET_ENV] = ";".join(overrides)
    else:
        env.pop(SET_ENV, None)
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    if static:
        env[STATIC_ENV] = "1"
    else:
        env.pop(STATIC_ENV, None)
    env.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    env.setdefault("PYTHONWARNINGS", "ignore")
    return with_jupyter_path(env)  # Voila finds the nbprod page template there


def _strip_noise(notebook) -> None:
    """Drop stderr streams (warnings, progress bars) a reader should not see; keep everything else."""
    for cell in notebook.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = [out for out in cell.get("outputs", [])
                               if not (out.get("output_type") == "stream" and out.get("name") == "stderr")]


def errors(notebook) -> list[str]:
    """The error outputs of an executed notebook, as ``"ename: evalue"``."""
    found = []
    for cell in notebook.cells:
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            if out.get("output_type") == "error":
                found.append(f"{out.get('ename')}: {out.get('evalue')}")
    return found


def to_html(notebook, title: str) -> str:
    """The executed notebook as HTML with every code input and prompt hidden."""
    from nbprod.notebook.templates import html_exporter

    exporter = html_exporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    notebook = copy.deepcopy(notebook)
    notebook.metadata["title"] = title
    body, _ = exporter.from_notebook_node(notebook)
    return body


def execute(source: Path, env: Mapping[str, str], timeout: int = 600, kernel_name: str = "python3"):
    """Run the notebook in a fresh kernel (working directory: its folder); return the executed notebook."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    from nbprod.pipeline.kernels import kernel_manager_class

    source = Path(source).resolve()
    notebook = nbformat.read(source, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name=kernel_name,
                            kernel_manager_class=kernel_manager_class(),  # no plain-TCP warning per kernel
                            resources={"metadata": {"path": str(source.parent)}})
    try:
        client.execute(env=dict(env), cwd=str(source.parent))
    except CellExecutionError as error:
        raise SnapshotError(f"dashboard {source.name} failed: {error}") from None
    return notebook


def snapshot(source: Path, target: Path, env: Mapping[str, str], timeout: int = 600,
             title: str | None = None) -> Path:
    """Execute one dashboard and write its HTML (code hidden) to ``target`` atomically."""
    from nbprod.io import write_text

    notebook = execute(source, env, timeout)
    found = errors(notebook)
    if found:
        raise SnapshotError(f"dashboard {Path(source).name} produced errors: {found}")
    _strip_noise(notebook)
    name = Path(source).stem
    write_text(to_html(notebook, title or TITLES.get(name, name.replace("_", " ").capitalize())), target)
    return Path(target)


def write_snapshots(folder: Path, targets: Mapping[str, Path] | Path, env: Mapping[str, str],
                    names: Iterable[str] = DASHBOARDS, timeout: int = 600) -> dict[str, Path]:
    """Snapshot each dashboard ``folder/<name>.ipynb``, up to :data:`SNAPSHOT_WORKERS` at once (each in its own kernel).

    ``targets``: a folder (files ``<name>.html`` in it) or a mapping name -> file.
    ``env`` is made static (:data:`nbprod.dashboards.context.STATIC_ENV`) here.
    """
    env = {**env, STATIC_ENV: "1"}
    names = list(names)
    files = {name: Path(targets) / f"{name}.html" if not isinstance(targets, Mapping) else Path(targets[name])
             for name in names}
    with ThreadPoolExecutor(max_workers=max(1, min(len(names), SNAPSHOT_WORKERS))) as pool:
        futures = {name: pool.submit(snapshot, Path(folder) / f"{name}.ipynb", files[name], env, timeout)
                   for name in names}
        return {name: future.result() for name, future in futures.items()}
