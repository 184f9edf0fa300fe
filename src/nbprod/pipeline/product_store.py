"""Products in an S3 bucket for a build on a Dask cluster (``engine.products_url: s3://BUCKET/PREFIX``).

The workers then share no folder for what the tasks write. Each builds its task in a folder of its own
(:func:`worker_settings`), after fetching the files of its upstream tasks from the bucket (:func:`fetch`),
and puts the files its task wrote there (:func:`put`). The build's process fetches each task's files into
the project as the task ends, so the manifest, the executed notebooks' HTML and every command after the
build find them where a local build leaves them.

A task's files are its products and Ploomber's metadata beside each (``.NAME.metadata``: what says a
product is up to date); a product that is a folder travels whole. A file's key is the prefix, then its
folder's name, then its path in that folder: ``PREFIX/products/data/train.parquet``,
``PREFIX/reports/train.ipynb``.

Credentials and the endpoint come from the standard AWS environment of each process (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL`` for an S3-compatible server), never from the settings. Every
request has a deadline (:data:`CONNECT_SECONDS`, :data:`READ_SECONDS`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from nbprod.pipeline.dask_engine import EngineError
from nbprod.settings import resolve_path, s3_location

#: The settings naming the folders a task writes to, each a root of keys in the bucket.
ROOTS = ("products", "reports")
#: Seconds to connect to the object store, and to wait for each answer (botocore retries 3 times).
CONNECT_SECONDS = 5
READ_SECONDS = 60


class StoreError(EngineError):
    """A file could not be put into, or fetched from, the products' bucket; the message names it."""


def parse(url: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://BUCKET/PREFIX`` (:func:`nbprod.settings.s3_location`); ValueError if not one."""
    location = s3_location(url)
    if location is None:
        raise ValueError(f"not an s3://BUCKET/PREFIX address: {url!r}")
    return location


def roots(settings: Mapping[str, Any], project: Path) -> dict[str, Path]:
    """Each root's folder as ``settings`` place it (relative to ``project`` unless absolute)."""
    return {name: resolve_path(project, settings[name]) for name in ROOTS}


def worker_settings(settings: Mapping[str, Any], folder: Path) -> dict[str, Any]:
    """``settings`` with each root in ``folder`` (a worker's own), the rest unchanged."""
    return {**settings, **{name: str(folder / name) for name in ROOTS}}


def task_files(paths: str | Mapping[str, str]) -> list[Path]:
    """A task's product files (as :func:`nbprod.pipeline.dag.product_paths` gives them), each followed by its
    Ploomber metadata file."""
    files = [Path(path) for path in (paths.values() if isinstance(paths, Mapping) else [paths])]
    return [name for path in files for name in (path, path.with_name(f".{path.name}.metadata"))]


def key(path: Path, folders: Mapping[str, Path], prefix: str) -> str:
    """The key of ``path``, a file in one of ``folders`` (:func:`roots`). :class:`StoreError` when it is in none."""
    for name, folder in folders.items():
        if path.resolve().is_relative_to(folder.resolve()):
            relative = path.resolve().relative_to(folder.resolve()).as_posix()
            return "/".join(part for part in (prefix, name, relative) if part)
    raise StoreError(f"{path} is in none of the folders whose files go to the bucket: "
                     f"{', '.join(map(str, folders.values()))}")


def client() -> Any:
    """A boto3 S3 client from this process's AWS environment, with deadlines."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError as error:
        raise StoreError("engine.products_url needs boto3: pip install 'nbprod[team]'") from error
    config = Config(connect_timeout=CONNECT_SECONDS, read_timeout=READ_SECONDS, retries={"max_attempts": 3},
                    s3={"addressing_style": "path"})
    return boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None, config=config)


def put(url: str, folders: Mapping[str, Path], files: list[Path]) -> list[str]:
    """Upload each of ``files`` that exists (every file in it, for a folder) into the bucket of ``url``; return
    their keys.

    Raises :class:`StoreError` naming the file and the key when an upload fails.
    """
    bucket, prefix = parse(url)
    s3, done = client(), []
    for path in [found for path in files for found in (sorted(path.rglob("*")) if path.is_dir() else [path])]:
        if not path.is_file():
            continue  # a product without metadata (never built), or a folder in a folder product
        name = key(path, folders, prefix)
        try:
            s3.upload_file(str(path), bucket, name)
        except Exception as error:  # noqa: BLE001 - botocore's and the network's errors alike
            raise StoreError(f"could not put {path} to s3://{bucket}/{name}: {error}") from error
        done.append(name)
    return done


def fetch(url: str, folders: Mapping[str, Path], files: list[Path]) -> list[Path]:
    """Download each of ``files`` from the bucket of ``url`` to its place (a folder: every object under its key);
    return the files fetched.

    A metadata file the bucket lacks is skipped (Ploomber then counts its product as outdated); a product
    file it lacks, or a failed download, raises :class:`StoreError` naming it. Each file is written beside
    its place and moved there once complete: nothing is left half-written.
    """
    bucket, prefix = parse(url)
    s3, done = client(), []
    for path, name in [pair for path in files for pair in placed(s3, bucket, path, key(path, folders, prefix))]:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        try:
            s3.download_file(bucket, name, str(partial))
        except Exception as error:  # noqa: BLE001 - botocore's and the network's errors alike
            partial.unlink(missing_ok=True)
            if path.name.endswith(".metadata") and missing(error):
                continue
            raise StoreError(f"could not fetch s3://{bucket}/{name} to {path}: {error}") from error
        os.replace(partial, path)
        done.append(path)
    return done


def placed(s3: Any, bucket: str, path: Path, name: str) -> list[tuple[Path, str]]:
    """``(file, key)`` to fetch for ``path`` at key ``name``: each object under ``name/`` when there are some (a
    folder), else ``name`` itself."""
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{name}/")
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    except Exception as error:  # noqa: BLE001 - botocore's and the network's errors alike
        raise StoreError(f"could not list s3://{bucket}/{name}/: {error}") from error
    return [(path / found[len(name) + 1:], found) for found in keys] or [(path, name)]


def missing(error: Exception) -> bool:
    """Whether ``error`` says the object does not exist (404)."""
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound")
