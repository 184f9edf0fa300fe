"""``nbprod new DIR --data FILE --target COLUMN``: a project of its own for a table, ready for ``make run``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

#: ``nbprod new`` makes a project: it does not need one (see :func:`nbprod.cli.main`).
NEEDS_PROJECT = False


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``nbprod new``."""
    parser.add_argument("folder", type=Path, help="the project folder to write (must not exist)")
    parser.add_argument("--data", type=Path, required=True, help="the table: a .csv or .parquet file")
    parser.add_argument("--target", required=True, help="the column to predict")
    parser.add_argument("--task", choices=("classification", "regression"), default=None,
                        help="instead of the inferred task")
    parser.add_argument("--time-column", default=None,
                        help="split by time on this column instead of the inferred one; 'none' splits at random")
    parser.add_argument("--keep", action="append", default=[], metavar="COLUMN",
                        help="never drop this column (e.g. one reported as probable leakage); repeatable")
    parser.add_argument("--force", action="store_true", help="write into a folder that exists")


def next_steps(folder: Path) -> list[str]:
    """The commands to run after ``nbprod new``."""
    return [f"cd {folder}", "make run     # install nbprod into .venv and build the pipeline",
            "make test    # the project's tests"]


def run(args: argparse.Namespace) -> int:
    """Infer the project from the table, write it, print what was inferred and what to run next."""
    from nbprod.data.sources import DataSourceError, read_table
    from nbprod.scaffold import render
    from nbprod.scaffold.infer import InferenceError
    from nbprod.scaffold.origin import installed_origin
    from nbprod.scaffold.plan import plan_project
    from nbprod.scaffold.write import ScaffoldError, check_folder, write_project

    folder = args.folder.expanduser().resolve()
    try:
        check_folder(folder, args.force)
        frame = read_table(args.data)
        plan = plan_project(frame, folder.name, args.data.name, args.target, args.task, args.time_column,
                            args.keep)
        write_project(folder, plan, args.data, installed_origin(), args.force)
    except (DataSourceError, InferenceError, ScaffoldError, render.RenderError) as error:
        print(f"nbprod new: {error}", file=sys.stderr)
        return 2
    print(f"nbprod new: wrote {folder}")
    print("inferred (review env.yaml's data: and split: sections and " + plan.schema_file + "):")
    for line in render.summary(plan):
        print(f"  {line}")
    print("next:")
    for line in next_steps(folder):
        print(f"  {line}")
    return 0
