"""``nbprod monitor``: drift per window of the prediction log (or a batch), the retrain decision, retraining.

Usage::

    nbprod monitor [--data FILE] [--labels FILE] [--label-key COL[,COL]] [--since T] [--until T]
                   [--no-retrain] [--retrain-set KEY=VALUE ...] [--set monitor.drift_share=0.3 ...]
                   [--engine dask] [--scheduler tcp://HOST:PORT]

Reads the service's prediction log (``serve.prediction_log``) or ``--data`` (CSV or
Parquet with the raw input columns), slices it into ``monitor.window`` windows, checks
each new window's drift against the train split of the champion's build (see
:mod:`nbprod.monitoring.builds`), decides with the k-of-n rule (and, once labels are
known -- ``--labels``, or the target column in ``--data`` --, the performance floor and
the allowed drop below the champion's test score), and when it fires starts the
retraining build on the refreshed data window in its own folders (see
:mod:`nbprod.monitoring.retrain`); the promotion gate in that build decides whether the
new model serves. Every decision is recorded in ``{monitor.reports}/drift_history.json``,
``decisions.md`` and MLflow; then the dashboards' static snapshots are refreshed.

A recommender project (``kind: recommender``) brings its own pass (:data:`KINDS`:
:mod:`nbprod.recommender.monitoring`): ``--labels`` are later interactions joined to what
``POST /recommend`` showed, on user and time. The command (errors, the printed decision, the
snapshots) and the pass's skeleton (:func:`nbprod.monitoring.monitor.decided_pass`: the lock, the
k-of-n rule, the retraining, the alerts) are the same for both.

With the dask engine (``--engine dask``, setting ``engine.kind``; ``--scheduler``, setting
``engine.scheduler``) the log's files -- or ``--data``, a Parquet file or a folder of them -- are read
and each window is checked on the workers of the cluster, the client merging what they found and
deciding as here (:mod:`nbprod.monitoring.cluster`); its windows are placed by time.

Exit status: 0 (decision recorded), 1 (the retraining build failed), 2 (cannot monitor:
no build yet, unreadable input).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Iterator

from nbprod.arguments import timestamp

#: The module of each project kind's pass (``monitor_pass(args, project) -> report`` and
#: ``describe(report, quiet) -> lines``); a project without ``kind`` is tabular (this module).
KINDS = {"tabular": "nbprod.monitoring.command", "recommender": "nbprod.recommender.monitoring"}


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``monitor`` options."""
    parser.add_argument("--data", default=None,
                        help="CSV or Parquet batch of new data (raw input columns) instead of the prediction log")
    parser.add_argument("--labels", default=None,
                        help="CSV or Parquet of true outcomes: a key (request_id[,row] or row columns) and data.target")
    parser.add_argument("--label-key", default=None, help="comma-separated columns joining --labels to the rows")
    parser.add_argument("--since", type=timestamp, default=None, help="only log rows with request time >= this (UTC)")
    parser.add_argument("--until", type=timestamp, default=None, help="only log rows with request time < this (UTC)")
    parser.add_argument("--no-retrain", action="store_true",
                        help="record the decision only (same as --set monitor.retrain=false)")
    parser.add_argument("--retrain-set", action="append", default=[], metavar="KEY=VALUE",
                        help="an override for the retraining build only, e.g. --retrain-set sample_frac=0.1 "
                             "(split.* given here replace the refreshed split dates)")
    parser.add_argument("--quiet", action="store_true", help="print only the decision line")
    parser.add_argument("--engine", choices=("local", "dask"), default=None,
                        help="where the windows are read and checked (setting engine.kind): here, or on a Dask cluster")
    parser.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                        help="the Dask scheduler (setting engine.scheduler; default: a cluster of local processes)")
    add_snapshot_option(parser)


def add_snapshot_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-snapshot", action="store_true",
                        help="do not refresh the dashboards' static snapshots ({reports}/dashboards) afterwards")


def refresh_snapshots(args: argparse.Namespace) -> str:
    """Rewrite the dashboards' static snapshots after monitoring; a line saying where (or why not)."""
    from nbprod.dashboards.context import dashboards_folder
    from nbprod.dashboards.snapshot import SnapshotError, dashboard_env, write_snapshots

    target = args.catalog.dashboard_snapshots
    env = dashboard_env(args.project, args.env, list(args.set or []), args.catalog.tracking_uri(), static=True)
    try:
        written = write_snapshots(dashboards_folder(args.project), target, env)
    except SnapshotError as error:
        return f"Dashboard snapshots not refreshed: {error}"
    return f"Dashboard snapshots refreshed: {', '.join(path.name for path in written.values())} in {target}"


