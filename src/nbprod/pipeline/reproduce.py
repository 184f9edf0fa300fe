"""Rebuild a recorded build and compare it with the record: the audit trail, checked.

A build's MLflow parent run holds what it takes: the git commit (``nbprod.git_commit``), the settings
(its params: the flattened settings) and, on its ``get`` run, the raw data's digest. :func:`reproduce`
checks the commit out into a temporary git worktree, verifies the data's digest, rebuilds there with the
recorded settings (own products and own MLflow store in a temporary folder: the project's store is only
read), then compares every metric of the build's child runs and the best model's predictions on the holdout
(a recommender project's: its top-k for every user of the test period).
Both best models are loaded from copies checked against the digest their runs recorded
(:mod:`nbprod.registry.digest`): a recorded model whose files changed is refused before anything is rebuilt.

Not compared: figures measured on the machine (the gate's size, memory and latency budget) and the gate's
comparison with the champion of the time (the fresh store has none); they are listed in the result.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from nbprod import settings as settings_module
from nbprod.tracking import tags

#: Metrics measured on the machine (any run), and the gate's metrics relative to the registry's state at the time
#: (its ``promote`` run): listed, not compared.
MEASURED = ("budget.",)
REGISTRY_RELATIVE = ("gate.", "champion.", "baseline.")
#: The settings a reproduction replaces: where it writes (a temporary folder) and what it tells.
REPLACED = ("products", "reports", "tracking.uri", "alerts.webhooks", "engine")


class ReproduceError(RuntimeError):
    """The run cannot be reproduced (not a build, no commit, the data changed, the rebuild failed)."""


@dataclass
class Result:
    """What the reproduction found."""

    run_id: str
    commit: str
    digest: str
    reproduced_run_id: str | None = None
    differences: list[str] = field(default_factory=list)
    compared: int = 0
    skipped: list[str] = field(default_factory=list)

    @property
    def reproduced(self) -> bool:
        return not self.differences


# -- the record (pure) -----------------------------------------------------------------------------

def parse_param(text: str, expected: Any) -> Any:
    """A recorded param back to its setting's value (``str(value)`` of a Python value, typed by the schema)."""
    allowed = expected if isinstance(expected, tuple) else (expected,)
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    if isinstance(value, bool) and bool not in allowed:
        return text
    return value if isinstance(value, allowed) else text


def recorded_settings(params: Mapping[str, str]) -> dict[str, Any]:
    """The settings a build ran with, from its parent run's params (:func:`nbprod.tracking.flatten`), read with
    the schema of the project's ``kind`` (tabular or recommender)."""
    result: dict[str, Any] = {}
    schema = settings_module.schema_for({"kind": params["kind"]} if "kind" in params else {})
    for key, text in params.items():
        path = key.split(".")
        try:
            expected = settings_module.expected_type(path, schema)
        except settings_module.SettingsError:
            continue  # a setting this version of nbprod no longer knows
        node = result
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = parse_param(text, expected)
    return result


def build_settings(params: Mapping[str, str]) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    """The settings to rebuild with: :func:`recorded_settings`, with the operational settings the build's nbprod
    did not have yet taken from this nbprod's defaults (:func:`nbprod.settings.with_defaults`), and those."""
    return settings_module.with_defaults(recorded_settings(params))


def not_compared(key: str, name: str) -> bool:
    """Whether metric ``name`` of run ``key`` is measured on the machine or relative to the registry's state."""
    return name.startswith(MEASURED) or key == "promote" and name.startswith(REGISTRY_RELATIVE)


def run_key(run_tags: Mapping[str, str], run_name: str) -> str:
    """A child run's name in a comparison: its task, and its candidate for a candidate's run."""
    task, candidate = run_tags.get(tags.TASK), run_tags.get(tags.CANDIDATE)
    return "/".join(part for part in (task or run_name, candidate) if part)


def compare_metrics(recorded: Mapping[str, Mapping[str, float]], reproduced: Mapping[str, Mapping[str, float]]
                    ) -> tuple[list[str], int, list[str]]:
    """The differences between two builds' metrics by run key, the number compared, the metrics not compared."""
    differences, skipped, compared = [], [], 0
    for key in sorted(set(recorded) | set(reproduced)):
        if key not in reproduced or key not in recorded:
            differences.append(f"run {key}: only in the {'recorded' if key in recorded else 'reproduced'} build")
            continue
        mine, theirs = recorded[key], reproduced[key]
        for name in sorted(set(mine) | set(theirs)):
            if not_compared(key, name):
                skipped.append(f"{key}: {name}")
            elif mine.get(name) != theirs.get(name):
                differences.append(f"{key}: {name} recorded {mine.get(name)!r}, reproduced {theirs.get(name)!r}")
            else:
                compared += 1
    return differences, compared, skipped


