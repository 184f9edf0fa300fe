"""``python -m nbprod.serving serve|score ...``: the serving commands without the full CLI.

Same options and settings handling as ``nbprod serve`` / ``nbprod score`` (the
project folder, ``--env``, ``--set``), for environments where only serving is installed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from nbprod import settings as settings_module

COMMANDS = {
    "serve": ("nbprod.serving.command", "serve the champion model over HTTP"),
    "score": ("nbprod.serving.batch_command", "score a CSV or Parquet file with the champion"),
}


def main(argv: Sequence[str] | None = None) -> int:
    import importlib

    parser = argparse.ArgumentParser(prog="python -m nbprod.serving")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--project", type=Path, default=None)
        sub.add_argument("--env", type=Path, default=None)
        sub.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
        sub.set_defaults(module=module_name)
        importlib.import_module(module_name).configure(sub)
    args = parser.parse_args(argv)
    try:
        args.project = (args.project or settings_module.find_project_root()).resolve()
        args.settings = settings_module.load(args.project, args.env, args.set)
    except settings_module.SettingsError as error:
        print(f"nbprod: {error}", file=sys.stderr)
        return 2
    return importlib.import_module(args.module).run(args)


if __name__ == "__main__":
    sys.exit(main())
