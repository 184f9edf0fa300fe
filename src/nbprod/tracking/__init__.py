"""MLflow tracking: where the store is, and the run tree of a build.

A build is one parent run; each task opens a child run with :func:`task_run`,
and each candidate model a grandchild under its task. The parent run's id
reaches the notebook kernels through the environment (``NBPROD_PARENT_RUN``).
A notebook run by hand, with no parent, gets a stand-alone run tagged
``nbprod.interactive``. Nothing here runs at import time.

A SQLite store keeps its artifacts in ``mlartifacts/`` beside the database file.
MLflow records that folder as an absolute path (experiments, runs, logged models,
model versions), so a project folder that was moved or copied would read and write
the artifacts of its old place; :func:`repoint_artifacts` rewrites those paths to
the store's present folder each time a store is opened (:func:`set_uri`).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path
from typing import Any, Iterator, Mapping

from nbprod.tracking import tags as names

PARENT_ENV = "NBPROD_PARENT_RUN"
URI_ENV = "MLFLOW_TRACKING_URI"
EXPERIMENT_ENV = "MLFLOW_EXPERIMENT_ID"
REGISTRY_ENV = "MLFLOW_REGISTRY_URI"
ARTIFACTS_FOLDER = "mlartifacts"
#: Store columns that hold artifact locations (or, for datasets, a source path) under the store's folder.
ARTIFACT_COLUMNS = (("experiments", "artifact_location"), ("runs", "artifact_uri"),
                    ("logged_models", "artifact_location"), ("model_versions", "storage_location"),
                    ("model_versions", "source"), ("datasets", "dataset_source"))


def tracking_uri(settings: Mapping[str, Any], project: Path, environ: Mapping[str, str] | None = None) -> str:
    """``MLFLOW_TRACKING_URI`` of ``environ`` (default: this process's) if set, else ``tracking.uri``;
    a relative SQLite path is made absolute against ``project``."""
    uri = (os.environ if environ is None else environ).get(URI_ENV) or settings["tracking"]["uri"]
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri[len(prefix):].startswith("/"):
        return prefix + str((project / uri[len(prefix):]).resolve())
    return uri


def missing_store(uri: str) -> Path | None:
    """The database file of a SQLite store URI when that file does not exist (MLflow would create it), else None."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    path = Path(uri[len(prefix):].split("?", 1)[0])
    return None if path.is_file() else path


def configure(settings: Mapping[str, Any], project: Path) -> str:
    """Point MLflow at the project's store and experiment; return the experiment id.

    A new experiment in a SQLite store keeps its artifacts in ``mlartifacts/``
    beside the database file (not in the working directory of whoever created it).
    """
    import mlflow

    set_uri(tracking_uri(settings, project))
    name = settings["tracking"]["experiment"]
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None:
        location = None
        uri = mlflow.get_tracking_uri()
        if uri.startswith("sqlite:///"):
            location = (Path(uri[len("sqlite:///"):]).parent / ARTIFACTS_FOLDER).resolve().as_uri()
        experiment_id = mlflow.create_experiment(name, artifact_location=location)
    else:
        experiment_id = experiment.experiment_id
    with preserved_environment(URI_ENV, EXPERIMENT_ENV):
        mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def client_for(uri: str) -> Any:
    """An ``MlflowClient`` on the store at ``uri``, for tracking and the registry (never the process's default)."""
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def point_at(uri: str) -> None:
    """Send MLflow's URI-based loads (``models:/``, ``runs:/``) of this process to the store at ``uri``."""
    set_uri(uri)


def set_uri(uri: str) -> None:
    """Point this process's MLflow tracking AND registry at ``uri`` (MLflow 3 also exports them to the
    environment: not here). Both, always: a registry URI left from another store would send the next
    registration there. A SQLite store that was moved is re-pointed at its present folder first
    (:func:`repoint_artifacts`)."""
    import mlflow

    repoint_artifacts(uri)
    with preserved_environment(URI_ENV, EXPERIMENT_ENV, REGISTRY_ENV):
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)


def store_file(uri: str) -> Path | None:
    """The database file of a SQLite store URI (None for other stores)."""
    prefix = "sqlite:///"
    return Path(uri[len(prefix):].split("?", 1)[0]) if uri.startswith(prefix) else None


def _location_folder(location: str) -> tuple[str, str] | None:
    """``(path as stored, plain path)`` of the folder holding an ``mlartifacts`` location, else None."""
    from urllib.parse import unquote, urlparse

    stored = urlparse(location).path if location.startswith("file:") else location
    stored = stored.rstrip("/")
    if stored.rsplit("/", 1)[-1] != ARTIFACTS_FOLDER:
        return None
    folder = stored.rsplit("/", 1)[0]
    return folder, unquote(folder)