def load_rows(args: argparse.Namespace, project):
    """The rows to monitor (``--data``, else :class:`~nbprod.project.Project` ``project``'s prediction log) and a
    description of where they came from."""
    from nbprod.monitoring.monitor import read_rows

    if args.data:
        path = project.path(args.data)
        return read_rows(path), f"data file {path}"
    from nbprod.serving.prediction_log import read_prediction_log

    folder = project.prediction_log
    source = load_rows_source(args, folder)
    return read_prediction_log(folder, args.since, args.until, project.prediction_log_quarantine), source


def cluster_input(args: argparse.Namespace, project) -> tuple[list[str], object, str]:
    """The files the dask engine monitors (the prediction log's, or ``--data``: a Parquet file or a folder of
    them), how a worker reads them (:class:`~nbprod.monitoring.cluster.Reader`) and where they came from."""
    from nbprod.monitoring.check import MonitorError
    from nbprod.monitoring.cluster import PARQUET, Reader

    if args.data:
        path = project.path(args.data)
        files = (sorted(str(item) for item in path.glob("*.parquet")) if path.is_dir()
                 else [str(path)] if path.suffix == ".parquet" else [])
        if not files:
            raise MonitorError(f"--data {args.data}: the dask engine reads a Parquet file or a folder of them "
                               f"(*.parquet); {path} is neither")
        return files, Reader(PARQUET), f"data {'folder' if path.is_dir() else 'file'} {path}"
    return log_input(args, project)


def log_input(args: argparse.Namespace, project) -> tuple[list[str], object, str]:
    """The prediction log's files (from ``--since``), how they are read (``--since``/``--until``, the quarantine:
    a :class:`~nbprod.monitoring.cluster.Reader`) and where they came from."""
    from nbprod.monitoring.cluster import LOG, Reader
    from nbprod.serving.prediction_log import log_files

    folder = project.prediction_log
    files = [str(file) for file in log_files(folder, args.since)]
    reader = Reader(LOG, args.since, args.until, str(project.prediction_log_quarantine))
    return files, reader, load_rows_source(args, folder)


def load_rows_source(args: argparse.Namespace, folder) -> str:
    """Where the prediction log's rows came from, with the request times asked for."""
    bounds = " and ".join(text for text in (args.since and f"since {args.since}", args.until and f"before {args.until}")
                          if text)
    return f"the prediction log {folder}" + (f" (requests {bounds})" if bounds else "")


def cluster_pass(args: argparse.Namespace, project, scheduler: str | None):
    """A monitoring pass whose windows are read and checked on the Dask cluster at ``scheduler``."""
    from nbprod.monitoring.check import MonitorError
    from nbprod.monitoring.cluster import ClusterRows
    from nbprod.monitoring.monitor import run_pass
    from nbprod.pipeline import dask_engine

    if args.labels:
        raise MonitorError("--labels is not read by the dask engine: join the labels into the files (the "
                           f"{project.target!r} column), or monitor with the local engine")
    files, reader, source = cluster_input(args, project)
    try:
        with dask_engine.connected(scheduler, preload=False) as client:
            return run_pass(project, ClusterRows(client, files, reader), source, retrain_overrides=args.retrain_set,
                            log=lambda text: print(text, flush=True))
    except dask_engine.EngineError as error:
        raise MonitorError(str(error)) from None


def decision_lines(report) -> list[str]:
    """The decision and the retraining build's outcome, in plain lines (every kind of project)."""
    decision = report.decision
    verb = "RETRAIN" if decision.retrain else "no action"
    if decision.retrain and not report.retrain_enabled:
        verb = "retrain due (record only: monitor.retrain is false)"
    lines = [f"Decision: {verb} -- {decision.reason}."]
    outcome = report.outcome
    if outcome is not None:
        if outcome.decision:
            lines.append(f"Retraining build {outcome.parent_run_id} ({outcome.seconds:.0f} s): gate "
                         f"{outcome.decision.upper()} v{outcome.model_version} -- {outcome.reason}")
        else:
            lines.append(f"Retraining build {outcome.parent_run_id}: {outcome.reason}")
    return lines


