"""``nbprod build``: build the pipeline, running only what changed."""

from __future__ import annotations

import argparse
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the build options."""
    parser.add_argument("--force", action="store_true", help="run every task, changed or not")


def run(args: argparse.Namespace) -> int:
    """Build, print what ran, and return 0 on success, 1 when a task failed."""
    from nbprod.pipeline.build import build
    from nbprod.pipeline.dag import BuildFailed

    try:
        result = build(args.settings, args.project, force=args.force)
    except BuildFailed as failure:
        print(failure.details, file=sys.stderr)
        print("nbprod build failed:", file=sys.stderr)
        for name, status in failure.statuses.items():
            print(f"  {name:<10} {status}", file=sys.stderr)
        return 1
    if not result.executed:
        print(f"Nothing changed: all {len(result.statuses)} tasks are up to date ({result.seconds:.1f} s).")
        return 0
    print(f"Built in {result.seconds:.1f} s (MLflow parent run {result.parent_run_id}):")
    for name, status in result.statuses.items():
        reason = " (data or code changed)" if name in result.forced else ""
        print(f"  {name:<10} {status}{reason}")
    return 0
