"""The project catalog is the one source of paths: move products in ``pipeline.yaml`` and every consumer follows.

A copy of the project whose ``pipeline.yaml`` puts prepare's splits in ``{{products}}/splits/`` and evaluate's
outputs in ``{{products}}/eval/`` is built, monitored (``nbprod monitor --data``), scored with the champion
(``nbprod score``) and read by the dashboards; none of them looks in the old places.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from project_copy import QUICK, copy_project

pytestmark = pytest.mark.slow

MOVED = {
    '"{{products}}/data/train.parquet"': '"{{products}}/splits/train.parquet"',
    '"{{products}}/data/test.parquet"': '"{{products}}/splits/test.parquet"',
    '"{{products}}/data/new.parquet"': '"{{products}}/splits/new.parquet"',
    '"{{products}}/evaluation.json"': '"{{products}}/eval/evaluation.json"',
    '"{{products}}/holdout_scores.parquet"': '"{{products}}/eval/holdout_scores.parquet"',
}


def nbprod(project, *args, timeout=900):
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "NBPROD_PARENT_RUN")}
    sets = [item for text in (*QUICK, "sample_frac=0.02") for item in ("--set", text)]
    return subprocess.run([sys.executable, "-m", "nbprod.cli", *args, "--project", str(project), *sets],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=project)


@pytest.fixture(scope="module")
def moved(tmp_path_factory):
    """The built copy with its products moved."""
    project = copy_project(tmp_path_factory.mktemp("moved") / "project")
    spec = (project / "pipeline.yaml").read_text()
    for old, new in MOVED.items():
        assert old in spec, old
        spec = spec.replace(old, new)
    (project / "pipeline.yaml").write_text(spec)
    built = nbprod(project, "build")
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return project


def test_the_build_writes_and_gates_where_the_pipeline_says(moved):
    build = moved / "build"
    for name in ("train", "test", "new"):
        assert (build / "splits" / f"{name}.parquet").is_file() and not (build / "data" / f"{name}.parquet").exists()
    assert (build / "eval" / "holdout_scores.parquet").is_file() and not (build / "evaluation.json").exists()
    promotion = json.loads((moved / "reports" / "promotion.json").read_text())
    assert promotion["decision"] == "promoted", promotion["summary"]


def test_monitor_takes_its_reference_from_the_moved_train_split(moved):
    done = nbprod(moved, "monitor", "--data", "build/splits/new.parquet", "--no-retrain", "--no-snapshot")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    history = json.loads((moved / "reports" / "monitoring" / "drift_history.json").read_text())
    assert history["reference"]["path"] == str(moved / "build" / "splits" / "train.parquet")
    assert history["windows"] and any((w.get("performance") or {}).get("value") is not None
                                      for w in history["windows"])


def test_the_champion_scores_the_moved_new_split(moved, tmp_path):
    scored = tmp_path / "scored.parquet"
    done = nbprod(moved, "score", "build/splits/new.parquet", str(scored))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert len(pd.read_parquet(scored)) == len(pd.read_parquet(moved / "build" / "splits" / "new.parquet"))


def test_the_dashboards_read_the_moved_products(moved):
    from nbprod.dashboards import context, drift_data, model_data

    ctx = context.load_context({"NBPROD_PROJECT": str(moved)})
    report = model_data.load_report(ctx)
    assert report.has_holdout and not report.saved_scores.empty and report.champion is not None
    comparison = model_data.compare(report, report.builds[0])
    assert comparison.champion_label in comparison.results and not comparison.notes
    assert report.baseline  # from the moved evaluation.json
    _, where = drift_data.reference_rows(ctx, drift_data.read_drift(ctx), ["temp"])
    assert where == "build/splits/train.parquet"
    snapshot = (moved / "reports" / "dashboards" / "model_report.html").read_text()
    assert "test split was not found" not in snapshot


def test_a_second_build_answers_from_the_catalog_and_manifest_without_running_anything(moved):
    again = nbprod(moved, "build")
    assert again.returncode == 0 and "Nothing changed" in again.stdout, again.stdout[-2000:] + again.stderr[-2000:]
