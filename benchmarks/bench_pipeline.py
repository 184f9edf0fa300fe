"""Benchmark the pipeline: full default build, no-change rebuild, and overhead against plain Python.

Writes ``reports/benchmarks/pipeline.json``. Each measurement runs in a fresh copy of
the project in a temporary folder, as a separate process, on the same machine in the
same run. Peak memory is the largest sum of RSS over the measured process and all its
children (kernels, subprocesses), sampled every 0.1 s (:mod:`measure`).

The overhead ratio compares the build of the same tasks the plain run repeats (get to promote) with
that plain run; the full build also writes the dashboard snapshots and runs the monitoring notebook.

Each build also reports its phases (``BuildResult.phases``: tracking set-up, DAG load,
fingerprints, kernel waits, notebook execution, other task work, HTML export, artifact logging,
manifest) through a benchmark-only wrapper around ``nbprod.pipeline.build.build`` (:data:`RUNNER`),
and every measured command its CPU seconds (its own and its waited-for children's: kernels, probes),
a steadier figure than wall time on a shared machine.

Targets (2 cores): full build < 180 s, no-change rebuild < 5 s, overhead ratio < 1.2.
``--sample-frac F`` measures everything on a sample of the rows (quick comparisons).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measure import timed

from nbprod.pipeline.kernels import PRELOAD  # what a build's kernels import (the notebooks' libraries)

REPO = Path(__file__).resolve().parents[1]
NBPROD = [sys.executable, "-m", "nbprod.cli"]


#: ``python -c RUNNER PHASES_FILE ARGS...`` runs ``nbprod ARGS...`` and writes the build's phases
#: (seconds) to PHASES_FILE: the benchmark's hook, nothing in nbprod itself.
RUNNER = """
import json, sys
from nbprod.pipeline import build as module
inner = module.build
def build(*args, **kwargs):
    result = inner(*args, **kwargs)
    if hasattr(result, "phases"):  # an nbprod from before the breakdown: no phases
        open(sys.argv[1], "w").write(json.dumps(result.phases))
    return result
module.build = build
from nbprod import cli
if hasattr(cli, "script"):  # the nbprod script exits as the command does
    cli.script(sys.argv[2:])
sys.exit(cli.main(sys.argv[2:]))
"""


def timed_build(project: Path, env: dict[str, str], options: list[str]) -> dict[str, object]:
    """``nbprod build`` of ``project`` (see :func:`timed`), with the build's phases."""
    phases = project / "phases.json"
    figures: dict[str, object] = timed([sys.executable, "-c", RUNNER, str(phases), "build", "--project",
                                        str(project), *options], project, env)
    if phases.is_file():
        figures["phases"] = json.loads(phases.read_text())
        phases.unlink()
    return figures


#: Tasks whose work the plain-Python run does not repeat (HTML snapshots of the dashboards, the
#: monitoring notebook): the overhead ratio compares the DAG without them to the plain run.
REPORTING_TASKS = ("dashboards", "monitor")


def project_copy(folder: Path, drop_tasks: tuple[str, ...] = ()) -> Path:
    """A fresh copy of the project's pipeline, settings, notebooks and schemas, less ``drop_tasks``."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    for name in ("pipeline.yaml", "env.yaml", "notebooks", "schemas"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, folder / name)
    if drop_tasks:
        spec = yaml.safe_load((folder / "pipeline.yaml").read_text())
        spec["tasks"] = [task for task in spec["tasks"] if task.get("name") not in drop_tasks]
        (folder / "pipeline.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return folder


#: 1-minute load average above which the machine counts as loaded: the cores, plus what the benchmark
#: itself runs at once (a build, a warming kernel, the candidates fitted two at a time).
LOADED_ABOVE = (os.cpu_count() or 1) + 2


def loaded_machine(runs: list[dict]) -> dict[str, object]:
    """Whether other work shared the machine during ``runs`` (then wall seconds are inflated: compare CPU
    seconds and shares), with the largest 1-minute load average seen at a run's start or end."""
    loads = [run[key][0] for run in runs for key in ("load_average_start", "load_average_end") if key in run]
    highest = max(loads, default=None)
    return {"loaded_machine": highest is not None and highest > LOADED_ABOVE,
            "load_average_max": highest, "loaded_above": LOADED_ABOVE}


#: What the measured runs import, between them: each is imported once before any run, so that the first run
#: measured does not alone read them from a cold disk (a machine reclaiming idle page cache, as this one does,
#: made a ``--core-only`` run's build 1.20 against 1.07 and 1.12 right after).
WARM_IMPORTS = (*PRELOAD, "mlflow.store.tracking.sqlalchemy_store", "ploomber.spec", "papermill", "nbclient",
                "ipykernel.kernelapp", "nbconvert", "nbprod.pipeline.build", "nbprod.registry.task",
                "nbprod.model.evaluation")


def warm_page_cache(env: dict[str, str]) -> float:
    """Import :data:`WARM_IMPORTS` in a process of its own; its seconds."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"for name in {WARM_IMPORTS!r}: __import__(name)"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return round(time.perf_counter() - started, 2)


def main() -> None:
    """Measure and write the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample-frac", type=float, default=None, help="build on this share of the rows")
    parser.add_argument("--core-only", action="store_true", help="only the core build and the plain run")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "benchmarks" / "pipeline.json")
    args = parser.parse_args()
    options = [] if args.sample_frac is None else ["--set", f"sample_frac={args.sample_frac}"]
    env = {key: value for key, value in os.environ.items() if key != "MLFLOW_TRACKING_URI"}
    warm_seconds = warm_page_cache(env)
    with tempfile.TemporaryDirectory() as temporary:
        project = project_copy(Path(temporary) / "full")
        full = {} if args.core_only else timed_build(project, env, options)
        nochange = [] if args.core_only else [timed([*NBPROD, "build", "--project", str(project), *options],
                                                    project, env) for _ in range(3)]
        core_project = project_copy(Path(temporary) / "core", REPORTING_TASKS)
        core = timed_build(core_project, env, options)
        plain = timed([sys.executable, str(REPO / "benchmarks" / "pipeline_plain.py"), str(project / "plain"),
                       *([] if args.sample_frac is None else [str(args.sample_frac)])], project, env)
    figures = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        **loaded_machine([run for run in (full, *nochange, core, plain) if run]),
        "page_cache_warmed_seconds": warm_seconds,
        **({} if args.sample_frac is None else {"sample_frac": args.sample_frac}),
        "full_build": full,
        "no_change_rebuild": {"seconds": [run["seconds"] for run in nochange],
                              "median_seconds": sorted(run["seconds"] for run in nochange)[1] if nochange else None},
        "core_build_without_reporting_tasks": {**core, "left_out": list(REPORTING_TASKS)},
        "plain_python": plain,
        "overhead_ratio": round(core["seconds"] / plain["seconds"], 2),
        "overhead_ratio_cpu": round(core["cpu_seconds"] / plain["cpu_seconds"], 2),
        "overhead_ratio_note": "core build (get..promote, the work pipeline_plain.py repeats) / plain Python;"
                               " _cpu: the same with CPU seconds of the process trees",
        "phases_note": "seconds per build phase (nbprod.pipeline.phases); html_export runs beside the next"
                       " task, so phases may sum to more than the wall time",
        "targets": {"full_build_seconds": 180, "no_change_seconds": 5, "overhead_ratio": 1.2},
    }
    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
