"""``nbprod dashboard``: serve the dashboards with Voila on 127.0.0.1, or write static snapshots.

    nbprod dashboard                      # http://127.0.0.1:8866/ (model and drift reports)
    nbprod dashboard --port 9000 --no-browser
    nbprod dashboard --snapshot           # {reports}/dashboards/<name>.html, code hidden, then exit
    NBPROD_TOKEN=... nbprod dashboard --host 0.0.0.0 --allow-host dash.example.com

Bound beyond loopback, the dashboards need the token in the environment variable named by
``serve.token_env`` (``NBPROD_TOKEN``; open a page once with ``?token=...``), or ``--insecure``.
Requests whose ``Host`` is not localhost, a loopback address, the bound address or an
``--allow-host`` are refused (DNS rebinding; bound to 0.0.0.0 with no ``--allow-host``, any ``Host``
is served: the token guards it); at most ``--max-kernels`` pages run at once.

The dashboards read the project, settings and MLflow store this command was
given (``--project``, ``--env``, ``--set``), passed to the kernels through
``NBPROD_PROJECT``, ``NBPROD_ENV_FILE``, ``NBPROD_SET`` and ``MLFLOW_TRACKING_URI``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

from nbprod.arguments import at_least, port
from nbprod.notebook.templates import TEMPLATE

DEFAULT_PORT = 8866
DEFAULT_HOST = "127.0.0.1"
#: A page's kernel is shut down this long after its page closed (Voila's own shutdown on page unload is
#: refused -- voila-dashboards/voila#1458, no XSRF token on sendBeacon -- so without culling every visit
#: would leave a kernel running). Open pages keep their kernels (connected kernels are not culled).
KERNEL_IDLE_SECONDS = 120
KERNEL_CULL_INTERVAL_SECONDS = 30
#: Addresses that bind every interface.
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
#: Dashboard kernels running at once (each page has one); a page beyond them is answered 503.
MAX_KERNELS = 8


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
    parser.add_argument("--max-kernels", type=at_least(1), default=MAX_KERNELS,
                        help=f"dashboard pages (kernels) running at once; more get 503 (default {MAX_KERNELS})")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="a Host header value to serve besides localhost and the bound address (repeatable)")
    parser.add_argument("--insecure", action="store_true",
                        help="bind beyond loopback without a token (anyone who reaches the port sees the dashboards)")


def voila_command(folder: Path, port: int, no_browser: bool, python: str | None = None,
                  idle_seconds: int = KERNEL_IDLE_SECONDS, cull_interval: int = KERNEL_CULL_INTERVAL_SECONDS,
                  host: str = DEFAULT_HOST, max_kernels: int = MAX_KERNELS, allowed_hosts: Sequence[str] = (),
                  token_env: str = "") -> list[str]:
    """The command line serving ``folder`` with Voila on ``host`` (default 127.0.0.1).

    No tracebacks for readers (the dashboards show a plain message when they fail);
    the kernels of closed pages are culled after ``idle_seconds``; at most ``max_kernels``
    run at once; only ``Host`` values that are loopback, ``localhost``, the bound ``host``
    or in ``allowed_hosts`` are served (bound to every interface with none listed: any ``Host``,
    as ``nbprod serve`` does; the token is what protects it there); the token, when the variable ``token_env`` is set
    in the server's environment, is required (see :mod:`nbprod.dashboards.voila_server`).
    """
    wildcard = host in WILDCARD_HOSTS
    # bound to every interface with no name listed, the Host is not checked (a token is required there)
    hosts = [*allowed_hosts] if allowed_hosts or not wildcard else ["*"]
    hosts += [] if wildcard else [host]
    command = [python or sys.executable, "-m", "nbprod.dashboards.voila_server", str(folder), f"--Voila.ip={host}",
               f"--port={port}", "--show_tracebacks=False", f"--template={TEMPLATE}", "--theme=light",
               f"--MappingKernelManager.cull_idle_timeout={idle_seconds}",
               f"--MappingKernelManager.cull_interval={cull_interval}",
               "--MappingKernelManager.cull_connected=False",
               "--VoilaConfiguration.multi_kernel_manager_class=nbprod.dashboards.voila_server.CappedKernelManager",
               f"--CappedKernelManager.max_kernels={max_kernels}",
               f"--GuardedVoila.token_env={token_env}",
               *[f"--GuardedVoila.allowed_hosts={name}" for name in hosts]]
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
    from nbprod.serving.exposure import exposure_refusal, exposure_warning

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

    token_env = args.settings["serve"]["token_env"]
    refusal = exposure_refusal(args.host, token_set=bool(os.environ.get(token_env)), insecure=args.insecure,
                               server="nbprod dashboard", token_env=token_env)
    if refusal:
        print(f"nbprod: {refusal}", file=sys.stderr)
        return 2
    warning = exposure_warning(args.host, bool(os.environ.get(token_env)), args.insecure, "nbprod dashboard")
    if warning:
        print(warning, file=sys.stderr)
    base = f"http://{args.host}:{args.port}"
    print("Dashboards (Ctrl-C to stop):")
    for name in DASHBOARDS:
        print(f"  {name.replace('_', ' ')}: {base}/voila/render/{name}.ipynb")
    if os.environ.get(token_env):
        print(f"  (add ?token=<the value of {token_env}> to the first page you open)")
    command = voila_command(folder, args.port, args.no_browser, host=args.host, max_kernels=args.max_kernels,
                            allowed_hosts=args.allow_host, token_env=token_env)
    try:
        return subprocess.call(command, env=_environment(args), cwd=folder)
    except KeyboardInterrupt:
        return 0
