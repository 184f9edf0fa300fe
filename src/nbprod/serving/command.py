"""``nbprod serve``: serve the champion model over HTTP (see :mod:`nbprod.serving.app` for the API).

Usage::

    nbprod serve [--project DIR] [--set serve.port=9000] [--host H] [--port P] [--insecure]
                 [--reload-seconds S] [--batch-wait-ms MS] [--max-batch-rows N] [--log-level L]

Serves ``models:/<registry.model_name>@<registry.alias>`` from the project's MLflow
store (``MLFLOW_TRACKING_URI`` wins) on ``serve.host:serve.port`` (127.0.0.1:8765 by
default). Bound beyond loopback (``--host 0.0.0.0``) the service refuses to start unless
the token (the environment variable named by ``serve.token_env``) is set or ``--insecure`` is
given (:mod:`nbprod.serving.exposure`). SIGTERM or Ctrl-C shuts down gracefully: in-flight requests are answered,
then the prediction log is flushed. Only light modules are imported at module level.
"""

from __future__ import annotations

import argparse
import os
import sys

from nbprod.arguments import at_least, port, positive
from nbprod.serving import BATCH_WAIT_MS, MAX_BATCH_ROWS


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` options."""
    parser.add_argument("--host", default=None, help="interface to bind (default: serve.host)")
    parser.add_argument("--port", type=port, default=None, help="TCP port (default: serve.port)")
    parser.add_argument("--insecure", action="store_true",
                        help="bind beyond loopback (--host 0.0.0.0) even without a token: anyone who reaches the "
                             "machine can use the service")
    parser.add_argument("--reload-seconds", type=positive, default=None,
                        help="how often to check where the alias points (default: serve.reload_seconds)")
    parser.add_argument("--batch-wait-ms", type=at_least(0, float), default=None,
                        help="under concurrent load, wait at most this long to gather requests into one "
                             f"model call (default {BATCH_WAIT_MS:g}; 0: take what is queued; a lone client never waits)")
    parser.add_argument("--max-batch-rows", type=at_least(1), default=None,
                        help=f"rows per model call at most (default {MAX_BATCH_ROWS})")
    parser.add_argument("--model-threads", type=at_least(1), default=1,
                        help="BLAS/OpenMP threads for the model (default 1: small batches are slower "
                             "with more)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def run(args: argparse.Namespace) -> int:
    """Start the service; returns when it has shut down."""
    threads = str(max(1, args.model_threads))
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, threads)

    import logging

    import uvicorn
    from threadpoolctl import threadpool_limits

    from nbprod.serving.app import ServeConfig, build_app
    from nbprod.serving.exposure import exposure_refusal, exposure_warning
    from nbprod.serving.guards import uvicorn_options

    config = ServeConfig.from_project(args.catalog, host=args.host, port=args.port,
                                      reload_seconds=args.reload_seconds, batch_wait_ms=args.batch_wait_ms,
                                      max_batch_rows=args.max_batch_rows)
    token_env = args.catalog.settings["serve"]["token_env"]
    refusal = exposure_refusal(config.host, bool(config.token), args.insecure, "nbprod serve", token_env)
    if refusal:
        print(f"nbprod: {refusal}", file=sys.stderr)
        return 2
    warning = exposure_warning(config.host, bool(config.token), args.insecure, "nbprod serve")
    if warning:
        print(warning, file=sys.stderr, flush=True)
    threadpool_limits(int(threads))
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("nbprod.serving").setLevel(args.log_level.upper())
    app = build_app(config)
    print(f"nbprod serve: models:/{config.model_name}@{config.alias} from {config.tracking_uri} "
          f"on http://{config.host}:{config.port} (token {'required' if config.token else 'off'}, "
          f"prediction log {config.log_folder})", flush=True)
    uvicorn.run(app, host=config.host, port=config.port, lifespan="on", access_log=False,
                log_level=args.log_level, timeout_graceful_shutdown=30, server_header=False,
                **uvicorn_options(config.guard))
    return 0
