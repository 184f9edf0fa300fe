"""Import costs of the build's own process: imports that compile what a build never uses, and imports a
function task would make when it starts, made ahead while a notebook runs (:func:`ahead`).

Ploomber imports papermill, which imports nbformat, which imports jsonschema; jsonschema's
format checkers import ``rfc3987_syntax`` when it is installed (Jupyter's ``jupyter-events``
brings it), and that module compiles three Earley grammars at import: about 1.3 s of CPU, a
quarter of Ploomber's import, spent before any task can start. A build validates notebooks
against nbformat's schema, which checks no IRI format. :func:`defer_iri_grammar` lets
jsonschema import a stand-in whose ``is_valid_syntax`` imports the real module on its first
call and answers as it does: the grammars are compiled only if an IRI is ever checked.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
import types
from typing import Callable, Sequence, TypeVar

log = logging.getLogger("nbprod.pipeline")
Function = TypeVar("Function", bound=Callable)

#: The attribute of a function task holding the modules :func:`ahead` declared.
AHEAD_ATTRIBUTE = "__nbprod_imports_ahead__"

#: The module whose import compiles the grammars, and the function jsonschema takes from it.
IRI_MODULE = "rfc3987_syntax"


def real_iri_module() -> types.ModuleType:
    """The real ``rfc3987_syntax`` (imported now if only the stand-in is there)."""
    module = sys.modules.get(IRI_MODULE)
    if module is None or getattr(module, "__nbprod_stand_in__", False):
        sys.modules.pop(IRI_MODULE, None)
        module = importlib.import_module(IRI_MODULE)
    return module


def is_valid_syntax(term: str, value: str) -> bool:
    """``rfc3987_syntax.is_valid_syntax``, importing the real module on first use."""
    return real_iri_module().is_valid_syntax(term, value)


def stand_in_attribute(name: str) -> object:
    """Any other attribute of the stand-in, from the real module; none of the import system's dunders
    (``from rfc3987_syntax import x`` asks for ``__path__``: that must not import the real module)."""
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(real_iri_module(), name)


def defer_iri_grammar() -> bool:
    """Put the stand-in in place of ``rfc3987_syntax`` until someone calls it; return whether it was put.

    Nothing is done when jsonschema or the module is already imported, or when the module is not
    installed (jsonschema then goes without the check, as it would have).
    """
    from importlib.util import find_spec

    if IRI_MODULE in sys.modules or "jsonschema" in sys.modules or find_spec(IRI_MODULE) is None:
        return False
    stand_in = types.ModuleType(IRI_MODULE, "Stand-in for rfc3987_syntax (see nbprod.pipeline.imports).")
    stand_in.is_valid_syntax = is_valid_syntax  # type: ignore[attr-defined]
    stand_in.__nbprod_stand_in__ = True  # type: ignore[attr-defined]
    stand_in.__getattr__ = stand_in_attribute  # type: ignore[attr-defined]
    sys.modules[IRI_MODULE] = stand_in
    return True


def ahead(*modules: str) -> Callable[[Function], Function]:
    """Declare the modules a function task imports when it runs (its imports inside the function).

    A local build imports them in its own process while the notebook just before that task runs, a notebook
    that leaves the build's process waiting on its kernel (:func:`nbprod.pipeline.dag.imports_ahead`,
    :func:`in_background`). The function itself is returned unchanged.
    """
    def declare(function: Function) -> Function:
        setattr(function, AHEAD_ATTRIBUTE, tuple(modules))
        return function

    return declare


def in_background(modules: Sequence[str]) -> threading.Thread:
    """Import ``modules`` in a thread of its own, started; a module that fails to import is left to the task
    importing it to report."""
    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - the task's own import raises it where it is seen
                log.debug("importing %s ahead failed", name, exc_info=True)

    thread = threading.Thread(target=load, name="nbprod-imports-ahead", daemon=True)
    thread.start()
    return thread
