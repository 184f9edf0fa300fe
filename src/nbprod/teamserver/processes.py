"""Start a few server processes, wait until each answers, stop them all (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

#: How long a server may take to answer its readiness check after it starts.
READY_SECONDS = 60.0
#: How long a server has to exit after its stop signal before it is killed.
STOP_SECONDS = 15.0


class ServiceError(RuntimeError):
    """A server did not start, or exited while it should be serving."""


@dataclass(frozen=True)
class Service:
    """One server process: its command line, environment, log file and readiness check.

    Attributes
    ----------
    name
        Shown in messages ("postgres", "object store", "mlflow").
    argv
        The command line.
    log
        stdout and stderr go there (appended).
    ready
        Returns True once the server answers.
    env
        The environment (None: this process's).
    user
        Run as this user name (None: as this process).
    stop_signal
        Sent first on stop; SIGKILL follows after :data:`STOP_SECONDS`.
    """

    name: str
    argv: list[str]
    log: Path
    ready: Callable[[], bool]
    env: dict[str, str] | None = None
    user: str | None = None
    stop_signal: int = signal.SIGTERM
    cwd: Path | None = None


def start(service: Service) -> subprocess.Popen:
    """Start ``service`` in a session of its own (so its children are stopped with it)."""
    service.log.parent.mkdir(parents=True, exist_ok=True)
    with open(service.log, "ab") as log:
        return subprocess.Popen(service.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=service.env, user=service.user, cwd=service.cwd, start_new_session=True)


def wait_ready(service: Service, process: subprocess.Popen, seconds: float = READY_SECONDS) -> None:
    """Return once ``service`` answers; raise :class:`ServiceError` if it exits or stays silent."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceError(f"{service.name} exited with code {process.returncode} while starting "
                               f"(its output: {service.log})")
        if service.ready():
            return
        time.sleep(0.2)
    raise ServiceError(f"{service.name} did not answer within {seconds:.0f} s (its output: {service.log})")


def stop(service: Service, process: subprocess.Popen, seconds: float = STOP_SECONDS) -> None:
    """Stop ``process`` and its session: ``service.stop_signal``, then SIGKILL after ``seconds``."""
    if process.poll() is None:
        _signal_group(process, service.stop_signal)
        try:
            process.wait(seconds)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait(seconds)
    _signal_group(process, signal.SIGKILL)  # children left behind by a leader that exited


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass
