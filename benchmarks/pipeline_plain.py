"""The pipeline's computation as one plain Python process: no kernels, no Papermill, no tracking.

The same nbprod calls the notebooks make, in the same order, with the same settings
and the same figures rendered, so that ``bench_pipeline.py`` can measure the
pipeline's overhead as (full build) / (this). Run: ``python pipeline_plain.py OUT_DIR [SAMPLE_FRAC]``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pandas as pd

from nbprod import io, settings
from nbprod.notebook import eda
from nbprod.model import evaluation, metrics, models, training
from nbprod.plots import pipeline as plots
from nbprod.data import raw, schema, splitting
from nbprod.model.features import FeatureBuilder
from nbprod.registry import budget


def render(figure, out: Path, name: str) -> None:
    """Render a figure to PNG, as the notebooks do inline."""
    figure.savefig(out / f"{name}.png", dpi=72)


def main(out: Path, sample_frac: float | None = None) -> None:
    """Run get, validate, eda, prepare, train, evaluate and the gate's budget measurement
    (on ``sample_frac`` of the rows when given, else the settings' share)."""
    config = settings.load(Path(__file__).resolve().parents[1],
                           overrides=() if sample_frac is None else [f"sample_frac={sample_frac}"])
    data, split, train_cfg, evaluate_cfg = config["data"], config["split"], config["train"], config["evaluate"]
    out.mkdir(parents=True, exist_ok=True)
    # get + validate
    frame = raw.sample_rows(raw.load_raw(data["source"], data["time_column"]), config["sample_frac"], config["seed"])
    io.write_parquet(frame, out / "raw.parquet")
    frame = pd.read_parquet(out / "raw.parquet")
    rules = schema.build_schema(schema.read_declared(Path(__file__).resolve().parents[1] / data["schema"]),
                                schema.settings_columns(data["target"], data["task"], data["time_column"],
                                                        data["drop_columns"] + data["categorical"] + data["numeric"]))
    schema.validate_table(frame, rules)
    # eda
    columns = [name for name in frame.columns if name not in data["drop_columns"]]
    summary = eda.column_summary(frame[columns])
    render(plots.bar(summary["missing_rate"][summary["missing_rate"] > 0], "missing"), out, "missing")
    render(plots.line(eda.target_rate_over_time(frame, data["target"], data["time_column"]), "rate"), out, "rate")
    numeric = [name for name in frame[columns].select_dtypes("number").columns if name != data["target"]]
    render(plots.histograms(frame, numeric), out, "histograms")
    for name in ("carrier", "origin", "dest", "plane_type"):
        render(plots.bar(eda.target_rate_by(frame, data["target"], name), name), out, f"by_{name}")
    render(plots.heatmap(eda.numeric_correlations(frame[numeric + [data["target"]]]), "corr"), out, "corr")
    # prepare
    parts = splitting.split_table(frame.drop(columns=data["drop_columns"]), data["time_column"], split,
                                  config["seed"])
    parts, target_info = splitting.prepare_target(parts, data["target"], data["task"], data["missing_target"],
                                                  data["positive_class"])  # as the prepare notebook does
    for name in splitting.SPLITS:
        io.write_parquet(parts[name], out / f"{name}.parquet")
    # train
    X_train, y_train = training.features_and_target(parts["train"], data["target"])
    X_valid, y_valid = training.features_and_target(parts["valid"], data["target"])
    candidates = models.expand_grid(train_cfg["candidates"])
    builder = FeatureBuilder(data["categorical"], data["numeric"], train_cfg["max_categories"])
    fitted = models.fit_candidates(candidates, data["task"], builder, X_train, y_train, config["seed"],
                                   train_cfg["n_jobs"])
    results = training.validation_results(fitted, X_valid, y_valid, data["task"])
    # evaluate
    X_test, y_test = training.features_and_target(parts["test"], data["target"])
    scores = evaluation.holdout_scores(fitted, X_test, data["task"])
    held = evaluation.holdout_results(scores, y_test.to_numpy(), data["task"],
                                      {name: result["threshold"] for name, result in results.items()})
    best = metrics.pick_best(held, metrics.selection_metric(evaluate_cfg["metric"], data["task"]))
    render(plots.roc_pr_curves(y_test.to_numpy(), scores), out, "roc")
    render(plots.calibration(y_test.to_numpy(), scores), out, "calibration")
    render(plots.confusion(y_test.to_numpy(), (scores[best] >= results[best]["threshold"]).astype(int), best),
           out, "confusion")
    importance = evaluation.importance(fitted[best], X_test, y_test, data["task"], evaluate_cfg["permutation_rows"],
                                       evaluate_cfg["permutation_repeats"], config["seed"])
    render(plots.bar(importance.head(15), "importance"), out, "importance")
    # the gate's budget measurement of the best model
    import mlflow

    with tempfile.TemporaryDirectory() as folder:
        mlflow.sklearn.save_model(fitted[best], f"{folder}/model",
                                  serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE)
        budget.measure(Path(folder) / "model", X_test.head(1000), data["task"])


if __name__ == "__main__":
    main(Path(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else None)
