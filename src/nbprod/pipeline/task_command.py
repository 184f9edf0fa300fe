"""``nbprod task NAME``: build one task of the pipeline alone, from its upstream products on disk.

    nbprod task train                     # runs notebooks/train.ipynb with the products of prepare
    nbprod task promote --set registry.margin=0.01

This is how a pipeline runs one step per container (``nbprod export argo``): each step's
upstream products are on a shared volume. The task runs even when it is up to date; a
missing upstream product stops it with a one-line error naming that product.
"""

from __future__ import annotations

import argparse
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``task`` argument."""
    parser.add_argument("name", help="the task to build (a name from pipeline.yaml)")


def run(args: argparse.Namespace) -> int:
    """Build the task; 0 when it ran, 1 when it failed, 2 when it cannot run (unknown, upstream missing)."""
    from nbprod.pipeline.build import build_task
    from nbprod.pipeline.command import error_line
    from nbprod.pipeline.dag import BuildFailed, TaskError

    try:
        result = build_task(args.settings, args.project, args.name)
    except TaskError as error:
        print(f"nbprod task: {error}", file=sys.stderr)
        return 2
    except BuildFailed as failure:
        print(failure.details, file=sys.stderr)
        cause = error_line(failure.details)
        print(f"nbprod task: {args.name} failed" + (f": {cause}" if cause else ""), file=sys.stderr)
        return 1
    print(f"Task {args.name} {result.statuses[args.name]} in {result.seconds:.1f} s "
          f"(MLflow parent run {result.parent_run_id}).")
    return 0
