"""The drift report's predicted class distribution (a multiclass champion's windows)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nbprod.dashboards import drift_data
from nbprod.monitoring.check import prediction_distribution_drift
from nbprod.plots import dashboards as figures

REFERENCE = np.array(["low"] * 300 + ["mid"] * 500 + ["high"] * 200)


def moved_window(seed: int = 0) -> dict:
    """A window whose predictions lean to "high" (the monitor's ``prediction_drift`` entry)."""
    rng = np.random.default_rng(seed)
    return {"prediction_drift": prediction_distribution_drift(REFERENCE, rng.choice(["low", "mid", "high"], 400,
                                                                                    p=[0.2, 0.3, 0.5]))}


def test_prediction_shares_table_summary_and_figure():
    window = moved_window()
    shares = drift_data.prediction_shares(window)
    assert shares.index.tolist() == ["mid", "high", "low"] and shares.index.name == "predicted class"
    assert shares["reference"].to_dict() == {"mid": 0.5, "high": 0.2, "low": 0.3}
    assert shares["window"].sum() == pytest.approx(1.0) and shares.loc["high", "window"] > 0.4
    text = drift_data.prediction_summary(window)
    assert text.startswith("The share of each predicted class moved") and "threshold 0.10" in text
    figure = figures.prediction_shares(shares, "week 3")
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == ["mid", "high", "low"]
    assert drift_data.prediction_shares({"drift": {}}) is None  # a binary or regression model's window


@pytest.mark.slow
def test_drift_report_shows_the_predicted_classes(project, synthetic_history):
    from nbprod.dashboards.context import dashboards_folder
    from nbprod.dashboards.snapshot import dashboard_env, errors, execute, to_html

    path = project / "reports" / "monitoring" / "drift_history.json"
    history = json.loads(path.read_text())
    for index, window in enumerate(history["windows"]):
        window.update(moved_window(index))
    path.write_text(json.dumps(history))
    env = dashboard_env(project, overrides=("data.time_column=when", "data.target=y"), static=True)
    env.pop("MLFLOW_TRACKING_URI", None)
    notebook = execute(dashboards_folder(project) / "drift_report.ipynb", env)
    assert errors(notebook) == []
    html = to_html(notebook, "Drift report")
    assert "What the model predicted, against the training data" in html and "could not be shown" not in html
    assert "The share of each predicted class moved" in html
