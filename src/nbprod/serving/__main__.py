"""``python -m nbprod.serving serve|score ...``: the same as ``nbprod serve`` / ``nbprod score``.

``nbprod.cli`` imports only the module of the command it runs, so this entry point
loads no more than the serving commands need.
"""

from __future__ import annotations

import sys
from typing import Sequence

from nbprod import cli

SERVING_COMMANDS = ("serve", "score")


def main(argv: Sequence[str] | None = None) -> int:
    """Run a serving command through the ``nbprod`` command line."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((word for word in argv if not word.startswith("-")), None)
    if command not in SERVING_COMMANDS:
        print(f"usage: python -m nbprod.serving {{{','.join(SERVING_COMMANDS)}}} ...", file=sys.stderr)
        return 2
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
