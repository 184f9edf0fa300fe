"""Evidently's data-drift report on Parquet files: the helper run by ``bench_drift.py``.

Runs inside its own virtual environment (``evidently==0.7.*`` with ``pandas<3``:
Evidently does not import with pandas 3), so it imports nothing from nbprod.

    python benchmarks/evidently_drift.py --reference ref.parquet --current cur.parquet \
        --numerical a,b --categorical c --out result.json

Times Evidently's own work only (``Dataset.from_pandas`` of both frames and
``Report.run`` of the default ``DataDriftPreset`` with its column tests), not
the Parquet reads, and writes the per-column methods, scores, thresholds and
drift decisions (from Evidently's ``Value Drift`` tests) as JSON.
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True)
    parser.add_argument("--current", required=True)
    parser.add_argument("--numerical", default="")
    parser.add_argument("--categorical", default="")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    import pandas as pd
    import evidently
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    reference = pd.read_parquet(args.reference)
    current = pd.read_parquet(args.current)
    numerical = [c for c in args.numerical.split(",") if c]
    categorical = [c for c in args.categorical.split(",") if c]
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)

    t0 = time.perf_counter()
    ref_ds = Dataset.from_pandas(reference, data_definition=definition)
    cur_ds = Dataset.from_pandas(current, data_definition=definition)
    t1 = time.perf_counter()
    snapshot = Report([DataDriftPreset()], include_tests=True).run(current_data=cur_ds, reference_data=ref_ds)
    t2 = time.perf_counter()

    result = snapshot.dict()
    columns: dict[str, dict] = {}
    by_id: dict[str, str] = {}
    dataset: dict = {}
    for metric in result["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":ValueDrift"):
            columns[config["column"]] = {
                "method": config.get("method"), "threshold": config.get("threshold"), "score": metric["value"],
            }
            by_id[metric["id"]] = config["column"]
        elif config["type"].endswith(":DriftedColumnsCount"):
            dataset = {"count": metric["value"]["count"], "share": metric["value"]["share"],
                       "drift_share": config.get("drift_share")}
    for test in result["tests"]:
        fingerprint = (test.get("bound_test") or {}).get("metric_fingerprint")
        if fingerprint in by_id:
            columns[by_id[fingerprint]]["drifted"] = test["status"] == "FAIL"
        elif test.get("metric_config", {}).get("params", {}).get("type", "").endswith(":DriftedColumnsCount"):
            dataset["drifted"] = test["status"] == "FAIL"

    with open(args.out, "w") as fh:
        json.dump({
            "evidently_version": evidently.__version__, "pandas_version": pd.__version__,
            "rows_reference": len(reference), "rows_current": len(current),
            "seconds_dataset": t1 - t0, "seconds_report": t2 - t1, "seconds": t2 - t0,
            "columns": columns, "dataset": dataset,
        }, fh, indent=1, default=str)


if __name__ == "__main__":
    main()
