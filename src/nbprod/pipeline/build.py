"""``nbprod build``: Ploomber's incremental build plus data/code staleness and MLflow tracking."""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from nbprod import alerts, memory, tracking
from nbprod.pipeline import dag as dag_module
from nbprod.pipeline import fingerprints, imports, kernels, manifest
from nbprod.pipeline.phases import Phases
from nbprod.tracking import tags as names
from nbprod.settings import resolve_path

log = logging.getLogger("nbprod.pipeline")


@dataclass
class BuildResult:
    """What a build did."""

    statuses: dict[str, str] = field(default_factory=dict)
    executed: list[str] = field(default_factory=list)
    forced: list[str] = field(default_factory=list)
    parent_run_id: str | None = None
    seconds: float = 0.0
    ok: bool = True
    products: dict[str, Any] = field(default_factory=dict)  # task name -> its product path(s)
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase (see nbprod.pipeline.phases)


def current_fingerprints(dag: Any, project: Path, settings: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Each task's data and code fingerprint."""
    folder = fingerprints.package_folder()
    outputs = fingerprints.output_folders(settings, project)
    return {name: fingerprints.fingerprint(dag_module.task_code(dag, name), dag_module.task_params(dag, name),
                                           project, folder, outputs)
            for name in dag.keys()}


def mark_changed(dag: Any, products: Path, current: Mapping[str, Mapping[str, str]], force: bool) -> list[str]:
    """Forget the metadata of tasks whose data or code changed; return their names."""
    changed = list(dag.keys()) if force else fingerprints.changed_tasks(current, fingerprints.read_store(products))
    for name in changed:
        dag_module.forget_task(dag, name)
    return changed


def needs_reload(dag: Any, forced: list[str]) -> bool:
    """Whether the DAG must be loaded again after :func:`mark_changed` forgot ``forced``: only when Ploomber
    had found one of them up to date (its status then changes). On a first build every task is outdated
    already, and a second load (about 0.5 s; the first, imports included, 3.7 s) would change nothing."""
    return bool(set(forced) - set(dag_module.outdated_tasks(dag)))


#: The environment a build gives its tasks besides tracking and alerts (a value already set wins): Arrow's
#: allocator, mimalloc, returns freed memory at once instead of keeping it for reuse, so that a notebook does not
#: carry what a Parquet read freed (a 0.8 GB frame read left 1.6 GB resident, 1.0 GB with this).
ALLOCATOR_ENVIRONMENT = {"MIMALLOC_PURGE_DELAY": "0"}


@contextmanager
def tracked_environment(settings: Mapping[str, Any], project: Path, title: str = "build") -> Iterator[str]:
    """Open the build's parent run (named ``title`` and the time) and expose it (and the store) to the
    tasks' processes."""
    experiment_id = tracking.configure(settings, project)
    uri = tracking.tracking_uri(settings, project)
    client = tracking.client_for(uri)
    commit = tracking.git_commit(project)
    tags = {names.BUILD: "true", **({names.GIT_COMMIT: commit, names.MLFLOW_GIT_COMMIT: commit} if commit else {})}
    run = client.create_run(experiment_id, run_name=f"{title} {time.strftime('%Y-%m-%d %H:%M:%S')}", tags=tags)
    params = {key: str(value)[:6000] for key, value in tracking.flatten(settings).items()}
    from mlflow.entities import Param

    client.log_batch(run.info.run_id, params=[Param(key, value) for key, value in params.items()])
    exported = {tracking.URI_ENV: uri, tracking.REGISTRY_ENV: uri, tracking.EXPERIMENT_ENV: experiment_id,
                tracking.PARENT_ENV: run.info.run_id, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
                **alerts.export(settings),
                **{name: value for name, value in ALLOCATOR_ENVIRONMENT.items() if name not in os.environ}}
    saved = {key: os.environ.get(key) for key in exported}
    os.environ.update(exported)
    status = "FAILED"
    try:
        yield run.info.run_id
        status = "FINISHED"
    finally:
        client.set_terminated(run.info.run_id, status)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def executed_notebook(dag: Any, name: str) -> Path | None:
    """The executed notebook a task writes (its ``nb`` product), or None for a function task."""
    paths = dag_module.product_paths(dag[name].product)
    notebook = paths.get("nb") if isinstance(paths, dict) else None
    return Path(notebook) if notebook else None


class NotebookExports:
    """Each executed notebook's HTML, written beside it by one background thread as soon as its task
    has run (while the next task runs), then logged with the notebook to the task's child run."""

    def __init__(self, dag: Any, phases: Phases | None = None) -> None:
        self.dag = dag
        self.phases = phases if phases is not None else Phases()
        self.pending: dict[str, Future] = {}
        self.worker: ThreadPoolExecutor | None = None

    def submit(self, name: str) -> None:
        """Start writing the HTML of task ``name``'s executed notebook (nothing for a function task)."""
        notebook = executed_notebook(self.dag, name)
        if notebook is None or name in self.pending:
            return
        if self.worker is None:
            self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbprod-html")
        self.pending[name] = self.worker.submit(self._export, notebook)

    def _export(self, notebook: Path) -> Path:
        from nbprod.notebook.reports import notebook_to_html

        with self.phases.timed("html_export"):
            return notebook_to_html(notebook)

    def publish(self, executed: list[str], parent_run_id: str) -> None:
        """Finish the HTML of the ``executed`` tasks' notebooks; log notebook and HTML to each task's child run."""
        from mlflow import MlflowClient

        for name in executed:
            self.submit(name)  # a task no progress announced (built in a subprocess)
        try:
            pages = {name: self.pending[name].result() for name in executed if name in self.pending}
        finally:
            self.close()
        with self.phases.timed("artifact_logging"):
            client = MlflowClient()
            for name, html in pages.items():
                runs = client.search_runs([os.environ["MLFLOW_EXPERIMENT_ID"]],
                                          f"{names.equals(names.PARENT, parent_run_id)} and "
                                          f"{names.equals(names.TASK, name)}")
                for run in runs[:1]:
                    client.log_artifact(run.info.run_id, str(executed_notebook(self.dag, name)), "notebook")
                    client.log_artifact(run.info.run_id, str(html), "notebook")

    def close(self) -> None:
        """Stop the background thread (after the exports already started)."""
        if self.worker is not None:
            self.worker.shutdown(wait=True)
            self.worker = None


class ExportingProgress:
    """A build's progress that also starts each executed notebook's HTML export (:class:`NotebookExports`)."""

    def __init__(self, exports: NotebookExports, progress: dag_module.Progress | None = None) -> None:
        self.exports = exports
        self.progress = progress

    def started(self, name: str) -> None:
        """Tell the build's own progress."""
        if self.progress is not None:
            self.progress.started(name)

    def finished(self, name: str, status: str, seconds: float) -> None:
        """Start the HTML export of an executed notebook; give back the memory a function task left cached
        (:func:`release_cached_memory`); tell the build's own progress."""
        if status == "Executed":
            self.exports.submit(name)
        release_cached_memory()
        if self.progress is not None:
            self.progress.finished(name, status, seconds)


#: Seconds a task waits for the imports made ahead for it (:class:`ImportingProgress`).
IMPORTS_TIMEOUT = 120


class ImportingProgress:
    """A build's progress that also imports ahead, while a notebook runs, what the function task after it
    declared (``ahead``: :func:`nbprod.pipeline.dag.imports_ahead`); each task starts once those imports are done."""

    def __init__(self, ahead: Mapping[str, tuple[str, ...]], progress: dag_module.Progress | None = None) -> None:
        self.ahead = ahead
        self.progress = progress
        self.importing: threading.Thread | None = None

    def started(self, name: str) -> None:
        """Wait for the imports begun at the last task (:data:`IMPORTS_TIMEOUT` at most: the task's own imports then
        wait for them); begin those to make while ``name`` runs; tell ``progress``."""
        if self.importing is not None:
            self.importing.join(IMPORTS_TIMEOUT)
            if self.importing.is_alive():
                log.warning("importing ahead for %s still not done after %d s", name, IMPORTS_TIMEOUT)
            self.importing = None
        if self.ahead.get(name):
            self.importing = imports.in_background(self.ahead[name])
        if self.progress is not None:
            self.progress.started(name)

    def finished(self, name: str, status: str, seconds: float) -> None:
        """Tell ``progress``."""
        if self.progress is not None:
            self.progress.finished(name, status, seconds)


def release_cached_memory() -> None:
    """Return to the system the memory the build's process freed (:func:`nbprod.memory.release_memory`).

    Function tasks (``get``, ``validate``, ``promote``) run in the build's process, which lives on while every
    later task's kernel runs: at 10x the default rows (3.4 million, 800 MB in memory), the build process
    held 1.1 GB after ``get`` with no Arrow buffer alive, 280 MB once Arrow's pool was released
    (``benchmarks/bench_scale.py``); glibc's free lists are trimmed too.
    """
    from nbprod.memory import release_memory

    release_memory(collect=False)  # a collection after each task would cost 0.3 s each


def publish_notebooks(dag: Any, executed: list[str], parent_run_id: str) -> None:
    """Write each executed notebook's HTML beside it and log both to the task's child run."""
    NotebookExports(dag).publish(executed, parent_run_id)


def warm_store(settings: Mapping[str, Any], project: Path) -> threading.Thread:
    """Open the tracking store in a background thread (a new SQLite store creates its tables then,
    seconds of disk writes), while the build loads its DAG; join the thread before tracking."""
    def open_store() -> None:
        try:
            tracking.client_for(tracking.tracking_uri(settings, project)).search_experiments(max_results=1)
        except Exception:  # noqa: BLE001 - tracking itself reports the problem, in the build's thread
            log.debug("opening the tracking store ahead failed", exc_info=True)

    thread = threading.Thread(target=open_store, name="nbprod-store", daemon=True)
    thread.start()
    return thread


def build(settings: Mapping[str, Any], project: Path, force: bool = False,
          progress: dag_module.Progress | None = None) -> BuildResult:
    """Build what is outdated; nothing (and no MLflow run) when nothing changed.

    ``progress``, when given, hears of each task as it starts and ends.
    """
    started = time.perf_counter()
    products = resolve_path(project, settings["products"])
    unchanged = None if force else manifest.unchanged(products, manifest_key(settings))
    if unchanged is not None:
        return BuildResult(statuses={name: "Skipped" for name in unchanged}, seconds=time.perf_counter() - started,
                           products=manifest.recorded_products(products))
    with engine(settings, project) as run_tasks:  # the dask engine fails here, before anything is written, without a cluster
        return build_outdated(settings, project, force, progress, run_tasks, started)


@contextmanager
def engine(settings: Mapping[str, Any], project: Path) -> Iterator[Any]:
    """What builds the outdated tasks of a DAG, as ``engine.kind`` says: a function of ``(dag, progress)``
    returning each task's status (:func:`nbprod.pipeline.dag.build` for the local engine)."""
    if settings["engine"]["kind"] == "local":
        yield dag_module.build
        return
    from nbprod.pipeline import dask_engine

    with dask_engine.connected(settings["engine"]["scheduler"], tracking.tracking_uri(settings, project)) as client:
        yield lambda dag, progress: dask_engine.build(client, dag, project.resolve(), settings,
                                                      task_environment(settings), progress)


def task_environment(settings: Mapping[str, Any]) -> dict[str, str]:
    """What a task's process needs of a build's environment (inside :func:`tracked_environment`)."""
    names_ = [tracking.URI_ENV, tracking.REGISTRY_ENV, tracking.EXPERIMENT_ENV, tracking.PARENT_ENV,
              "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", *alerts.export(settings), *ALLOCATOR_ENVIRONMENT]
    return {name: os.environ[name] for name in names_ if name in os.environ}


def build_outdated(settings: Mapping[str, Any], project: Path, force: bool, progress: dag_module.Progress | None,
                   run_tasks: Any, started: float) -> BuildResult:
    """:func:`build` once the manifest said something may have changed; ``run_tasks`` builds the outdated tasks."""
    phases = Phases()
    modules = kernels.preload_modules(tracking.tracking_uri(settings, project))
    with kernels.KernelPool([], modules, phases=phases) as pool:
        if run_tasks is dag_module.build:  # kernels are warmed where the notebooks run: here
            pool.prestart(dag_module.first_notebook_run(project), {**ALLOCATOR_ENVIRONMENT, **os.environ})
        try:
            return build_in_pool(settings, project, force, progress, run_tasks, started, phases, pool)
        finally:
            memory.thaw()  # what loading the DAG froze


def build_in_pool(settings: Mapping[str, Any], project: Path, force: bool, progress: dag_module.Progress | None,
                  run_tasks: Any, started: float, phases: Phases, pool: kernels.KernelPool) -> BuildResult:
    """:func:`build_outdated` once ``pool`` warms the first kernel (a local build's; a Dask build's warms none)."""
    products = resolve_path(project, settings["products"])
    manifest.forget(products)
    imports.defer_iri_grammar()
    store = warm_store(settings, project)
    with memory.loading():
        with phases.timed("dag_load"):
            dag = dag_module.load_dag(project, settings)
        with phases.timed("fingerprints"):
            current = current_fingerprints(dag, project, settings)
            forced = mark_changed(dag, products, current, force)
        if needs_reload(dag, forced):
            with phases.timed("dag_load"):
                dag = dag_module.load_dag(project, settings)
    result = BuildResult(forced=forced, products=dag_module.products(dag))
    if not dag_module.outdated_tasks(dag):
        result.statuses = {name: "Skipped" for name in dag.keys()}
        with phases.timed("manifest"):
            record_manifest(dag, project, settings, products)
        result.seconds, result.phases = time.perf_counter() - started, phases.as_dict()
        return result
    local = run_tasks is dag_module.build
    setup, exports = time.perf_counter(), NotebookExports(dag, phases)
    store.join()
    with tracked_environment(settings, project) as parent_run_id, \
            kernels.warm_kernels(dag_module.notebook_runs(dag) if local else [], pool=pool):
        phases.add("tracking_setup", time.perf_counter() - setup)
        result.parent_run_id = parent_run_id
        tasks_started = time.perf_counter()
        try:
            ahead = dag_module.imports_ahead(dag) if local else {}
            result.statuses = run_tasks(dag, ExportingProgress(exports, ImportingProgress(ahead, progress)))
        except dag_module.BuildFailed as failure:
            result.statuses, result.ok, details = failure.statuses, False, failure.details
            for name in failed_tasks(failure.statuses):
                dag_module.forget_task(dag, name)  # its products are the failed run's: build it again next time
        finally:
            in_kernels = phases.seconds("kernel_wait") + phases.seconds("notebook_execution")
            phases.add("other_task_work", time.perf_counter() - tasks_started - in_kernels)
            if not result.statuses:
                exports.close()
        result.executed = [name for name, status in result.statuses.items() if status == "Executed"]
        with phases.timed("fingerprints"):
            fingerprints.write_store(products, {**fingerprints.read_store(products),
                                                **{name: current[name] for name in result.executed}})
        exports.publish(result.executed, parent_run_id)
        if not result.ok:
            raise dag_module.BuildFailed(result.statuses, details)
    with phases.timed("manifest"):
        save_dag_plot(dag, resolve_path(project, settings["reports"]))
        record_manifest(dag, project, settings, products)
    result.seconds, result.phases = time.perf_counter() - started, phases.as_dict()
    return result


def build_task(settings: Mapping[str, Any], project: Path, name: str) -> BuildResult:
    """Build the task ``name`` alone, in a parent run of its own, from its upstream products on disk.

    Raises :class:`~nbprod.pipeline.dag.TaskError` when ``name`` is unknown or an upstream
    product is missing, :class:`~nbprod.pipeline.dag.BuildFailed` when the task fails. The
    whole-build manifest is forgotten (the products changed), the task's fingerprint recorded.
    """
    started = time.perf_counter()
    products = resolve_path(project, settings["products"])
    imports.defer_iri_grammar()
    dag = dag_module.load_dag(project, settings)
    dag_module.check_task(dag, name)
    manifest.forget(products)
    current = fingerprints.fingerprint(dag_module.task_code(dag, name), dag_module.task_params(dag, name), project,
                                       fingerprints.package_folder(), fingerprints.output_folders(settings, project))
    with tracked_environment(settings, project, title=f"task {name}") as parent_run_id:
        try:
            status = dag_module.build_task(dag, name)
        except dag_module.BuildFailed:
            dag_module.forget_task(dag, name)
            raise
        fingerprints.write_store(products, {**fingerprints.read_store(products), name: current})
        publish_notebooks(dag, [name], parent_run_id)
    return BuildResult(statuses={name: status}, executed=[name], parent_run_id=parent_run_id,
                       seconds=time.perf_counter() - started)


def failed_tasks(statuses: Mapping[str, str]) -> list[str]:
    """The tasks of a build that ran and failed (Ploomber's ``Errored``)."""
    return [name for name, status in statuses.items() if status == "Errored"]


def record_manifest(dag: Any, project: Path, settings: Mapping[str, Any], products: Path) -> None:
    """Remember the state of everything the up-to-date decision depends on."""
    folder = fingerprints.package_folder()
    outputs = fingerprints.output_folders(settings, project)
    data = [path for name in dag.keys()
            for path in fingerprints.data_files(dag_module.task_params(dag, name), project, outputs)]
    watched = [*dag_module.watched_files(dag, project), *sorted(folder.rglob("*.py")), *data,
               products / fingerprints.STORE]
    manifest.write(products, manifest_key(settings), list(dag.keys()), watched, dag_module.products(dag))


def manifest_key(settings: Mapping[str, Any]) -> dict[str, Any]:
    """What the manifest's digest covers besides files: the settings (but where tasks run: the products are
    the same) and where the package lives."""
    return {"settings": {key: value for key, value in settings.items() if key != "engine"},
            "package": str(fingerprints.package_folder())}


def save_dag_plot(dag: Any, reports: Path) -> None:
    """Save the DAG's picture to ``reports/pipeline.png``, unless the picture there shows the same graph.

    The graph is written into the PNG's metadata, so an unchanged pipeline leaves the file
    (which the README shows, and git tracks) untouched.
    """
    import json

    from nbprod.notebook.reports import dag_figure

    names = list(dag.keys())
    graph = json.dumps({"tasks": names, "edges": sorted(dag_module.edges(dag))})
    target = reports / "pipeline.png"
    if png_description(target) == graph:
        return
    reports.mkdir(parents=True, exist_ok=True)
    dag_figure(dag_module.edges(dag), names).savefig(target, dpi=110, metadata={"Description": graph})


def png_description(path: Path) -> str | None:
    """The ``Description`` text of a PNG file, or None."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.text.get("Description")
    except (OSError, ValueError):
        return None
