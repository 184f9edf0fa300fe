"""``nbprod reproduce RUN_ID``: rebuild a recorded build from its commit, settings and data; compare.

    nbprod reproduce 3f2a...            # a build's MLflow parent run id ("MLflow parent run ..." in its output)

Exit status 0: reproduced (every metric and the holdout predictions equal); 1: differences (listed);
2: the build cannot be reproduced (not a build run, no commit, the raw data changed, the rebuild failed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``run_id`` argument and ``--keep``."""
    parser.add_argument("run_id", help="the build's MLflow parent run id")
    parser.add_argument("--keep", type=Path, default=None, metavar="FOLDER",
                        help="rebuild in FOLDER and keep it (products, reports, MLflow store, build.log)")


def run(args: argparse.Namespace) -> int:
    """Reproduce the build; print "reproduced" or the differences."""
    from nbprod.pipeline.reproduce import ReproduceError, reproduce

    try:
        result = reproduce(args.catalog, args.run_id, keep=args.keep)
    except ReproduceError as error:
        print(f"nbprod reproduce: {error}", file=sys.stderr)
        return 2
    print(f"build {result.run_id} (commit {result.commit[:12]}, data {result.digest}) rebuilt as "
          f"{result.reproduced_run_id}: {result.compared} metrics and the holdout predictions compared; "
          f"{len(result.skipped)} machine-measured or registry-relative metrics not compared")
    if result.reproduced:
        print("reproduced")
        return 0
    print(f"not reproduced: {len(result.differences)} difference(s)")
    for line in result.differences:
        print(f"  {line}")
    return 1
