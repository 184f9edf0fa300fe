"""The no-change fast path: any recorded file or setting that moves sends the build to the full check."""

from __future__ import annotations

import os

from nbprod.pipeline import manifest


def test_unchanged_until_a_file_or_a_setting_moves(tmp_path):
    products = tmp_path / "build"
    watched = tmp_path / "a.txt"
    watched.write_text("one")
    settings = {"a": 1, "b": {"c": [1, 2]}}
    manifest.write(products, settings, ["get", "train"], [watched, tmp_path / "absent"])
    assert manifest.unchanged(products, {"b": {"c": [1, 2]}, "a": 1}) == ["get", "train"]
    assert manifest.unchanged(products, {**settings, "a": 2}) is None
    stat = watched.stat()
    os.utime(watched, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert manifest.unchanged(products, settings) is None


def test_a_file_that_appears_or_a_missing_manifest_means_changed(tmp_path):
    products = tmp_path / "build"
    assert manifest.unchanged(products, {}) is None
    manifest.write(products, {}, ["get"], [tmp_path / "later.txt"])
    assert manifest.unchanged(products, {}) == ["get"]
    (tmp_path / "later.txt").write_text("x")
    assert manifest.unchanged(products, {}) is None
    manifest.forget(products)
    assert manifest.read(products) is None


def test_dag_picture_is_rewritten_only_when_the_graph_changes(tmp_path):
    from types import SimpleNamespace

    from nbprod.pipeline import build

    def fake_dag(names, upstream):
        return {name: SimpleNamespace(upstream=upstream.get(name, [])) for name in names}

    dag = fake_dag(["get", "train"], {"train": ["get"]})
    build.save_dag_plot(dag, tmp_path)
    picture = tmp_path / "pipeline.png"
    first = picture.stat().st_mtime_ns
    build.save_dag_plot(dag, tmp_path)
    assert picture.stat().st_mtime_ns == first
    build.save_dag_plot(fake_dag(["get", "train", "score"], {"train": ["get"], "score": ["train"]}), tmp_path)
    assert '"score"' in build.png_description(picture)
