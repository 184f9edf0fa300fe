"""``nbprod build``: build the pipeline, running only what changed."""

from __future__ import annotations

import argparse
import re
import sys
import time
from typing import TextIO


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the build options."""
    parser.add_argument("--force", action="store_true", help="run every task, changed or not")
    parser.add_argument("--engine", choices=("local", "dask"), default=None,
                        help="where the tasks run (setting engine.kind): local, or on a Dask cluster")
    parser.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                        help="the Dask scheduler (setting engine.scheduler; default: a cluster of local processes)")


def with_engine(settings: dict, kind: str | None, scheduler: str | None) -> dict:
    """``settings`` with ``--engine`` and ``--scheduler`` applied (a scheduler implies the dask engine)."""
    engine = dict(settings["engine"])
    if scheduler is not None:
        engine.update(kind=kind or "dask", scheduler=scheduler)
    elif kind is not None:
        engine["kind"] = kind
    return {**settings, "engine": engine}


#: A traceback's last line: ``package.module.SomeError: message``.
ERROR_LINE = re.compile(r"^(?:[A-Za-z_][\w]*\.)*([A-Za-z_]\w*(?:Error|Exception)): (.+)$")
#: Errors that only wrap the real one.
WRAPPERS = ("TaskBuildError", "DAGBuildError", "PapermillExecutionError", "CellExecutionError")


def error_line(details: str) -> str | None:
    """The last error in a failed build's output that is not a wrapper (``"DataSourceError: data file ..."``)."""
    found = None
    for line in details.splitlines():
        match = ERROR_LINE.match(line.strip())
        if match and match.group(1) not in WRAPPERS:
            found = f"{match.group(1)}: {match.group(2)}"
    return found


#: How a task's final status reads in its progress line.
ENDINGS = {"Executed": "done", "Errored": "failed"}


class TaskLines:
    """The build's progress: a line when each task starts and one when it ends, with its elapsed time."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream  # None: standard output at the time of printing

    def started(self, name: str) -> None:
        """``12:00:01  train      started``."""
        self._line(f"{name:<10} started")

    def finished(self, name: str, status: str, seconds: float) -> None:
        """``12:00:31  train      done in 30.2 s`` (or ``failed after``)."""
        ending = ENDINGS.get(status, status.lower())
        self._line(f"{name:<10} {ending} {'after' if ending == 'failed' else 'in'} {seconds:.1f} s")

    def _line(self, text: str) -> None:
        print(f"{time.strftime('%H:%M:%S')}  {text}", file=self.stream, flush=True)


def engine_error() -> type:
    """:class:`~nbprod.pipeline.dask_engine.EngineError` (the module imports nothing of Dask until it is used)."""
    from nbprod.pipeline.dask_engine import EngineError

    return EngineError


def run(args: argparse.Namespace) -> int:
    """Build (a line per task as it starts and ends), print what ran and what to do next.

    One build at a time per ``products`` folder: a second one is refused with the first's pid
    (:mod:`nbprod.locks`). Returns 0 on success, 1 when a task failed or another build holds the lock,
    2 when the build cannot start (the Dask scheduler is unreachable).
    """
    from nbprod.locks import LockBusy, describe, hold
    from nbprod.pipeline.build import build, failed_tasks
    from nbprod.pipeline.dag import BuildFailed
    from nbprod.pipeline.summary import print_summary, summary_lines
    from nbprod.settings import SettingsError, check_values

    settings = with_engine(args.settings, getattr(args, "engine", None), getattr(args, "scheduler", None))
    try:
        check_values(settings)
        with hold(args.catalog.build_lock, "nbprod build") as stale:
            if stale:
                print(f"nbprod build: took over the lock left by {describe(stale)} (no longer running)",
                      file=sys.stderr)
            result = build(settings, args.project, force=args.force, progress=TaskLines())
    except LockBusy as busy:
        print(f"nbprod build: another build is running in {args.catalog.products}: {busy}; "
              "wait for it to finish (or stop it) and build again", file=sys.stderr)
        return 1
    except (SettingsError, engine_error()) as error:
        print(f"nbprod build: {error}", file=sys.stderr)
        return 2
    except BuildFailed as failure:
        print(failure.details, file=sys.stderr)
        print("nbprod build failed:", file=sys.stderr)
        for name, status in failure.statuses.items():
            print(f"  {name:<10} {status}", file=sys.stderr)
        cause = error_line(failure.details)
        failed = ", ".join(failed_tasks(failure.statuses))
        if cause:
            print(f"nbprod build: {failed or 'a task'} failed: {cause}", file=sys.stderr)
        return 1
    if not result.executed:
        print(f"Nothing changed: all {len(result.statuses)} tasks are up to date ({result.seconds:.1f} s).")
    else:
        rest = len(result.statuses) - len(result.executed)
        print(f"Built in {result.seconds:.1f} s: {len(result.executed)} tasks ran"
              + (f", {rest} were up to date" if rest else "") + f" (MLflow parent run {result.parent_run_id}).")
    print_summary(summary_lines(result.products, args.project, settings))
    return 0
