"""A Dask cluster of separate processes on 127.0.0.1 for the engine's tests: a scheduler and workers of one thread.

Every process of the cluster, and every kernel its workers start, carries :data:`MARKER` in its
environment with the cluster's own value, so a test can find what the cluster left running.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil

#: Environment variable naming the cluster a process belongs to.
MARKER = "NBPROD_TEST_DASK_CLUSTER"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Cluster:
    """The scheduler's address and the processes started (scheduler first)."""

    address: str
    marker: str
    processes: list[subprocess.Popen] = field(default_factory=list)

    def client(self):
        """A Dask client on the scheduler (close it)."""
        from distributed import Client

        return Client(self.address, timeout=10, set_as_default=False)

    def members(self) -> list[psutil.Process]:
        """Every live process carrying this cluster's marker: scheduler, nannies, workers, their kernels."""
        found = []
        for process in psutil.process_iter(["pid"]):
            try:
                if process.environ().get(MARKER) == self.marker:
                    found.append(process)
            except (psutil.Error, OSError):
                continue
        return found

    def kernels(self) -> list[psutil.Process]:
        """The cluster's live Jupyter kernels."""
        found = []
        for process in self.members():
            try:
                if any("ipykernel" in part for part in process.cmdline()):
                    found.append(process)
            except psutil.Error:
                continue
        return found

    def stop(self) -> None:
        """SIGTERM to every process started, then SIGKILL to what is left after 10 s (workers first)."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in reversed(self.processes):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        for process in self.members():  # children of a nanny that was killed
            try:
                process.kill()
            except psutil.Error:
                pass


def start(folder: Path, workers: int = 2, environ: dict[str, str] | None = None, timeout: float = 90) -> Cluster:
    """Start ``dask scheduler`` and ``workers`` × ``dask worker --nthreads 1`` on 127.0.0.1; logs in ``folder``.

    ``environ`` is added to this process's environment for all of them.
    """
    port = free_port()
    cluster = Cluster(f"tcp://127.0.0.1:{port}", uuid.uuid4().hex)
    env = {**os.environ, **(environ or {}), MARKER: cluster.marker}
    dask = str(Path(sys.executable).with_name("dask"))  # the `dask` command of this environment
    commands = [[dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                 "--no-dashboard"]]
    commands += [[dask, "worker", cluster.address, "--nthreads", "1",
                  "--host", "127.0.0.1", "--no-dashboard", "--name", f"worker-{index}"] for index in range(workers)]
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for index, command in enumerate(commands):
            log = (folder / f"dask-{index}.log").open("w")
            cluster.processes.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                      cwd=folder))
        client = None
        deadline = time.monotonic() + timeout
        while client is None:
            try:
                client = cluster.client()
            except OSError:
                if time.monotonic() > deadline:
                    raise
        try:
            client.wait_for_workers(workers, timeout=max(1.0, deadline - time.monotonic()))
        finally:
            client.close()
    except BaseException:
        cluster.stop()
        raise
    return cluster
