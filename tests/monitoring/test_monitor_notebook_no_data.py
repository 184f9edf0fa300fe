"""The monitoring notebook when prepare held no new data back (random split): it says so and records "no data"."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from project_copy import REPO

pytestmark = pytest.mark.slow


def test_notebook_with_an_empty_new_split_records_no_data(tmp_path, monkeypatch):
    import nbformat
    import papermill

    rng = np.random.default_rng(0)
    train = pd.DataFrame({"temp": rng.normal(40, 10, 500), "origin": rng.choice(["EWR", "JFK"], 500),
                          "late": rng.integers(0, 2, 500)})
    train.to_parquet(tmp_path / "train.parquet")
    train.iloc[:0].to_parquet(tmp_path / "new.parquet")
    (tmp_path / "promotion.json").write_text(json.dumps({"champion_after": None, "candidate": {"version": "1"}}))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.delenv("NBPROD_PARENT_RUN", raising=False)
    history = tmp_path / "monitoring" / "pipeline_drift.json"
    parameters = dict(
        upstream={"prepare": {"train": str(tmp_path / "train.parquet"), "new": str(tmp_path / "new.parquet")},
                  "promote": {"json": str(tmp_path / "promotion.json")}},
        product={"nb": str(tmp_path / "monitor.ipynb"), "history": str(history)}, target="late",
        task="classification", time_column=None, new_start="2013-10-01", window="7D", min_rows=200,
        drift_share=0.5, ignore_columns=[], trigger_k=2, trigger_n=3, performance_metric="auto",
        performance_floor=0.6, performance_drop=0.05, metric="auto", model_name="nbprod-model",
        reference_start=None, reference_end=None, current_start=None, current_end=None)
    papermill.execute_notebook(str(REPO / "notebooks" / "monitor.ipynb"), str(tmp_path / "monitor.ipynb"),
                               parameters=parameters, progress_bar=False, cwd=str(tmp_path))
    record = json.loads(history.read_text())
    assert record["windows"] == [] and record["reference"]["rows"] == 500
    assert record["events"][0]["kind"] == "no_action" and record["events"][0]["reason"].startswith("no data")
    executed = nbformat.read(tmp_path / "monitor.ipynb", as_version=4)
    text = json.dumps([cell.get("outputs", []) for cell in executed.cells])
    assert "No new data" in text


def test_source_notebook_has_no_outputs_and_a_checked_cell():
    import nbformat

    notebook = nbformat.read(REPO / "notebooks" / "monitor.ipynb", as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    assert code[0].metadata.get("tags") == ["parameters"] and 'bind("monitor", globals())' in code[1].source
    assert any("NBVAL_CHECK_OUTPUT" in cell.source for cell in code)
