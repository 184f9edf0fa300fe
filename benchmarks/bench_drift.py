"""Drift-check benchmark: nbprod's DriftDetector against Evidently's data-drift report, same data, same run.

    python benchmarks/bench_drift.py [--rows 1000000] [--skip-evidently]

Data: a synthetic reference and window of ``--rows`` rows x 20 columns (12
numeric, 8 categorical; 9 columns shifted in the window: means, scales, a
missing-rate change, new categories, re-weighted categories; and 4 columns
shifted to just below or just above the 0.1 thresholds -- Wasserstein 0.095 and
0.105 reference standard deviations, Jensen-Shannon 0.095 and 0.105 -- where an
approximate statistic would flip a decision).

nbprod: ``DriftDetector().fit(reference)`` once (timed apart), then
``compare(window)`` timed (wall clock; cold first call and median of
``--repeats``). Peak memory of the compare step is measured in fresh child
processes that hold only the fitted detector (unpickled) and the window (read
from Parquet), on their first compare call -- so no memory the allocators kept
from earlier calls can hide the peak -- two ways:

* ``tracemalloc`` peak -- every allocation made through Python's and numpy's
  allocators (the arrays of the computation), but not memory that pyarrow
  allocates in its own pool (used by pandas' string ``value_counts``);
* RSS: the peak resident size during the call minus the RSS just before, from the
  kernel's high-water mark (``VmHWM``, reset through ``/proc/self/clear_refs``) on
  Linux, else sampled by a thread. It catches pyarrow's allocations too.

The target is compared with the larger of the two, against the window's own
``memory_usage(deep=True)``.

A second, small run (``--small-rows``, 800 by default) compares the decisions
where the issue's rule switches to tests: reference of 1,000 rows or fewer, KS
(numeric) and chi-square (categorical) at p < 0.05. Evidently's chi-square there is
a goodness-of-fit test of the window against the reference's proportions (and a
z-test for two categories); nbprod's default is the two-sample test of
homogeneity, which accounts for the reference's own sampling error (Evidently's
form is ``method="chisquare_gof"``). Both are compared.

Evidently (``evidently==0.7.*``, which needs ``pandas<3``) runs in its own
virtual environment, created on first use under ``$NBPROD_EVIDENTLY_VENV`` or
``~/.cache/nbprod-bench/evidently-0.7`` (outside the repository), on the same
data written to Parquet; ``benchmarks/evidently_drift.py`` times only
Evidently's computation (``Dataset.from_pandas`` + ``Report.run`` of the default
``DataDriftPreset``) and returns its per-column decisions. Should Evidently not
finish within ``--evidently-timeout`` seconds, both tools are measured side by
side on ``--fallback-rows`` rows instead, and the 1M nbprod figures are kept.

Writes ``reports/benchmarks/drift.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from nbprod.drift import DriftDetector  # noqa: E402

DEFAULT_VENV = Path(os.environ.get("NBPROD_EVIDENTLY_VENV", Path.home() / ".cache/nbprod-bench/evidently-0.7"))
EVIDENTLY_REQUIREMENTS = ["evidently==0.7.*", "pandas<3", "pyarrow"]


def make_frame(n: int, seed: int, shifted: bool) -> pd.DataFrame:
    """Synthetic data; with ``shifted`` the columns marked (*) below change."""
    rng = np.random.default_rng(seed)
    s = 1.0 if shifted else 0.0
    d: dict[str, object] = {
        "age": rng.normal(40 + 4 * s, 10, n),                       # (*) mean +0.4 sd
        "income": rng.lognormal(10 + 0.3 * s, 0.8, n),               # (*) log-mean shift
        "balance": rng.normal(0, 1 + 0.8 * s, n),                    # (*) scale x1.8
        "tenure_days": rng.integers(0, 3650, n).astype(np.int64),
        "n_orders": rng.poisson(20 + 6 * s, n).astype(np.int64),     # (*) rate 20 -> 26
        "score": rng.uniform(0, 1, n) + 0.105 * np.sqrt(1 / 12) * s,  # (~) W/std 0.105: just above 0.1
        "latency_ms": rng.gamma(2.0, 50.0, n),
        "temperature": rng.normal(15 + 0.095 * 8 * s, 8, n),         # (~) W/std 0.095: just below 0.1
        "discount": rng.choice(np.array([0.0, 0.05, 0.1, 0.2]), n, p=[0.7, 0.1, 0.1, 0.1]),
        "ratio": rng.beta(2, 5, n),
        "clicks": rng.negative_binomial(5, 0.3, n).astype(np.int64),
        "sensor": rng.normal(100, 5, n),
    }
    sensor = np.asarray(d["sensor"])
    sensor[rng.random(n) < (0.02 + 0.2 * s)] = np.nan                 # (*) missing 2% -> 22%
    countries = np.array([f"c{i:02d}" for i in range(30)])
    w = 1.0 / np.arange(1, 31)
    w_shift = w[::-1] if shifted else w                             # (*) re-weighted
    products = np.array([f"p{i:04d}" for i in range(1000)])
    pw = 1.0 / np.arange(1, 1001) ** 1.1
    channel_cats = np.array(["web", "app", "store", "phone"])
    channel_p = [0.25, 0.25, 0.25, 0.25] if shifted else [0.5, 0.3, 0.15, 0.05]  # (*)
    plan = rng.choice(np.array(["free", "basic", "pro"]), n, p=[0.6, 0.3, 0.1]).astype(object)
    if shifted:                                                     # (*) 20% new categories
        new = rng.random(n) < 0.2
        plan[new] = rng.choice(np.array(["trial", "enterprise"]), int(new.sum()))
    d.update({
        "country": rng.choice(countries, n, p=w_shift / w_shift.sum()),
        "product": rng.choice(products, n, p=pw / pw.sum()),
        "channel": rng.choice(channel_cats, n, p=channel_p),
        "plan": plan,
        # (~) Jensen-Shannon 0.105 (just above 0.1) and 0.095 (just below)
        "device": rng.choice(np.array(["ios", "android", "desktop"]), n,
                             p=[0.42383702, 0.27616298, 0.3] if shifted else [0.3, 0.4, 0.3]),
        "segment": rng.choice(np.array(list("ABCDEFGH")), n,
                              p=np.array([1 + 8 * 0.06439807 * s, 1 - 8 * 0.06439807 * s, 1, 1, 1, 1, 1, 1]) / 8),
        "is_member": rng.random(n) < 0.35,
        "region": rng.choice(np.array(["north", "south", "east", "west"]), n),
    })
    frame = pd.DataFrame(d)
    for col in ("country", "product", "channel", "plan", "device", "segment", "region"):
        frame[col] = frame[col].astype("str")
    return frame


def machine_info() -> dict:
    import psutil
    import scipy

    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "python": platform.python_version(), "platform": platform.platform(), "cpu": cpu,
        "cpu_count": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "numpy": np.__version__, "pandas": pd.__version__, "scipy": scipy.__version__,
    }


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":"))


def rss_peak_delta(fn) -> tuple[object, int, str]:
    """Run ``fn``; return its result, its peak RSS above the RSS before, and how that was measured.

    On Linux the kernel's own high-water mark is used: writing ``5`` to
    ``/proc/self/clear_refs`` resets ``VmHWM`` to the current RSS, so ``VmHWM``
    after the call is the exact peak. Elsewhere RSS is sampled every 2 ms by a
    thread (which can miss short peaks while a C call holds the GIL).
    """
    try:
        base = _status_kb("VmRSS")
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        out = fn()
        return out, (_status_kb("VmHWM") - base) * 1024, "linux VmHWM after clear_refs"
    except (OSError, StopIteration):
        pass
    import psutil

    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        out = fn()
    finally:
        done.set()
        thread.join()
    peak[0] = max(peak[0], proc.memory_info().rss)
    return out, peak[0] - base, "psutil RSS sampled every 2 ms"


def child_memory(detector_path: Path, window_path: Path, method: str) -> dict:
    """Peak memory of the first ``compare`` in a fresh process holding only the detector and the window."""
    out = subprocess.run([sys.executable, __file__, "--child-memory", str(detector_path), str(window_path), method],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _child_memory_main(detector_path: str, window_path: str, method: str) -> None:
    import pickle

    with open(detector_path, "rb") as fh:
        detector = pickle.load(fh)
    window = pd.read_parquet(window_path)
    if method == "tracemalloc":
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        detector.compare(window)
        print(json.dumps({"bytes": tracemalloc.get_traced_memory()[1] - before, "method": "tracemalloc"}))
        return
    _, delta, how = rss_peak_delta(lambda: detector.compare(window))
    print(json.dumps({"bytes": delta, "method": how}))


def bench_nbprod(reference: pd.DataFrame, window: pd.DataFrame, repeats: int) -> tuple[dict, object]:
    import pickle

    t0 = time.perf_counter()
    detector = DriftDetector().fit(reference)
    fit_s = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = detector.compare(window)
        times.append(time.perf_counter() - t0)
    with tempfile.TemporaryDirectory(prefix="nbprod-bench-mem-") as tmp:
        detector_path, window_path = Path(tmp, "detector.pkl"), Path(tmp, "window.parquet")
        detector_path.write_bytes(pickle.dumps(detector))
        window.to_parquet(window_path, index=False)
        rss = child_memory(detector_path, window_path, "rss")
        traced = child_memory(detector_path, window_path, "tracemalloc")
    window_bytes = int(window.memory_usage(deep=True).sum())
    peak = max(traced["bytes"], rss["bytes"])
    return {
        "fit_seconds": fit_s,
        "compare_seconds_first": times[0],
        "compare_seconds_median": statistics.median(times),
        "compare_seconds_all": times,
        "peak_memory_tracemalloc_bytes": int(traced["bytes"]),
        "peak_memory_rss_delta_bytes": int(rss["bytes"]),
        "peak_memory_rss_method": rss["method"] + ", first compare in a fresh process",
        "peak_memory_bytes": int(peak),
        "window_memory_bytes": window_bytes,
        "peak_memory_over_window": peak / window_bytes,
        "dataset_drifted": result.drifted, "n_drifted": result.n_drifted, "share": result.share,
        "numeric_columns_computed_exactly": [c.column for c in result.columns if c.kind == "numeric" and c.exact],
    }, result


def ensure_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import evidently, pandas; assert pandas.__version__ < '3'"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"creating the Evidently environment in {venv} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *EVIDENTLY_REQUIREMENTS], check=True)
    return python


def run_evidently(python: Path, reference: pd.DataFrame, window: pd.DataFrame, kinds: dict, timeout: float) -> dict | None:
    with tempfile.TemporaryDirectory(prefix="nbprod-bench-") as tmp:
        ref_path, cur_path, out = Path(tmp, "ref.parquet"), Path(tmp, "cur.parquet"), Path(tmp, "out.json")
        reference.to_parquet(ref_path, index=False)
        window.to_parquet(cur_path, index=False)
        cmd = [str(python), str(ROOT / "benchmarks" / "evidently_drift.py"),
               "--reference", str(ref_path), "--current", str(cur_path), "--out", str(out),
               "--numerical", ",".join(c for c, k in kinds.items() if k == "numeric"),
               "--categorical", ",".join(c for c, k in kinds.items() if k == "categorical")]
        try:
            subprocess.run(cmd, check=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return json.loads(out.read_text())


def agreement(result, evidently: dict) -> dict:
    rows, disagreements = [], []
    for col in result.columns:
        ev = evidently["columns"].get(col.column)
        row = {"column": col.column, "kind": col.kind,
               "nbprod": {"method": col.method, "statistic": col.statistic, "p_value": col.p_value,
                          "threshold": col.threshold, "drifted": col.drifted},
               "evidently": ev}
        rows.append(row)
        if ev is None or ev.get("drifted") is None or bool(col.drifted) != bool(ev["drifted"]):
            disagreements.append(row)  # a column Evidently did not decide on is a disagreement too
    return {"columns_compared": len(rows), "agree": len(rows) - len(disagreements),
            "disagreements": disagreements, "dataset_nbprod": result.drifted,
            "dataset_evidently": evidently.get("dataset", {}).get("drifted"), "per_column": rows}


def side_by_side(rows: int, args, python: Path | None) -> dict:
    reference = make_frame(rows, seed=1, shifted=False)
    window = make_frame(rows, seed=2, shifted=True)
    nb, result = bench_nbprod(reference, window, args.repeats)
    out = {"rows": rows, "cols": reference.shape[1], "nbprod": nb}
    if python is None:
        return out
    kinds = DriftDetector().fit(reference.head(1000)).kinds_
    t0 = time.perf_counter()
    ev = run_evidently(python, reference, window, kinds, args.evidently_timeout)
    out["evidently_wall_seconds_incl_io"] = time.perf_counter() - t0
    if ev is None:
        out["evidently"] = {"timed_out_after_seconds": args.evidently_timeout}
        return out
    out["evidently"] = {k: v for k, v in ev.items() if k != "columns"}
    out["speed_ratio_compare"] = ev["seconds"] / nb["compare_seconds_median"]
    out["speed_ratio_fit_plus_compare"] = ev["seconds"] / (nb["fit_seconds"] + nb["compare_seconds_median"])
    out["decisions"] = agreement(result, ev)
    return out


def small_reference_run(rows: int, python: Path, timeout: float) -> dict:
    """Reference and window of ``rows`` rows (<= 1,000: the test-based rule): both tools' decisions."""
    reference = make_frame(rows, seed=3, shifted=False)
    window = make_frame(rows, seed=4, shifted=True)
    default = DriftDetector().fit(reference)
    kinds = default.kinds_
    gof = DriftDetector(method={c: "chisquare_gof" for c, k in kinds.items() if k == "categorical"}).fit(reference)
    ev = run_evidently(python, reference, window, kinds, timeout)
    out = {"rows": rows, "methods_nbprod": {c.column: c.method for c in default.compare(window).columns}}
    if ev is None:
        return {**out, "evidently": {"timed_out_after_seconds": timeout}}
    out["evidently"] = {k: v for k, v in ev.items() if k != "columns"}
    out["decisions_default"] = agreement(default.compare(window), ev)
    out["decisions_chisquare_gof"] = agreement(gof.compare(window), ev)
    return out


