"""``nbprod replay``: watch drift appear, retraining start and the gate decide, on the later months of the data.

Usage::

    nbprod replay [--start-server | --url URL] [--file FILE] [--weeks N] [--batch-size 200]
                  [--max-requests 100] [--drift-share X] [--retrain-set KEY=VALUE ...] [--set KEY=VALUE ...]

Replays the current build's ``new`` split (or ``--file``) in time order, week by week
(``monitor.window``), through the prediction service -- ``--url`` (default
``http://serve.host:serve.port``), or ``--start-server`` to run ``nbprod serve`` as a
subprocess on a free loopback port and stop it at the end -- then runs the monitoring
pass after each week (see ``nbprod monitor``) and prints what happened.

The demo runs with the project's settings. On the default data, between the training
months (January to July) and October to December only the weather columns drift
(temp, dewp, humid, wind_*, precip, pressure, visib: 8 or 9 of the 21 monitored
columns, a share of 0.38 to 0.48 per week), under ``monitor.drift_share`` 0.5; what
starts the retraining is the model's quality on the landed flights falling more than
``monitor.performance_drop`` below its test score. ``--drift-share 0.3`` shows the
drift rule firing instead.

A quick version (small retraining build)::

    nbprod replay --start-server --weeks 4 --set sample_frac=0.1 \\
        --retrain-set 'train.candidates=[{name: hgb, kind: hist_gradient_boosting, params: {max_iter: [40]}}]'
"""

from __future__ import annotations

import argparse
import copy
import sys

from nbprod.arguments import at_least, positive
from nbprod.monitoring.command import add_snapshot_option, refresh_snapshots


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``replay`` options."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--url", default=None, help="the running service (default http://serve.host:serve.port)")
    where.add_argument("--start-server", action="store_true",
                       help="start `nbprod serve` as a subprocess on a free loopback port, stop it at the end")
    parser.add_argument("--file", default=None, help="CSV or Parquet to replay instead of the build's new split")
    parser.add_argument("--weeks", type=at_least(1), default=None, help="replay at most this many windows")
    parser.add_argument("--batch-size", type=at_least(1), default=200, help="records per POST (default 200)")
    parser.add_argument("--max-requests", type=at_least(1), default=100,
                        help="POSTs per week at most; larger weeks are sampled down (default 100)")
    parser.add_argument("--drift-share", type=float, default=None,
                        help="monitor.drift_share for the demo's monitoring (default: the settings'; on the "
                             "default data only the weather columns drift, a share of about 0.4)")
    parser.add_argument("--no-retrain", action="store_true", help="record the decisions only")
    parser.add_argument("--retrain-set", action="append", default=[], metavar="KEY=VALUE",
                        help="an override for the retraining builds only (e.g. sample_frac=0.1)")
    parser.add_argument("--server-timeout", type=positive, default=120.0,
                        help="seconds to wait for a started service to load its model")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampling of large weeks")
    add_snapshot_option(parser)


def run(args: argparse.Namespace) -> int:
    """Replay; 0 when every week was monitored, 2 when the service or the data is not there."""
    import tempfile
    from pathlib import Path

    from nbprod.monitoring.check import MonitorError
    from nbprod.monitoring.replay import (Client, ReplayError, free_port, load_replay_data, replay, start_server,
                                          stop_server, token)

    settings = copy.deepcopy(args.settings)
    configured = settings["monitor"]["drift_share"]
    if args.drift_share is not None:
        settings["monitor"]["drift_share"] = float(args.drift_share)
    if args.no_retrain:
        settings["monitor"]["retrain"] = False
    process = None
    server_log = None
    try:
        project = args.catalog.with_settings(settings)
        data, source = load_replay_data(project, args.file)
        if args.start_server:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            server_log = Path(tempfile.gettempdir()) / f"nbprod-replay-serve-{port}.log"
            print(f"Starting nbprod serve on {url} (its output: {server_log}) ...", flush=True)
            overrides = [*args.set, "serve.host=127.0.0.1"]
            process = start_server(args.project, overrides, port, args.env, server_log)
        else:
            url = args.url or f"http://{settings['serve']['host']}:{settings['serve']['port']}"
        client = Client(url, token(settings))
        ready = client.wait_ready(args.server_timeout, process) if process else _ready_now(client)
        model = (ready or {}).get("model") or {}
        print(f"Replaying {len(data):,} rows of {source} through {url} (serving {model.get('name')} "
              f"v{model.get('version')}), {settings['monitor']['window']} windows, {args.batch_size} records per "
              f"request.\n{rules_text(settings['monitor'], configured)}", flush=True)
        reports = replay(project, data, client, batch_size=args.batch_size,
                         max_requests=args.max_requests, weeks=args.weeks, retrain_overrides=args.retrain_set,
                         seed=args.seed, say=lambda text: print(text, flush=True))
    except (ReplayError, MonitorError) as error:
        print(f"nbprod replay: {error}", file=sys.stderr)
        return 2
    finally:
        stop_server(process)
    retrained = [r for r in reports if r.outcome is not None]
    print(f"\nDone: {len(reports)} week(s) replayed, {len(retrained)} retraining build(s)"
          + "".join(f"; {r.outcome.decision or 'no gate'}" + (f" v{r.outcome.model_version}" if r.outcome.model_version
                                                               else "") for r in retrained)
          + f". History: {reports[-1].history_path if reports else '-'}", flush=True)
    if reports and not args.no_snapshot:
        print(refresh_snapshots(args), flush=True)
    return 1 if any(r.exit_code for r in reports) else 0


def rules_text(monitor: dict, configured: float) -> str:
    """The retraining rules the demo runs with, in one sentence."""
    share = monitor["drift_share"]
    changed = "" if share == configured else f" (the settings say {configured:g})"
    quality = [f"falls below {monitor['performance_floor']:g}"] if monitor.get("performance_floor") is not None else []
    if monitor.get("performance_drop") is not None:
        quality.append(f"is more than {monitor['performance_drop']:g} below the serving model's test score")
    return (f"Retrain when a window's share of drifted columns reaches {share:g}{changed} in "
            f"{monitor['trigger_k']} of the last {monitor['trigger_n']} windows"
            + (f", or when the quality on the landed flights {' or '.join(quality)}" if quality else "")
            + ("" if monitor["retrain"] else " (record only)") + ".")


def _ready_now(client):
    ok, body = client.ready()
    if not ok:
        from nbprod.monitoring.replay import ReplayError

        raise ReplayError(f"the service at {client.url} has no model loaded yet: {body}")
    return body