def repoint_artifacts(uri: str) -> list[str]:
    """Re-point a moved or copied SQLite store's artifact locations at the folder it is in now.

    The experiments created by :func:`configure` keep their artifacts in
    ``<store folder>/mlartifacts``. When that recorded folder is not the store's
    present one, every artifact location under the old folder (experiments, runs,
    logged models, model versions, dataset sources) is rewritten to the same place
    under the present folder, in one transaction. Returns the old folders (empty:
    nothing to do, or not a SQLite store).
    """
    import sqlite3

    path = store_file(uri)
    if path is None or not path.is_file():
        return []
    try:
        return _repoint(path, path.resolve().parent)
    except sqlite3.DatabaseError:  # not a store nbprod can read or write: MLflow reports it on first use
        return []


def _repoint(path: Path, here: Path) -> list[str]:
    """:func:`repoint_artifacts` on the database file ``path`` now in folder ``here``."""
    import sqlite3
    from urllib.parse import urlparse

    here_stored = urlparse(here.as_uri()).path
    with contextlib.closing(sqlite3.connect(path, timeout=60)) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "experiments" not in tables:
            return []
        moved = {folder for (location,) in db.execute("SELECT artifact_location FROM experiments")
                 if location and (folder := _location_folder(location)) is not None
                 and folder[1] != str(here)}
        if not moved:
            return []
        columns = {table: {row[1] for row in db.execute(f"PRAGMA table_info({table})")} for table in tables}
        with db:
            for stored, plain in moved:
                pairs = {(stored + "/", here_stored + "/"), (plain + "/", str(here) + "/")}
                for table, column in ARTIFACT_COLUMNS:
                    if column not in columns.get(table, ()):
                        continue
                    for old, new in pairs:
                        db.execute(f"UPDATE {table} SET {column} = replace({column}, ?, ?) "
                                   f"WHERE instr({column}, ?) > 0", (old, new, old))
    return sorted(plain for _, plain in moved)


@contextlib.contextmanager
def preserved_environment(*names: str) -> Iterator[None]:
    """Undo changes to these environment variables.

    MLflow 3's ``set_tracking_uri`` and ``set_experiment`` also export
    ``MLFLOW_TRACKING_URI`` and ``MLFLOW_EXPERIMENT_ID``; left there, they would win
    over the settings of the next project configured in the same process.
    """
    saved = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def git_commit(project: Path) -> str | None:
    """The current git commit of the project, or None outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True,
                             text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists are kept as values."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


@contextlib.contextmanager
def task_run(task: str, **tags: str) -> Iterator[Any]:
    """A child run of the current build for ``task``, or a stand-alone run outside a build."""
    import mlflow

    parent = os.environ.get(PARENT_ENV)
    all_tags = {names.TASK: task, **tags}
    if parent:
        all_tags[names.PARENT] = parent
        commit = mlflow.get_run(parent).data.tags.get(names.GIT_COMMIT)
        if commit:
            all_tags[names.GIT_COMMIT] = commit
    else:
        all_tags[names.INTERACTIVE] = "true"
    with mlflow.start_run(run_name=task, parent_run_id=parent, tags=all_tags) as run:
        yield run


@contextlib.contextmanager
def candidate_run(name: str, **tags: str) -> Iterator[Any]:
    """A run nested under the active task run, for one candidate model."""
    import mlflow

    active = mlflow.active_run()
    all_tags = {names.CANDIDATE: name, **tags}
    if active is not None:
        all_tags.update({key: value for key, value in active.data.tags.items()
                         if key in (names.PARENT, names.GIT_COMMIT)})
    with mlflow.start_run(run_name=name, nested=active is not None, tags=all_tags) as run:
        yield run


def frame_digest(frame: Any) -> str:
    """A content digest of a DataFrame (values and column names; not the index)."""
    import hashlib

    import pandas as pd

    digest = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def log_frame_input(frame: Any, name: str, context: str, source: str) -> str:
    """Log a DataFrame as an MLflow dataset input (digest, schema, row count); return its digest.

    The digest covers every row (``frame_digest``); the schema is inferred from the first
    rows. MLflow's own ``from_pandas`` infers both from the whole frame, which costs tens
    of seconds on the default data.
    """
    import warnings

    import mlflow
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset

    digest = frame_digest(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        schema = mlflow.models.infer_signature(frame.head(1000)).inputs
        dataset = MetaDataset(source=resolve_dataset_source(source), name=name, digest=digest, schema=schema)
    mlflow.log_input(dataset, context=context)
    mlflow.log_metric(f"rows.{name}", len(frame))
    return digest


def build_data_digest(client: Any, parent_run_id: str) -> str | None:
    """The digest of the raw data the build ``parent_run_id`` read: the dataset input of its ``get`` run, or, when
    ``get`` was up to date in that build, of the newest ``get`` run before it (None: no such run)."""
    parent = client.get_run(parent_run_id)
    experiment = parent.info.experiment_id
    own = f"{names.equals(names.PARENT, parent_run_id)} and {names.equals(names.TASK, 'get')}"
    earlier = f"{names.equals(names.TASK, 'get')} and attributes.start_time < {parent.info.start_time}"
    for query in (own, earlier):
        for run in client.search_runs([experiment], query, order_by=["attributes.start_time DESC"], max_results=5):
            digests = [item.dataset.digest for item in run.inputs.dataset_inputs if item.dataset.name == "raw"]
            if digests:
                return digests[0]
    return None
