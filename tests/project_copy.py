"""Helpers shared by the suite: a copy of the project in a temporary folder, quick settings."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Iterable

import yaml


REPO = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("pipeline.yaml", "env.yaml", "notebooks", "schemas")

#: A 3 % sample of the default data: every task runs, in well under a minute.
SAMPLE = ("sample_frac=0.03",)

#: Settings that make a build small and quick; the pipeline itself is unchanged.
QUICK = (
    "train.candidates=[{name: linear, kind: linear, params: {C: [1.0]}},"
    " {name: hgb, kind: hist_gradient_boosting, params: {max_iter: [40]}}]",
    "train.n_jobs=1",
    "evaluate.permutation_rows=400",
    "evaluate.permutation_repeats=1",
)


#: Tasks at the end of the DAG that tests of the build mechanics can leave out (they have tests of their own).
REPORTING_TASKS = ("dashboards", "monitor")


def copy_project(target: Path, git: bool = True, drop_tasks: Iterable[str] = ()) -> Path:
    """Copy the project's pipeline, settings, notebooks and schemas into ``target``.

    ``drop_tasks`` are left out of the copied ``pipeline.yaml`` (only tasks nothing else depends on).
    """
    target.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        else:
            shutil.copy2(source, target / name)
    if drop_tasks:
        spec = yaml.safe_load((target / "pipeline.yaml").read_text())
        spec["tasks"] = [task for task in spec["tasks"] if task.get("name") not in set(drop_tasks)]
        (target / "pipeline.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    if git:
        for command in (["init", "-q"], ["add", "-A"],
                        ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "copy"]):
            subprocess.run(["git", *command], cwd=target, check=True, capture_output=True)
    return target


def load_settings(project: Path, overrides: Iterable[str] = ()) -> dict:
    """The project's settings with the quick overrides and ``overrides`` applied."""
    from nbprod import settings

    return settings.load(project, overrides=[*QUICK, *overrides])
