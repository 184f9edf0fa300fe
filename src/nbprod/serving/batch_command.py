"""``nbprod score INPUT OUTPUT``: score a CSV or Parquet file with the champion, in chunks.

Usage::

    nbprod score INPUT OUTPUT [--rejects PATH] [--chunk-rows N] [--version V] [--project DIR]
    nbprod score INPUT_FOLDER OUTPUT_FOLDER [--engine dask] [--scheduler tcp://HOST:PORT]

The file type of each path comes from its name (``.csv``/``.csv.gz``/``.tsv``, or
``.parquet``). Rows failing validation (the prediction service's rules) go to the
rejects file (default: ``OUTPUT`` with ``.rejects`` before the suffix) with a
``reject_reason``; the rest are scored. Text longer than ``serve.max_text_chars`` is
rejected, as the service rejects it. Prints a summary. Exit status: 0 when the
run completed (rejects or not), 2 when the input cannot be scored at all (missing or
unreadable file, a required column absent) or no model can be loaded.

A folder of Parquet files (a partitioned dataset) is scored file by file into the folder
``OUTPUT``: one output file per input file, of the same name, its rejects beside it. With
the dask engine (``--engine dask``, setting ``engine.kind``) each file is scored on a worker
of the cluster (``--scheduler``, setting ``engine.scheduler``), which loads the model from
the store itself; the folders must be on storage every worker sees.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nbprod.arguments import at_least


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``score`` options."""
    parser.add_argument("input", type=Path, help="CSV or Parquet file to score, or a folder of Parquet files")
    parser.add_argument("output", type=Path,
                        help="where to write the scored rows (CSV or Parquet; a folder when INPUT is one)")
    parser.add_argument("--rejects", type=Path, default=None,
                        help="where to write rows that fail validation (default: beside OUTPUT)")
    parser.add_argument("--chunk-rows", type=at_least(1), default=50_000, help="rows per chunk (memory use)")
    parser.add_argument("--version", default=None,
                        help="registered model version to use instead of the alias (registry.alias)")
    parser.add_argument("--engine", choices=("local", "dask"), default=None,
                        help="where a folder's files are scored (setting engine.kind): here, or on a Dask cluster")
    parser.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                        help="the Dask scheduler (setting engine.scheduler; default: a cluster of local processes)")


def partitions(folder: Path) -> list[Path]:
    """The Parquet files of a partitioned dataset (rejects files of an earlier run left out), by name."""
    from nbprod.serving.batch import ScoreError

    files = sorted(path for path in folder.iterdir() if path.is_file() and path.name.endswith(".parquet")
                   and not path.name.endswith(".rejects.parquet"))
    if not files:
        raise ScoreError(f"{folder} holds no Parquet file (*.parquet) to score")
    return files


def score_folder(args: argparse.Namespace, uri: str, name: str, version: str) -> list:
    """Score each file of the folder ``args.input`` into the folder ``args.output``, here or on the cluster."""
    from nbprod.pipeline.command import with_engine
    from nbprod.serving.batch import ScoreError, score_file
    from nbprod.serving.model_source import load_version

    inputs = partitions(args.input)
    if args.output.resolve() == args.input.resolve():
        raise ScoreError("the output folder must differ from the input folder")
    args.output.mkdir(parents=True, exist_ok=True)
    engine = with_engine(args.catalog.settings, args.engine, args.scheduler)["engine"]
    if engine["kind"] == "local":
        model = load_version(uri, name, version)
        return [score_file(model, path, args.output / path.name, None, args.chunk_rows) for path in inputs]
    from nbprod.pipeline import dask_engine

    with dask_engine.connected(engine["scheduler"]) as client:
        return dask_engine.score_partitions(client, uri, name, version, inputs, args.output, args.chunk_rows)


def run_folder(args: argparse.Namespace) -> int:
    """``nbprod score FOLDER FOLDER``: print each file's summary and the total."""
    from nbprod.pipeline.dask_engine import EngineError
    from nbprod.serving.batch import ScoreError
    from nbprod.serving.model_source import client_for

    project = args.catalog
    name, alias, uri = project.model_name, project.alias, project.tracking_uri()
    try:
        version = args.version or str(client_for(uri).get_model_version_by_alias(name, alias).version)
        summaries = score_folder(args, uri, name, version)
    except (ScoreError, EngineError) as error:
        print(f"nbprod score: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # registry errors come in many types
        wanted = f"models:/{name}/{args.version}" if args.version else f"models:/{name}@{alias}"
        print(f"nbprod score: cannot score with {wanted} from {uri}: {error}", file=sys.stderr)
        return 2
    for summary in summaries:
        print(summary.text())
    read, scored = sum(s.rows_read for s in summaries), sum(s.rows_scored for s in summaries)
    print(f"{len(summaries)} files: scored {scored} of {read} rows -> {args.output}")
    return 0 if scored or not read else 1


def run(args: argparse.Namespace) -> int:
    """Score the file; print the summary."""
    from nbprod.serving.batch import ScoreError, file_format, score_file
    from nbprod.serving.model_source import client_for, load_version

    if args.input.is_dir():
        return run_folder(args)
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
