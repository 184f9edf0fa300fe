"""``nbprod team-server``: MLflow over PostgreSQL and an S3-compatible bucket, on loopback, for a trial.

    nbprod team-server --data ~/nbprod-team            # MLflow at http://127.0.0.1:5000
    nbprod team-server --data ~/nbprod-team --port 5050

Then point projects at it: ``export MLFLOW_TRACKING_URI=http://127.0.0.1:5000`` (or ``tracking.uri`` in
``env.yaml``). The data stays in ``--data`` across restarts; Ctrl-C or SIGTERM stops all three servers.
What changes for production is in the README ("Scaling out").
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

from nbprod.arguments import port
from nbprod.teamserver import processes, stack

NEEDS_PROJECT = False
DEFAULT_PORT = 5000


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``team-server`` options."""
    parser.add_argument("--data", type=Path, required=True, help="folder that keeps the servers' data")
    parser.add_argument("--port", type=port, default=DEFAULT_PORT, help=f"MLflow's port (default {DEFAULT_PORT})")


def run(args: argparse.Namespace) -> int:
    """Start the three servers, serve until a signal, stop them; an exit code."""
    stopping: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, _frame: stopping.append(number))
    started: list[tuple[processes.Service, subprocess.Popen]] = []
    try:
        _start_all(args.data.resolve(), args.port, started)
        return _serve(started, stopping)
    except (stack.StackError, processes.ServiceError) as error:
        print(f"nbprod team-server: {error}", file=sys.stderr)
        return 1
    finally:
        for service, process in reversed(started):
            processes.stop(service, process)


def _start_all(root: Path, mlflow_port: int, started: list) -> None:
    """Start PostgreSQL, the object store and MLflow in that order, each answering before the next."""
    if not _port_free(mlflow_port):
        raise stack.StackError(f"port {mlflow_port} is in use on 127.0.0.1: choose another with --port")
    layout = stack.Layout(root)
    secret = stack.credentials(layout)
    stack.init_postgres(layout, secret)
    ports = stack.Ports(mlflow=mlflow_port, postgres=stack.free_port(), objects=stack.free_port())
    for make in (stack.postgres_service, stack.objects_service, stack.mlflow_service):
        service = make(layout, ports, secret)
        process = processes.start(service)
        started.append((service, process))
        processes.wait_ready(service, process)
        if service.name == "postgres":
            stack.create_database(ports, secret)
    print(f"MLflow at http://127.0.0.1:{mlflow_port} (backend: PostgreSQL on 127.0.0.1:{ports.postgres}, "
          f"artifacts: s3://{stack.BUCKET} on 127.0.0.1:{ports.objects}; data in {root}). Ctrl-C to stop.",
          flush=True)


def _serve(started: list, stopping: list[int]) -> int:
    """Wait for a stop signal (exit 0) or a server that exits by itself (exit 1, naming it)."""
    while not stopping:
        for service, process in started:
            if process.poll() is not None:
                print(f"nbprod team-server: {service.name} exited with code {process.returncode} "
                      f"(its output: {service.log}); stopping the others", file=sys.stderr)
                return 1
        time.sleep(0.5)
    print("nbprod team-server: stopping", flush=True)
    return 0


def _port_free(number: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind: TIME_WAIT is no owner
        try:
            sock.bind(("127.0.0.1", number))
        except OSError:
            return False
    return True