def describe(report, quiet: bool = False) -> list[str]:
    """The pass, in plain lines."""
    lines = []
    if not quiet:
        lines.append(f"Monitored {report.rows} row(s) from {report.source}"
                     + (f", windows by {report.window_column}" if report.window_column else "") + ".")
        for note in report.notes:
            lines.append(f"  note: {note}")
        checked = {(w["start"], w["end"]) for w in report.checked}
        for window in report.windows:
            drift = window["drift"]
            share = drift.get("share")
            names = [c["column"] for c in drift["columns"] if c.get("drifted") and c.get("status") != "not_in_reference"]
            performance = window.get("performance") or {}
            quality = (f"{performance['metric']} {performance['value']:.3f}"
                       if performance.get("value") is not None else "")
            flag = "DRIFT" if drift.get("drifted") else ("-" if drift.get("drifted") is None else "ok")
            lines.append(f"  {window['start'][:10]} .. {window['end'][:10]}  {window['rows']:>6} rows  "
                         f"share {'n/a' if share is None else f'{share:.2f}'}  {flag:<5} {quality:<14} "
                         f"{'' if (window['start'], window['end']) in checked else '(recorded) '}"
                         f"{', '.join(names[:8])}{' ...' if len(names) > 8 else ''}")
    lines += decision_lines(report)
    if not quiet:
        lines.append(f"Recorded in {report.history_path} and MLflow run {report.monitor_run_id}.")
    return lines


def monitor_pass(args: argparse.Namespace, project):
    """The tabular pass, on the engine of ``--engine`` / ``engine.kind``: the local one reads ``--data`` or the
    prediction log into this process (:func:`local_pass`), the dask one checks the windows on the cluster."""
    from nbprod.pipeline.command import with_engine

    engine = with_engine(project.settings, args.engine, args.scheduler)["engine"]
    if engine["kind"] == "dask":
        return cluster_pass(args, project, engine["scheduler"])
    return local_pass(args, project)


def run(args: argparse.Namespace) -> int:
    """Run one monitoring pass of the project's kind (:data:`KINDS`); print what it saw and decided."""
    import importlib

    from nbprod.locks import LockBusy
    from nbprod.monitoring.check import MonitorError
    from nbprod.monitoring.windows import WindowError

    kind = importlib.import_module(KINDS[args.catalog.settings.get("kind") or "tabular"])
    project = args.catalog.with_overrides(["monitor.retrain=false"]) if args.no_retrain else args.catalog
    try:
        report = kind.monitor_pass(args, project)
    except (MonitorError, WindowError) as error:
        print(f"nbprod monitor: {error}", file=sys.stderr)
        return 2
    except LockBusy as busy:
        print(f"nbprod monitor: another monitoring pass is deciding: {busy}", file=sys.stderr)
        return 2
    print("\n".join(kind.describe(report, args.quiet)), flush=True)
    if not args.no_snapshot:
        print(refresh_snapshots(args), flush=True)
    return report.exit_code


def local_pass(args: argparse.Namespace, project):
    """A monitoring pass in this process, on :func:`local_rows`."""
    from nbprod.monitoring.monitor import run_pass

    with local_rows(args, project) as (rows, source):
        return run_pass(project, rows, source, retrain_overrides=args.retrain_set,
                        log=lambda text: print(text, flush=True))


@contextlib.contextmanager
def local_rows(args: argparse.Namespace, project) -> Iterator[tuple[object, str]]:
    """The rows a local pass monitors and where they came from: the prediction log cut and checked one window at
    a time (:mod:`nbprod.monitoring.spool`); ``--data``, or the log with ``--labels`` joined, read whole."""
    from nbprod.monitoring.monitor import attach_labels, read_rows

    if not args.data and not args.labels:
        from nbprod.monitoring.spool import spooled

        files, reader, source = log_input(args, project)
        with spooled(files, reader) as rows:
            yield rows, source
        return
    rows, source = load_rows(args, project)
    if args.labels:
        labels = read_rows(project.path(args.labels))
        key = [c.strip() for c in args.label_key.split(",")] if args.label_key else None
        rows, used = attach_labels(rows, labels, project.target, key)
        source += f" with labels from {args.labels} (joined on {', '.join(used)})"
    yield rows, source