# -- the steps (I/O) -------------------------------------------------------------------------------

def build_record(client: Any, run_id: str) -> tuple[Any, str, str]:
    """The build's parent run, its commit and its raw data's digest (a :class:`ReproduceError` when missing)."""
    from nbprod.tracking import build_data_digest

    try:
        run = client.get_run(run_id)
    except Exception:  # noqa: BLE001 - MLflow's message is long; ours names the run
        raise ReproduceError(f"no run {run_id} in the project's MLflow store") from None
    if run.data.tags.get(tags.BUILD) != "true":
        parent = run.data.tags.get(tags.PARENT)
        hint = f" (its build is {parent})" if parent else ""
        raise ReproduceError(f"run {run_id} is not a build's parent run{hint}")
    commit = run.data.tags.get(tags.GIT_COMMIT)
    if not commit:
        raise ReproduceError(f"build {run_id} recorded no git commit ({tags.GIT_COMMIT}): the project was not in git")
    digest = build_data_digest(client, run_id)
    if not digest:
        raise ReproduceError(f"build {run_id} recorded no data digest (no get run with a 'raw' dataset input)")
    return run, commit, digest


def data_source(source: str, checkout: Path, project: Path) -> str:
    """``data.source`` for the rebuild: the embedded default, an absolute path, or a relative one found in the
    checkout (data kept in git) or else in the project (data kept beside it)."""
    from nbprod.data.sources import EMBEDDED
    from nbprod.recommender.data import MOVIELENS

    if source in (EMBEDDED, MOVIELENS) or Path(source).is_absolute():
        return source
    return str(checkout / source) if (checkout / source).exists() else str((project / source).resolve())


def data_digest(settings: Mapping[str, Any], source: str) -> str:
    """The digest the ``get`` task logs for these settings, reading ``source`` (:func:`nbprod.tracking.frame_digest`
    of the rows it writes: a tabular project's sampled rows, a recommender's sampled interactions)."""
    from nbprod.tracking import frame_digest

    data, sample_frac, seed = settings["data"], float(settings["sample_frac"]), int(settings["seed"])
    if settings.get("kind") == "recommender":
        from nbprod.recommender.tasks import interactions

        return frame_digest(interactions(source, data["user"], data["item"], data["time"], data["weight"],
                                         data["user_attributes"], data["item_attributes"], sample_frac, seed))
    from nbprod.data import raw

    return frame_digest(raw.sample_rows(raw.load_raw(source, data["time_column"]), sample_frac, seed))


@contextlib.contextmanager
def checkout(project: Path, commit: str, folder: Path) -> Iterator[Path]:
    """The project's folder in a git worktree of ``commit`` under ``folder`` (removed afterwards)."""
    def git(*args: str, cwd: Path = project) -> str:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
        if done.returncode != 0:
            raise ReproduceError(f"git {' '.join(args)} failed: {done.stderr.strip()[:500]}")
        return done.stdout.strip()

    top = Path(git("rev-parse", "--show-toplevel")).resolve()
    tree = folder / "source"
    git("worktree", "add", "--detach", str(tree), commit)
    try:
        yield tree / project.resolve().relative_to(top)
    finally:
        git("worktree", "remove", "--force", str(tree), cwd=top)


def rebuild(project: Path, settings: Mapping[str, Any], folder: Path, timeout_s: float | None = None) -> str:
    """Build ``project`` with ``settings`` in a fresh process (the checkout's own nbprod when it has one);
    return the new parent run id."""
    import re

    import yaml

    env_file = folder / "env.yaml"
    env_file.write_text(yaml.safe_dump(dict(settings), sort_keys=False))
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "NBPROD_"))}
    source = next((p / "src" for p in (project, *project.parents) if (p / "src" / "nbprod").is_dir()), None)
    if source is not None:
        environ["PYTHONPATH"] = os.pathsep.join([str(source), *filter(None, [environ.get("PYTHONPATH")])])
    command = [sys.executable, "-m", "nbprod.cli", "build", "--project", str(project), "--env", str(env_file)]
    done = subprocess.run(command, cwd=project, capture_output=True, text=True, env=environ, timeout=timeout_s)
    (folder / "build.log").write_text(done.stdout + done.stderr)
    found = re.search(r"MLflow parent run (\w+)", done.stdout)
    if done.returncode != 0 or not found:
        raise ReproduceError(f"the rebuild failed (exit {done.returncode}); its output: {folder / 'build.log'}")
    return found.group(1)


