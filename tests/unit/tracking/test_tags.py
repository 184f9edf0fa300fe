"""The tag vocabulary: one module names every MLflow tag; no other source file spells one."""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path

from nbprod.tracking import tags

from ..helpers import REPO

SOURCE = Path(tags.__file__).resolve().parents[1]
#: A quoted ``nbprod.<word>`` that is a tag name, not a module or logger (those are followed by a module name).
MODULES = sorted(module.name for module in pkgutil.iter_modules([str(SOURCE)])) + ["jupyter"]
TAG_LITERAL = re.compile(r"""["']nbprod\.(?!(?:""" + "|".join(MODULES) + r""")\b)[a-z_]+""")


def test_every_tag_name_is_distinct_and_in_the_nbprod_namespace():
    names = {name: getattr(tags, name) for name in dir(tags) if name.isupper() and name != "PREFIX"}
    values = [value for name, value in names.items() if name != "MLFLOW_GIT_COMMIT"]
    assert all(value.startswith(tags.PREFIX) for value in values)
    assert len(set(values)) == len(values)


def test_derived_names_and_search_filters():
    assert tags.metric("roc_auc") == "nbprod.metric.roc_auc"
    assert tags.gate_check("size") == "nbprod.gate.size"
    assert tags.equals(tags.TASK, "evaluate") == "tags.`nbprod.task` = 'evaluate'"


def test_no_source_file_or_notebook_spells_a_tag_name_itself():
    files = [*SOURCE.rglob("*.py"), *(REPO / "notebooks").rglob("*.ipynb")]
    spelled = [f"{path.relative_to(REPO)}:{number}: {line.strip()}"
               for path in sorted(files) if path.name != "tags.py"
               for number, line in enumerate(path.read_text().splitlines(), 1) if TAG_LITERAL.search(line)]
    assert spelled == []
