"""``nbprod dashboard``: serve the dashboards with Voila on 127.0.0.1, or write static snapshots.

    nbprod dashboard                      # http://127.0.0.1:8866/ (model and drift reports)
    nbprod dashboard --port 9000 --no-browser
    nbprod dashboard --snapshot           # {reports}/dashboards/<name>.html, code hidden, then exit

The dashboards read the project, settings and MLflow store this command was
given (``--project``, ``--env``, ``--set``), passed to the kernels through
``NBPROD_PROJECT``, ``NBPROD_ENV_FILE``, ``NBPROD_SET`` and ``MLFLOW_TRACKING_URI``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nbprod.arguments import at_least, port
from nbprod.notebook.templates import TEMPLATE

DEFAULT_PORT = 8866
DEFAULT_HOST = "127.0.0.1"
#: A page's kernel is shut down this long after its page closed (Voila's own shutdown on page unload is
#: refused -- voila-dashboards/voila#1458, no XSRF token on sendBeacon -- so without culling every visit
#: would leave a kernel running). Open pages keep their kernels (connected kernels are not culled).
KERNEL_IDLE_SECONDS = 120
KERNEL_CULL_INTERVAL_SECONDS = 30


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``dashboard`` options."""
    parser.add_argument("--port", type=port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"interface to bind (default {DEFAULT_HOST}; 0.0.0.0 in a container)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    parser.add_argument("--folder", type=Path, default=None,
                        help="folder of dashboard notebooks (default: notebooks/dashboards of the project)")
    parser.add_argument("--snapshot", action="store_true",
                        help="write static HTML snapshots to {reports}/dashboards/ and exit")
    parser.add_argument("--timeout", type=at_least(1), default=600, help="seconds a snapshot may take per cell")


def voila_command(folder: Path, port: int, no_browser: bool, python: str | None = None,
                  idle_seconds: int = KERNEL_IDLE_SECONDS, cull_interval: int = KERNEL_CULL_INTERVAL_SECONDS,
                  host: str = DEFAULT_HOST) -> list[str]:
    """The Voila command line serving ``folder`` on ``host`` (default 127.0.0.1).

    No tracebacks for readers (the dashboards show a plain message when they fail);
    the kernels of closed pages are culled after ``idle_seconds``.
    """
    command = [python or sys.executable, "-m", "voila", str(folder), f"--Voila.ip={host}", f"--port={port}",
               "--show_tracebacks=False", f"--template={TEMPLATE}", "--theme=light",
               f"--MappingKernelManager.cull_idle_timeout={idle_seconds}",
               f"--MappingKernelManager.cull_interval={cull_interval}",
               "--MappingKernelManager.cull_connected=False"]
    if no_browser:
        command.append("--no-browser")
    return command


def _environment(args: argparse.Namespace, static: bool = False) -> dict[str, str]:
    from nbprod.dashboards.snapshot import dashboard_env

    return dashboard_env(args.project, getattr(args, "env", None), list(getattr(args, "set", []) or []),
                         args.catalog.tracking_uri(), static=static)


def run(args: argparse.Namespace) -> int:
    """Serve the dashboards until interrupted (or write the snapshots); return the exit code."""
    import subprocess

    from nbprod.dashboards import DASHBOARDS
    from nbprod.dashboards.context import dashboards_folder

    folder = (args.folder or dashboards_folder(args.project)).resolve()
    missing = [name for name in DASHBOARDS if not (folder / f"{name}.ipynb").is_file()]
    if missing:
        print(f"nbprod: no dashboard notebook {missing} in {folder}", file=sys.stderr)
        return 2
    if args.snapshot:
        from nbprod.dashboards.snapshot import SnapshotError, write_snapshots

        reports = args.catalog.dashboard_snapshots
        try:
            written = write_snapshots(folder, reports, _environment(args, static=True), timeout=args.timeout)
        except SnapshotError as error:
            print(f"nbprod: {error}", file=sys.stderr)
            return 1
        for name, path in written.items():
            print(f"{name}: {path}")
        return 0

    base = f"http://{args.host}:{args.port}"
    print("Dashboards (Ctrl-C to stop):")
    for name in DASHBOARDS:
        print(f"  {name.replace('_', ' ')}: {base}/voila/render/{name}.ipynb")
    try:
        return subprocess.call(voila_command(folder, args.port, args.no_browser, host=args.host),
                               env=_environment(args), cwd=folder)
    except KeyboardInterrupt:
        return 0