def child_metrics(client: Any, parent_run_id: str) -> dict[str, dict[str, float]]:
    """Every metric of a build's task and candidate runs, by :func:`run_key`."""
    experiment = client.get_run(parent_run_id).info.experiment_id
    runs = client.search_runs([experiment], tags.equals(tags.PARENT, parent_run_id), max_results=1000)
    return {run_key(run.data.tags, run.info.run_name): dict(run.data.metrics) for run in runs}


def best_model_run(client: Any, parent_run_id: str) -> str:
    """The run id of the candidate the build's evaluate task named best (one that logged a model)."""
    experiment = client.get_run(parent_run_id).info.experiment_id
    query = f"{tags.equals(tags.PARENT, parent_run_id)} and {tags.equals(tags.TASK, 'evaluate')}"
    (evaluate,) = client.search_runs([experiment], query, max_results=1) or [None]
    best = evaluate.data.tags.get(tags.BEST) if evaluate is not None else None
    query = f"{tags.equals(tags.PARENT, parent_run_id)} and {tags.equals(tags.CANDIDATE, str(best))}"
    for run in client.search_runs([experiment], query, max_results=10):
        if run.outputs and run.outputs.model_outputs:
            return run.info.run_id
    raise ReproduceError(f"build {parent_run_id} has no logged model for its best candidate {best!r}")


def load_best_model(client: Any, parent_run_id: str, recommender: bool = False) -> Any:
    """The best candidate's model of a build, loaded as the dashboards load a candidate: from a copy checked
    against the digest its run recorded (:func:`nbprod.registry.digest.load_run_model`); a model whose files
    changed is a :class:`ReproduceError`, never loaded. ``recommender``: the estimator inside a recommender's
    pyfunc model (:func:`load_run_recommender`)."""
    from nbprod.registry.digest import ArtifactRefused, load_run_model

    run_id = best_model_run(client, parent_run_id)
    try:
        return load_run_recommender(client, run_id) if recommender else load_run_model(client, run_id)
    except ArtifactRefused as error:
        raise ReproduceError(str(error)) from None


def load_run_recommender(client: Any, run_id: str) -> Any:
    """A recommender candidate's estimator, from a copy of its model folder checked against its run's digest tag
    (a run that recorded none: loaded unchecked, with the warning of :func:`nbprod.registry.digest.check`)."""
    from nbprod.recommender.pyfunc import load_recommender
    from nbprod.registry.digest import check, download, run_model_location
    from nbprod.tracking.tags import ARTIFACT_DIGEST

    recorded = client.get_run(run_id).data.tags.get(ARTIFACT_DIGEST)
    with tempfile.TemporaryDirectory(prefix="nbprod-model-") as destination:
        folder = download(run_model_location(client, run_id, "model"), Path(destination), client.tracking_uri)
        check(folder, recorded, f"the model of run {run_id}")
        return load_recommender(str(folder))


def predictions(model: Any, frame: Any) -> Any:
    """The predictions (probabilities for a classifier) of ``model`` on ``frame``'s contract columns."""
    from nbprod.model.features import feature_contract

    X = frame[feature_contract(model).names]
    return model.predict_proba(X) if hasattr(model, "predict_proba") else model.predict(X)


def compare_predictions(recorded: Any, reproduced: Any, holdout: Any) -> list[str]:
    """A difference when the two models predict differently on the holdout rows (none: identical)."""
    import numpy as np

    before = predictions(recorded, holdout)
    after = predictions(reproduced, holdout)
    if before.shape == after.shape and np.array_equal(before, after):
        return []
    gap = float(np.max(np.abs(before - after))) if before.shape == after.shape else float("nan")
    return [f"predictions on the {len(holdout)} holdout rows differ (largest difference {gap:.3g})"]


