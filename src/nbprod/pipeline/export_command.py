"""``nbprod export argo``: write the pipeline as an Argo Workflow (one step per task, ``nbprod task NAME``).

    nbprod export argo --image registry.example.com/nbprod:0.1.0 -o pipeline-argo.yaml
    argo submit -n nbprod pipeline-argo.yaml        # or kubectl -n nbprod create -f pipeline-argo.yaml

The steps run in the image of the Dockerfile, share their products on a volume claimed for the
run, and read the MLflow store's address from the ``nbprod-config`` ConfigMap (deploy/k8s).
``--set`` overrides are passed on to every step (``--env`` is not: the image holds the project's
env.yaml). Needs Hera (``pip install 'nbprod[deploy]'``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_IMAGE = "nbprod:latest"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``export`` options."""
    parser.add_argument("target", choices=["argo"], help="what to export to")
    parser.add_argument("--image", default=DEFAULT_IMAGE, help=f"image the steps run (default {DEFAULT_IMAGE})")
    parser.add_argument("-o", "--output", type=Path, default=None, help="file to write (default: standard output)")
    parser.add_argument("--storage", default="20Gi", help="size of the run's shared volume (default 20Gi)")


def run(args: argparse.Namespace) -> int:
    """Write the workflow; 0 on success, 2 when Hera is missing or the output cannot be written."""
    import importlib.util

    from nbprod.pipeline import dag as dag_module
    from nbprod.pipeline.argo import workflow

    if importlib.util.find_spec("hera") is None:
        print("nbprod export: Hera is not installed: pip install 'nbprod[deploy]'", file=sys.stderr)
        return 2
    if args.env is not None:
        print(f"nbprod export: note: the steps read the image's env.yaml, not {args.env}; only --set is passed on",
              file=sys.stderr)
    dag = dag_module.load_dag(args.project, args.settings)
    text = workflow(dag_module.task_names(dag), dag_module.edges(dag), args.image,
                    args.settings["tracking"]["experiment"], args.set, args.storage).to_yaml()
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        args.output.write_text(text)
    except OSError as error:
        print(f"nbprod export: cannot write {args.output}: {error.strerror}", file=sys.stderr)
        return 2
    print(f"Argo Workflow of {len(dag_module.task_names(dag))} tasks written to {args.output}")
    return 0
