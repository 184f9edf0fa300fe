"""A fast answer to "did anything change?", without importing Ploomber.

After a build that left every task up to date, the manifest records the
settings' digest and the size and modification time of every file the
decision depends on: ``pipeline.yaml``, the task sources, the ``nbprod``
package, the data files, and every product with its metadata. If none of
them moved, the next build has nothing to do and says so in a fraction of a
second; if anything moved, the full check runs (it is the only one that
decides what to run).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterable, Mapping

MANIFEST = ".nbprod/manifest.json"


def settings_digest(settings: Mapping[str, Any]) -> str:
    """A digest of the settings, independent of key order."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def file_states(paths: Iterable[Path]) -> dict[str, list[int] | None]:
    """``[mtime_ns, size]`` of each path, None when it does not exist."""
    states: dict[str, list[int] | None] = {}
    for path in paths:
        try:
            stat = Path(path).stat()
        except FileNotFoundError:
            states[str(path)] = None
        else:
            states[str(path)] = [stat.st_mtime_ns, stat.st_size]
    return states


def read(products: Path) -> dict[str, Any] | None:
    """The stored manifest, or None."""
    path = products / MANIFEST
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write(products: Path, settings: Mapping[str, Any], tasks: list[str], paths: Iterable[Path],
          task_products: Mapping[str, Any] | None = None) -> None:
    """Record the state of ``paths`` after an up-to-date build (and each task's products, for its summary)."""
    from nbprod import io

    io.write_json({"settings": settings_digest(settings), "tasks": tasks, "files": file_states(paths),
                   "products": dict(task_products or {})}, products / MANIFEST)


def recorded_products(folder: Path) -> dict[str, Any]:
    """Each task's product path(s) as the last up-to-date build recorded them (empty when unknown)."""
    return (read(folder) or {}).get("products", {})


def unchanged(products: Path, settings: Mapping[str, Any]) -> list[str] | None:
    """The task names when nothing recorded has changed since the last up-to-date build, else None."""
    stored = read(products)
    if not stored or stored["settings"] != settings_digest(settings):
        return None
    if file_states(Path(path) for path in stored["files"]) != stored["files"]:
        return None
    return stored["tasks"]


def forget(products: Path) -> None:
    """Drop the manifest (a build is about to change things)."""
    (products / MANIFEST).unlink(missing_ok=True)