def _clean(value):
    """JSON-safe copy: non-finite floats become None, numpy scalars Python ones."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--evidently-timeout", type=float, default=900.0)
    parser.add_argument("--fallback-rows", type=int, default=200_000)
    parser.add_argument("--small-rows", type=int, default=800, help="rows of the small-reference comparison")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "benchmarks" / "drift.json")
    args = parser.parse_args()

    python = None if args.skip_evidently else ensure_venv(args.venv)
    main_run = side_by_side(args.rows, args, python)
    report = {"benchmark": "drift", "machine": machine_info(), "rows": args.rows, "cols": main_run["cols"],
              "targets": {"nbprod_compare_seconds": 2.0, "peak_memory_over_window": 2.0, "speed_ratio": 20.0},
              "memory_note": "peak_memory_bytes = max(tracemalloc peak, peak-RSS delta) of one compare call; see peak_memory_rss_method",
              "speed_ratio_note": "Evidently's from_pandas+Report.run seconds over nbprod's median compare seconds "
                                  "(nbprod's one-off fit excluded; speed_ratio_fit_plus_compare includes it)",
              "main": main_run}
    if python is not None and "timed_out_after_seconds" in main_run.get("evidently", {}):
        report["fallback"] = side_by_side(args.fallback_rows, args, python)
    if python is not None:
        report["small_reference"] = small_reference_run(args.small_rows, python, args.evidently_timeout)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(_clean(report), indent=1, default=str) + "\n")
    nb = main_run["nbprod"]
    print(f"nbprod: {args.rows:,} rows x {main_run['cols']} cols, fit {nb['fit_seconds']:.2f}s, "
          f"compare {nb['compare_seconds_median']:.3f}s (first {nb['compare_seconds_first']:.3f}s), "
          f"peak {nb['peak_memory_bytes'] / 2**20:.0f} MiB = {nb['peak_memory_over_window']:.2f}x window "
          f"({nb['window_memory_bytes'] / 2**20:.0f} MiB)")
    for name, run in (("main", main_run), ("fallback", report.get("fallback"))):
        if run and "decisions" in run:
            d = run["decisions"]
            print(f"{name}: evidently {run['evidently']['seconds']:.1f}s at {run['rows']:,} rows, "
                  f"ratio {run['speed_ratio_compare']:.0f}x, decisions agree {d['agree']}/{d['columns_compared']}")
    small = report.get("small_reference") or {}
    for name in ("decisions_default", "decisions_chisquare_gof"):
        if name in small:
            d = small[name]
            print(f"small reference ({small['rows']} rows), {name}: agree {d['agree']}/{d['columns_compared']}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child-memory":
        _child_memory_main(*sys.argv[2:])
    else:
        main()
