"""``nbprod score INPUT OUTPUT``: score a CSV or Parquet file with the champion, in chunks.

Usage::

    nbprod score INPUT OUTPUT [--rejects PATH] [--chunk-rows N] [--version V] [--project DIR]

The file type of each path comes from its name (``.csv``/``.csv.gz``/``.tsv``, or
``.parquet``). Rows failing validation (the prediction service's rules) go to the
rejects file (default: ``OUTPUT`` with ``.rejects`` before the suffix) with a
``reject_reason``; the rest are scored. Text longer than ``serve.max_text_chars`` is
rejected, as the service rejects it. Prints a summary. Exit status: 0 when the
run completed (rejects or not), 2 when the input cannot be scored at all (missing or
unreadable file, a required column absent) or no model can be loaded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nbprod.arguments import at_least


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``score`` options."""
    parser.add_argument("input", type=Path, help="CSV or Parquet file to score")
    parser.add_argument("output", type=Path, help="where to write the scored rows (CSV or Parquet)")
    parser.add_argument("--rejects", type=Path, default=None,
                        help="where to write rows that fail validation (default: beside OUTPUT)")
    parser.add_argument("--chunk-rows", type=at_least(1), default=50_000, help="rows per chunk (memory use)")
    parser.add_argument("--version", default=None,
                        help="registered model version to use instead of the alias (registry.alias)")


def run(args: argparse.Namespace) -> int:
    """Score the file; print the summary."""
    from nbprod.serving.batch import ScoreError, file_format, score_file
    from nbprod.serving.model_source import client_for, load_version

    try:  # cheap checks before loading the model
        if not args.input.is_file():
            raise ScoreError(f"input file {args.input} does not exist")
        for path in (args.input, args.output, args.rejects):
            if path is not None:
                file_format(path)
    except ScoreError as error:
        print(f"nbprod score: {error}", file=sys.stderr)
        return 2

    project = args.catalog
    name, alias, uri = project.model_name, project.alias, project.tracking_uri()
    client = client_for(uri)
    try:
        version = args.version or str(client.get_model_version_by_alias(name, alias).version)
        model = load_version(uri, name, version, client)
    except Exception as error:  # registry errors come in many types
        wanted = f"models:/{name}/{args.version}" if args.version else f"models:/{name}@{alias}"
        print(f"nbprod score: cannot load {wanted} from {uri}: {error}", file=sys.stderr)
        return 2
    try:
        summary = score_file(model, args.input, args.output, args.rejects, max(1, args.chunk_rows),
                             int(project.settings["serve"]["max_text_chars"]))
    except ScoreError as error:
        print(f"nbprod score: {error}", file=sys.stderr)
        return 2
    print(summary.text())
    if summary.rows_read and not summary.rows_scored:
        print(f"nbprod score: no row of {args.input} could be scored (see the rejects)", file=sys.stderr)
        return 1
    return 0
