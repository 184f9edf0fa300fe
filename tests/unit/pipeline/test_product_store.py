"""nbprod.pipeline.product_store: where a task's files go in the products' bucket (the transfers themselves are
tested against a real S3 server in tests/pipeline/test_dask_s3_products.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbprod.pipeline import product_store


@pytest.mark.parametrize("url, expected", [("s3://team/flights/", ("team", "flights")),
                                           ("s3://team", ("team", "")), ("s3://team/a/b", ("team", "a/b"))])
def test_parse_splits_bucket_and_prefix(url, expected):
    assert product_store.parse(url) == expected


@pytest.mark.parametrize("url", ["/shared/products", "s3:///flights", "gs://team/flights"])
def test_parse_refuses_what_is_not_an_s3_address(url):
    with pytest.raises(ValueError, match="not an s3://BUCKET/PREFIX address"):
        product_store.parse(url)


def test_a_files_key_is_the_prefix_its_folders_name_and_its_place_in_it(tmp_path):
    folders = product_store.roots({"products": "build", "reports": str(tmp_path / "out")}, tmp_path)
    assert folders == {"products": tmp_path / "build", "reports": tmp_path / "out"}
    assert product_store.key(tmp_path / "build" / "data" / "train.parquet", folders, "team-a") == \
        "team-a/products/data/train.parquet"
    assert product_store.key(tmp_path / "out" / "train.ipynb", folders, "") == "reports/train.ipynb"
    with pytest.raises(product_store.StoreError, match="in none of the folders"):
        product_store.key(tmp_path / "elsewhere.csv", folders, "team-a")


def test_task_files_are_each_product_then_its_ploomber_metadata():
    files = product_store.task_files({"nb": "/r/train.ipynb", "candidates": "/b/models/candidates.json"})
    assert files == [Path("/r/train.ipynb"), Path("/r/.train.ipynb.metadata"),
                     Path("/b/models/candidates.json"), Path("/b/models/.candidates.json.metadata")]
    assert product_store.task_files("/b/data/raw.parquet") == [Path("/b/data/raw.parquet"),
                                                                Path("/b/data/.raw.parquet.metadata")]


def test_worker_settings_move_both_folders_and_keep_the_rest(tmp_path):
    settings = {"products": "build", "reports": "reports", "seed": 3, "engine": {"kind": "dask"}}
    moved = product_store.worker_settings(settings, tmp_path)
    assert moved == {**settings, "products": str(tmp_path / "products"), "reports": str(tmp_path / "reports")}
    assert settings["products"] == "build"  # unchanged


def test_a_missing_object_is_told_apart_from_other_errors():
    class Answer(Exception):
        def __init__(self, code: str) -> None:
            self.response = {"Error": {"Code": code}}

    assert product_store.missing(Answer("404")) and product_store.missing(Answer("NoSuchKey"))
    assert not product_store.missing(Answer("AccessDenied")) and not product_store.missing(OSError("refused"))
