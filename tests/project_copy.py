"""Helpers shared by the suite: a copy of the project in a temporary folder, quick settings."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Iterable


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


def copy_project(target: Path, git: bool = True) -> Path:
    """Copy the project's pipeline, settings, notebooks and schemas into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        else:
            shutil.copy2(source, target / name)
    if git:
        for command in (["init", "-q"], ["add", "-A"],
                        ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "copy"]):
            subprocess.run(["git", *command], cwd=target, check=True, capture_output=True)
    return target


def load_settings(project: Path, overrides: Iterable[str] = ()) -> dict:
    """The project's settings with the quick overrides and ``overrides`` applied."""
    from nbprod import settings

    return settings.load(project, overrides=[*QUICK, *overrides])