def reproduce(project: Any, run_id: str, log: Callable[[str], None] = print, keep: Path | None = None) -> Result:
    """Reproduce build ``run_id`` of :class:`~nbprod.project.Project` ``project`` (see the module's doc)."""
    import pandas as pd

    from nbprod import tracking

    missing = tracking.missing_store(project.tracking_uri())
    if missing is not None:
        raise ReproduceError(f"no MLflow store at {missing} (tracking.uri): nothing was built here yet")
    client = tracking.client_for(project.tracking_uri())
    run, commit, digest = build_record(client, run_id)
    settings, defaults = build_settings(run.data.params)
    if defaults:
        log(settings_module.defaults_notice(defaults, f"build {run_id}"))
    recorded_model = load_best_model(client, run_id,  # checked before a rebuild is spent on it
                                     recommender=settings.get("kind") == "recommender")
    result = Result(run_id, commit, digest)
    with tempfile.TemporaryDirectory(prefix="nbprod-reproduce-") as temp:
        folder = keep or Path(temp)
        folder.mkdir(parents=True, exist_ok=True)
        with checkout(project.root, commit, folder) as tree:
            data = settings["data"]
            source = data_source(data["source"], tree, project.root)
            found = data_digest(settings, source)
            if found != digest:
                raise ReproduceError(f"the raw data changed: build {run_id} read data with digest {digest}, "
                                     f"{source} now gives {found}")
            log(f"commit {commit[:12]} checked out, data digest {digest} verified; rebuilding...")
            store = f"sqlite:///{folder / 'mlflow.db'}"
            rebuilt = {**settings, "products": str(folder / "products"), "reports": str(folder / "reports"),
                       "tracking": {**settings["tracking"], "uri": store},
                       "alerts": {**settings["alerts"], "webhooks": []}, "data": {**data, "source": source},
                       # the products do not depend on the engine
                       "engine": {"kind": "local", "scheduler": None, "products_url": None}}
            settings_module.check(rebuilt)
            result.reproduced_run_id = rebuild(tree, rebuilt, folder)
        ours = tracking.client_for(store)
        result.differences, result.compared, result.skipped = compare_metrics(
            child_metrics(client, run_id), child_metrics(ours, result.reproduced_run_id))
        evaluation = json.loads((folder / "products" / "evaluation.json").read_text()) \
            if (folder / "products" / "evaluation.json").is_file() else None
        if settings.get("kind") == "recommender":
            result.differences += compare_recommendations(
                recorded_model, load_best_model(ours, result.reproduced_run_id, recommender=True),
                pd.read_parquet(_recommender_test(folder, evaluation), columns=["user"])["user"],
                int(settings["evaluate"]["k"]))
        else:
            holdout = _holdout(folder, evaluation)
            result.differences += compare_predictions(recorded_model, load_best_model(ours, result.reproduced_run_id),
                                                      pd.read_parquet(holdout).drop(columns=[data["target"]]))
    return result


def recommendations(model: Any, users: Any, k: int) -> list[tuple]:
    """``(items, scores, path)`` of the recommender ``model`` for each of ``users``."""
    return [(found.items, found.scores, found.path) for found in (model.recommend(user, k=k) for user in users)]


def compare_recommendations(recorded: Any, reproduced: Any, users: Any, k: int) -> list[str]:
    """A difference when the two recommenders answer any test user differently (items, scores or path)."""
    users = list(dict.fromkeys(str(user) for user in users))
    before, after = recommendations(recorded, users, k), recommendations(reproduced, users, k)
    differing = [user for user, mine, theirs in zip(users, before, after) if mine != theirs]
    if not differing:
        return []
    return [f"the top-{k} of {len(differing)} of the {len(users)} test users differ (first: user {differing[0]})"]


def _recommender_test(folder: Path, evaluation: Mapping[str, Any] | None) -> Path:
    """The rebuilt test interactions of a recommender (named by the rebuilt ``evaluation.json``)."""
    named = (evaluation or {}).get("holdout", {}).get("test")
    for path in [Path(named)] if named else []:
        path = path if path.is_absolute() else folder / "products" / path
        if path.is_file():
            return path
    raise ReproduceError(f"the rebuild wrote no test interactions under {folder / 'products'}")


def _holdout(folder: Path, evaluation: Mapping[str, Any] | None) -> Path:
    """The rebuilt holdout file (named by the rebuilt ``evaluation.json``)."""
    found = [Path(evaluation["holdout"])] if evaluation else []
    found += sorted(folder.glob("products/**/holdout*.parquet"))
    for path in found:
        path = path if path.is_absolute() else folder / "products" / path
        if path.is_file():
            return path
    raise ReproduceError(f"the rebuild wrote no holdout file under {folder / 'products'}")
