"""``nbprod mlflow-ui``: the MLflow UI on the project's store, on 127.0.0.1.

    nbprod mlflow-ui                 # http://127.0.0.1:5000
    nbprod mlflow-ui --port 5050
    MLFLOW_AUTH_ADMIN_PASSWORD=... nbprod mlflow-ui --auth   # users and permissions (MLflow's basic-auth app)

The store is the one every other command uses (``MLFLOW_TRACKING_URI``, else
``tracking.uri``; see :func:`nbprod.tracking.tracking_uri`). A SQLite store that
does not exist yet is an error (the UI would create an empty one); a tracking
server is not started again: its address is printed.

Without ``--auth`` anyone who can reach the port can move the ``champion`` alias (and the
service loads that version within seconds). With ``--auth`` MLflow's basic-auth app asks
every request for a user: the admin (``MLFLOW_AUTH_ADMIN_USERNAME``, default ``admin``,
password ``MLFLOW_AUTH_ADMIN_PASSWORD``, needed the first time only) may do anything;
every other user gets READ on everything (a viewer: browse runs and models, move nothing)
unless the admin grants more. Users live in ``tracking.auth_db``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path
from typing import Mapping

from nbprod.arguments import port

DEFAULT_PORT = 5000
JOBS_ENV = "MLFLOW_SERVER_ENABLE_JOB_EXECUTION"
AUTH_CONFIG_ENV = "MLFLOW_AUTH_CONFIG_PATH"
ADMIN_PASSWORD_ENV = "MLFLOW_AUTH_ADMIN_PASSWORD"
SECRET_KEY_ENV = "MLFLOW_FLASK_SERVER_SECRET_KEY"
#: What a user other than the admin may do: read only (MLflow's READ permission).
VIEWER_PERMISSION = "READ"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``mlflow-ui`` options."""
    parser.add_argument("--port", type=port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--auth", action="store_true",
                        help="require a user (MLflow's basic-auth app): other users than the admin only read; "
                             f"the admin's password comes from {ADMIN_PASSWORD_ENV}")


def ui_command(uri: str, port: int, python: str | None = None, auth: bool = False) -> list[str]:
    """The MLflow server command line serving the store ``uri`` on 127.0.0.1:``port`` with one worker
    (``auth``: MLflow's basic-auth app)."""
    command = [python or sys.executable, "-m", "mlflow", "server" if auth else "ui", "--backend-store-uri", uri,
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    return command + (["--app-name", "basic-auth"] if auth else [])


def auth_config(database: Path) -> str:
    """The basic-auth app's configuration: users in ``database``, READ for all but the admin.

    The admin's name and password come from ``MLFLOW_AUTH_ADMIN_USERNAME`` (default ``admin``)
    and ``MLFLOW_AUTH_ADMIN_PASSWORD``, never from a file.
    """
    return ("[mlflow]\n"
            f"default_permission = {VIEWER_PERMISSION}\n"
            f"database_uri = sqlite:///{database.resolve()}\n"
            "admin_username = admin\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
            "grant_default_workspace_access = false\n")


def ui_environment(environ: Mapping[str, str], auth_config_path: Path | None = None) -> dict[str, str]:
    """``environ`` with MLflow's job runner off unless asked for: it starts a dozen processes for GenAI jobs
    (about 240 MB each) that a local UI never uses; with ``auth_config_path``, the basic-auth app's
    configuration and a session secret (random unless ``MLFLOW_FLASK_SERVER_SECRET_KEY`` is set)."""
    env = {JOBS_ENV: "false", **environ}
    if auth_config_path is not None:
        env[AUTH_CONFIG_ENV] = str(auth_config_path)
        env.setdefault(SECRET_KEY_ENV, secrets.token_hex(32))
    return env


def prepare_auth(database: Path, environ: Mapping[str, str]) -> Path:
    """Write the basic-auth configuration beside ``database``; return its path.

    Raises ``ValueError`` when the users' database is new and no admin password is given.
    """
    if not database.exists() and not environ.get(ADMIN_PASSWORD_ENV):
        raise ValueError(f"--auth needs the admin's password the first time: set {ADMIN_PASSWORD_ENV} "
                         f"(the users will be kept in {database})")
    database.parent.mkdir(parents=True, exist_ok=True)
    path = database.with_name(database.name + ".ini")
    path.write_text(auth_config(database))
    return path


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
    config = None
    if args.auth:
        try:
            config = prepare_auth(args.catalog.auth_db, os.environ)
        except ValueError as error:
            print(f"nbprod mlflow-ui: {error}", file=sys.stderr)
            return 2
    repoint_artifacts(uri)  # a moved project's UI shows its own artifacts
    print(f"MLflow UI on http://127.0.0.1:{args.port} for {uri}{' (users: ' + str(args.catalog.auth_db) + ')' if args.auth else ''}"
          " (Ctrl-C to stop)", flush=True)
    os.chdir(args.project)
    command = ui_command(uri, args.port, auth=args.auth)
    os.execve(command[0], command, ui_environment(os.environ, config))
