"""A team server (``nbprod team-server``: PostgreSQL, an S3-compatible server and MLflow) on loopback for tests.

The server runs as its own process without this process's MLflow and AWS variables (a client of it
holds neither database nor bucket credentials); :func:`running` starts one in a folder PostgreSQL can
reach and stops it (SIGTERM, then SIGKILL for any server still alive).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import psutil

#: The environment of the server and of the clients that must go through it.
CLIENT_ENV = {name: value for name, value in os.environ.items()
              if not name.startswith(("MLFLOW_", "AWS_"))}


@dataclass
class Team:
    """A running team server: its URL, data folder, process and log."""

    url: str
    data: Path
    process: subprocess.Popen
    log: Path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(data: Path, port: int, log: Path) -> subprocess.Popen:
    """``nbprod team-server --data DATA --port PORT``, its output appended to ``log``."""
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "nbprod.cli", "team-server", "--data", str(data),
                                 "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=CLIENT_ENV)


def wait_healthy(url: str, process: subprocess.Popen, log: Path, seconds: float = 90.0) -> None:
    """Return once ``url/health`` answers 200; AssertionError (with the log's end) if the server exits or not."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"team-server exited: {log.read_text()[-2000:]}"
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"no /health within {seconds} s: {log.read_text()[-2000:]}")


def stop(process: subprocess.Popen, log: Path) -> list[psutil.Process]:
    """SIGTERM the command; return the servers it had started that are still alive afterwards."""
    assert process.poll() is None, f"team-server had exited: {log.read_text()[-2000:]}"
    children = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
    gone, alive = psutil.wait_procs(children, timeout=5)
    return alive


@contextmanager
def team_folder() -> Iterator[Path]:
    """A folder PostgreSQL can reach (pytest's own are mode 700; as root, PostgreSQL runs as 'postgres')."""
    folder = Path(tempfile.mkdtemp(prefix="nbprod-team-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def running(folder: Path) -> Iterator[Team]:
    """A team server keeping its data in ``folder/data``; stopped on exit, SIGKILL for what ignores SIGTERM."""
    data = folder / "data"
    log = folder / "team-server.log"
    port = free_port()
    process = start(data, port, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, log)
        yield Team(url, data, process, log)
    finally:
        if process.poll() is None:
            for leftover in stop(process, log):
                leftover.kill()


def alias_rows(data: Path) -> list[tuple]:
    """The registry's alias rows ``(name, alias, version)``, read from PostgreSQL directly (the stack's credentials)."""
    import psycopg

    from nbprod.teamserver import stack

    log = (data / "logs" / "postgres.log").read_text()
    port = int(log.rsplit("listening on IPv4 address \"127.0.0.1\", port ", 1)[1].split()[0])
    secret = stack.credentials(stack.Layout(data))
    with psycopg.connect(host="127.0.0.1", port=port, user=stack.DB_USER, dbname=stack.DATABASE,
                         password=secret["postgres_password"], connect_timeout=5) as connection:
        return connection.execute("SELECT name, alias, version FROM registered_model_aliases").fetchall()


def bucket_files(data: Path) -> list[Path]:
    """The files of the artifact bucket (the S3 server's folder)."""
    from nbprod.teamserver import stack

    return [path for path in (data / "objects" / stack.BUCKET).rglob("*") if path.is_file()]
