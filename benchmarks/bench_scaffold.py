"""Benchmark ``nbprod new``: from a 10,000-row CSV to a champion.

Writes ``reports/benchmarks/scaffold.json``. A synthetic table (10,000 rows: a date written as text,
two categories, twelve numbers, a 0/1 target) is written to a temporary folder; ``nbprod new`` makes a
project of it and ``nbprod build`` builds it with the settings ``nbprod new`` wrote, each a separate
process. Peak memory is the largest sum of RSS over the process and its children (kernels), sampled
every 0.1 s with psutil (as in ``bench_pipeline.py``); CPU seconds are the processes' own (user + system),
which the machine's load does not inflate as it does the wall time; the load average is recorded.

Target (2 cores): new + build < 60 s.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

from bench_pipeline import timed as timed_wall  # the script's folder is on sys.path

REPO = Path(__file__).resolve().parents[1]
NBPROD = [sys.executable, "-m", "nbprod.cli"]
ROWS = 10_000
TARGET_SECONDS = 60


def children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes of this one, and of theirs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> dict[str, float]:
    """``bench_pipeline.timed`` (wall seconds, peak RSS of the process tree in MB) plus the CPU seconds of
    the process tree (the kernels it waited for included)."""
    cpu = children_cpu()
    figures = timed_wall(command, cwd, env)
    return {**figures, "cpu_seconds": round(children_cpu() - cpu, 2)}


def table(rows: int, seed: int = 0) -> pd.DataFrame:
    """A synthetic table of ``rows`` rows with the shapes real tables come in."""
    features, target = make_classification(n_samples=rows, n_features=12, n_informative=6, weights=[0.7],
                                           random_state=seed)
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(features.round(4), columns=[f"x{i}" for i in range(12)])
    frame.insert(0, "signup_date", pd.Timestamp("2022-01-01")
                 + pd.to_timedelta(np.sort(rng.integers(0, 730, rows)), unit="D"))
    frame["signup_date"] = frame["signup_date"].dt.strftime("%Y-%m-%d")
    frame["region"] = rng.choice(["north", "south", "east", "west"], rows)
    frame["plan"] = rng.choice(["basic", "pro", "team"], rows, p=[0.6, 0.3, 0.1])
    frame["churned"] = target
    return frame


def main() -> None:
    env = {key: value for key, value in os.environ.items() if key != "MLFLOW_TRACKING_URI"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory(prefix="nbprod-bench-scaffold-") as folder:
        work = Path(folder)
        data = work / "customers.csv"
        table(ROWS).to_csv(data, index=False)
        project = work / "customers"
        new = timed([*NBPROD, "new", str(project), "--data", str(data), "--target", "churned"], work, env)
        build = timed([*NBPROD, "build"], project, env)
        promotion = json.loads((project / "reports" / "promotion.json").read_text())
    total = round(new["seconds"] + build["seconds"], 2)
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "rows": ROWS,
        "new": new,
        "build": build,
        "total_seconds": total,
        "total_cpu_seconds": round(new["cpu_seconds"] + build["cpu_seconds"], 2),
        "peak_rss_mb": max(new["peak_rss_mb"], build["peak_rss_mb"]),
        "champion": promotion["decision"] == "promoted",
        "target_seconds": TARGET_SECONDS,
        "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
    }
    out = REPO / "reports" / "benchmarks" / "scaffold.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
