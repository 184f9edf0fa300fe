"""``nbprod new DIR --data FILE --target COLUMN``: a project of its own for a table, ready for ``make run``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

#: ``nbprod new`` makes a project: it does not need one (see :func:`nbprod.cli.main`).
NEEDS_PROJECT = False
#: The kinds of project ``--template`` writes.
TEMPLATES = ("tabular", "recommender")
#: ``--user`` ... ``--weight``: the columns of a recommender's own table (``data.*`` in its env.yaml).
RECOMMENDER_COLUMNS = ("user", "item", "time", "weight")


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``nbprod new``."""
    parser.add_argument("folder", type=Path, help="the project folder to write (must not exist)")
    parser.add_argument("--template", choices=TEMPLATES, default="tabular",
                        help="the kind of project: tabular (a table in, a label out; needs --data and --target) "
                             "or recommender (interactions in, items per user out; default data: MovieLens)")
    parser.add_argument("--data", type=Path, default=None, help="the table: a .csv or .parquet file")
    parser.add_argument("--target", default=None, help="the column to predict (tabular)")
    for column in RECOMMENDER_COLUMNS:
        parser.add_argument(f"--{column}", default=None,
                            help=f"recommender with --data: the column of the {column}s"
                                 + (" (none: every interaction weighs 1)" if column == "weight" else ""))
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


def run_recommender(args: argparse.Namespace) -> int:
    """Write a recommender project (see :mod:`nbprod.scaffold.recommender`)."""
    from nbprod.scaffold import recommender
    from nbprod.scaffold.origin import installed_origin
    from nbprod.scaffold.write import ScaffoldError

    folder = args.folder.expanduser().resolve()
    columns = {name: getattr(args, name) for name in RECOMMENDER_COLUMNS}
    missing = [f"--{name}" for name in ("user", "item", "time") if args.data is not None and not columns[name]]
    if missing:
        print(f"nbprod new: a recommender on --data {args.data} needs {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.data is not None and not args.data.is_file():
        print(f"nbprod new: --data {args.data} is not a file", file=sys.stderr)
        return 2
    try:
        recommender.write_project(folder, args.data, columns if args.data is not None else None, args.force,
                                  installed_origin())
    except (ScaffoldError, recommender.render.RenderError) as error:
        print(f"nbprod new: {error}", file=sys.stderr)
        return 2
    print(f"nbprod new: wrote {folder} (a recommender project)")
    print("next:")
    for line in (f"cd {folder}", "nbprod build"):
        print(f"  {line}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Infer the project from the table, write it, print what was inferred and what to run next."""
    if args.template == "recommender":
        return run_recommender(args)
    if args.data is None or args.target is None:
        print("nbprod new: a tabular project needs --data FILE and --target COLUMN", file=sys.stderr)
        return 2
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
