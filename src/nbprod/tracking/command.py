"""``nbprod mlflow-ui``: the MLflow UI on the project's store, on 127.0.0.1.

    nbprod mlflow-ui                 # http://127.0.0.1:5000
    nbprod mlflow-ui --port 5050

The store is the one every other command uses (``MLFLOW_TRACKING_URI``, else
``tracking.uri``; see :func:`nbprod.tracking.tracking_uri`). A SQLite store that
does not exist yet is an error (the UI would create an empty one); a tracking
server is not started again: its address is printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Mapping

from nbprod.arguments import port

DEFAULT_PORT = 5000
JOBS_ENV = "MLFLOW_SERVER_ENABLE_JOB_EXECUTION"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``mlflow-ui`` options."""
    parser.add_argument("--port", type=port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")


def ui_command(uri: str, port: int, python: str | None = None) -> list[str]:
    """The ``mlflow ui`` command line serving the store ``uri`` on 127.0.0.1:``port`` with one worker."""
    return [python or sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", "127.0.0.1",
            "--port", str(port), "--workers", "1"]


def ui_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with MLflow's job runner off unless asked for: it starts a dozen processes for GenAI jobs
    (about 240 MB each) that a local UI never uses."""
    return {JOBS_ENV: "false", **environ}


def run(args: argparse.Namespace) -> int:
    """Become the MLflow UI (``exec``: Ctrl-C and signals reach it directly); return an exit code on error."""
    from nbprod.tracking import missing_store, repoint_artifacts

    uri = args.catalog.tracking_uri()
    if uri.startswith(("http://", "https://", "databricks")):
        print(f"The store is a tracking server: open {uri}")
        return 0
    missing = missing_store(uri)
    if missing is not None:
        print(f"nbprod mlflow-ui: no MLflow store at {missing} yet: build the pipeline first (nbprod build)",
              file=sys.stderr)
        return 2
    repoint_artifacts(uri)  # a moved project's UI shows its own artifacts
    print(f"MLflow UI on http://127.0.0.1:{args.port} for {uri} (Ctrl-C to stop)", flush=True)
    os.chdir(args.project)
    command = ui_command(uri, args.port)
    os.execve(command[0], command, ui_environment(os.environ))
