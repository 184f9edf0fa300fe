"""The seam between nbprod and Dask distributed: a build's outdated tasks run on the workers of a cluster.

Ploomber stays the DAG's definition and the judge of what is outdated (:mod:`nbprod.pipeline.dag`,
fingerprints, manifest): the build decides in its own process what to run, as a local build does,
and this module runs each outdated task on a worker instead of in that process -- a Dask future per
task, submitted once its upstream tasks are done, so tasks run in topological order, independent ones
at the same time, each on whichever worker is free (a future depending on another's would be sent
where that one's result lies, behind it). A worker builds its task as ``nbprod task`` does (the DAG
loaded there, the task built by Ploomber with its params and its notebook run by papermill in a new
kernel), inside the build's MLflow parent run; the futures carry task names, product paths and
digests, never data. The project (its pipeline, notebooks, schemas) must be at the same path on every
worker. Products are written where the settings say, so those folders must be on storage every worker sees,
unless ``engine.products_url`` names an S3 bucket: the workers then exchange them there
(:mod:`nbprod.pipeline.product_store`), each building its task in a folder of its own.

Workers run one thread each (``dask worker --nthreads 1``): papermill changes the process's working
folder while a notebook runs (nteract/papermill#473). A worker that dies mid-task has the task re-run
by the scheduler on another worker (the dead attempt's MLflow runs are deleted first); after
``distributed.scheduler.allowed-failures`` deaths (a scheduler setting, 3 by default) the build fails
naming the task. The kernels of a killed worker exit on their own (ipykernel watches its parent).
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

from nbprod.pipeline import dag as dag_module

#: Seconds to reach the scheduler, and for a first worker to be there, before the build gives up
#: (nothing is written before).
CONNECT_SECONDS = 5
#: Statuses after which a downstream task may run.
DONE = ("Executed", "Skipped")
#: Environment of a task on a worker (and of its notebook's kernel): the scheduler's address, the worker's.
SCHEDULER_ENV = "NBPROD_DASK_SCHEDULER"
WORKER_ENV = "NBPROD_DASK_WORKER"


#: Hosts of this machine (a worker on one of them shares the project's files and SQLite store).
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class EngineError(RuntimeError):
    """The Dask engine cannot run: not installed, or the scheduler cannot be reached."""


@contextmanager
def connected(scheduler: str | None, store: str = "", preload: bool = True) -> Iterator[Any]:
    """A Dask client on the scheduler at ``scheduler``, or on a cluster of local processes (one thread
    per worker) when it is None; closed (and the local cluster stopped) on exit. ``preload``: the workers
    import the build's modules first (:func:`preload_plugin`; work that runs no task of a build skips it).

    Raises :class:`EngineError` when Dask is not installed, the scheduler does not answer within
    :data:`CONNECT_SECONDS`, or a worker on another machine would share the SQLite ``store``.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise EngineError('the dask engine needs Dask distributed: pip install "nbprod[dask]"') from None
    cluster = LocalCluster(threads_per_worker=1, processes=True, dashboard_address=None) if scheduler is None else None
    try:
        client = Client(cluster or scheduler, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise EngineError(f"cannot reach the Dask scheduler at {scheduler} (setting 'engine.scheduler') within "
                          f"{CONNECT_SECONDS} s: {error}") from None
    try:
        check_workers(client, scheduler)
        refused = remote_sqlite(store, client.scheduler_info()["workers"])
        if refused:
            raise EngineError(refused)
        if preload:
            client.register_plugin(preload_plugin(), name="nbprod-preload")
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


#: Modules every worker imports when it joins, before it runs a task (see :func:`preload_plugin`).
PRELOAD = ("mlflow", "mlflow.sklearn", "papermill", "ploomber.spec", "nbprod.pipeline.build",
           "nbprod.pipeline.kernels", "nbprod.tracking")


def preload_plugin() -> Any:
    """A Dask worker plugin importing :data:`PRELOAD` as a worker joins (and again after a restart).

    CPython 3.11 can fail an import that builds an AST (``SystemError: AST constructor recursion depth
    mismatch``, python/cpython#106905): seen here in a worker importing MLflow (anyio's lazy importer)
    for its first task while the worker's other threads ran. Imported at set-up, they are not imported
    while a task runs; it also takes the import time out of the first task on each worker.
    """
    import importlib

    from distributed import WorkerPlugin

    class Preload(WorkerPlugin):
        """Import the pipeline's heavy modules on a worker."""

        def setup(self, worker: Any) -> None:
            for module in PRELOAD:
                try:
                    importlib.import_module(module)
                except ImportError:  # the task that needs it fails, naming it
                    return

    return Preload()


def check_workers(client: Any, scheduler: str | None) -> None:
    """Raise :class:`EngineError` when no worker joins within :data:`CONNECT_SECONDS` or one runs several threads."""
    try:
        client.wait_for_workers(1, timeout=CONNECT_SECONDS)
    except TimeoutError:
        raise EngineError(f"no Dask worker joined the scheduler at {scheduler} within {CONNECT_SECONDS} s: start "
                          f"some (dask worker {scheduler} --nthreads 1)") from None
    problem = threaded_worker(client.scheduler_info()["workers"])
    if problem:
        raise EngineError(problem)


def remote_sqlite(store: str, workers: Mapping[str, Any]) -> str | None:
    """Why a SQLite ``store`` cannot serve ``workers`` (``scheduler_info()["workers"]``), else None: a worker
    on another machine would write the file over a network folder, and SQLite locks badly under concurrent
    writers there (mlflow/mlflow#4123, #5917). Workers on this machine share the file as a local build does."""
    if not store.startswith("sqlite:"):
        return None
    remote = sorted(address for address in workers if _host(address) not in LOOPBACK)
    if not remote:
        return None
    return (f"the MLflow store is a SQLite file ({store}) and the Dask worker {remote[0]} is on another machine: "
            "point the project at a tracking server (MLFLOW_TRACKING_URI=http://..., e.g. nbprod team-server; "
            "see README 'Scaling out')")


def _host(address: str) -> str:
    """The host of a worker address such as ``tcp://10.0.0.5:4000`` or ``tcp://[::1]:4000``."""
    rest = address.split("://", 1)[-1]
    return rest.rsplit(":", 1)[0].strip("[]")


def threaded_worker(workers: Mapping[str, Mapping[str, Any]]) -> str | None:
    """What is wrong with the first worker running more than one thread (``scheduler_info()["workers"]``), else None."""
    for address, worker in workers.items():
        if worker.get("nthreads", 1) > 1:
            return (f"the Dask worker {address} runs {worker['nthreads']} threads: notebooks need workers of one "
                    f"thread (dask worker SCHEDULER --nthreads 1), papermill's working folder is per process")
    return None


def build(client: Any, dag: Any, project: Path, settings: Mapping[str, Any], environ: Mapping[str, str],
          progress: dag_module.Progress | None = None) -> dict[str, str]:
    """Build the outdated tasks of ``dag`` on the cluster of ``client``; return each task's final status.

    ``environ``: what the tasks' processes need of the build's environment (its MLflow store, experiment and
    parent run). Same contract as :func:`nbprod.pipeline.dag.build`: raises
    :class:`~nbprod.pipeline.dag.BuildFailed` when a task failed (the others not depending on it are built).
    """
    outdated = set(dag_module.outdated_tasks(dag))
    topic = f"nbprod-build-{uuid.uuid4().hex}"
    url = settings["engine"].get("products_url")
    if url is not None:
        seed_bucket(dag, project, settings, outdated)
    if progress is not None:  # with a bucket, a task is heard to end once its files are here (fetched)
        client.subscribe_topic(topic, lambda event: announce(progress, event[1], ends=url is None))
    environ = {**environ, SCHEDULER_ENV: client.scheduler.address}

    def submit(name: str) -> Any:
        return client.submit(run_task, str(project), dict(settings), name, dict(environ), topic,
                             key=f"{topic}-{name}", pure=False)

    try:
        results = run_in_order(client, [name for name in dag_module.task_names(dag) if name in outdated],
                               upstream_tasks(dag), submit, progress,
                               None if url is None else lambda name, result: fetch_task(dag, project, settings, name,
                                                                                        result, progress))
    finally:
        if progress is not None:
            client.unsubscribe_topic(topic)
    statuses = {name: "Skipped" for name in dag_module.task_names(dag)}
    statuses.update({name: result["status"] for name, result in results.items()})
    failed = {name: result["details"] for name, result in results.items() if result["status"] == "Errored"}
    if failed:
        raise dag_module.BuildFailed(statuses, "\n".join(f"task {name!r} failed:\n{details}"
                                                        for name, details in failed.items()))
    return statuses


def run_in_order(client: Any, tasks: list[str], upstream: Mapping[str, list[str]], submit: Any,
                 progress: dag_module.Progress | None, ended: Any = None) -> dict[str, dict]:
    """Each task's result, each submitted (``submit(name)`` -> its future) once its upstream tasks among
    ``tasks`` (in topological order) are done, so that it goes to whichever worker is free; a task whose
    upstream task failed is ``Aborted``, one whose future failed (its workers died, the cluster went away)
    ``Errored``. A task's result is ``run_task``'s, whose worker told ``progress``. A finished future is
    released at once: the scheduler recomputes a result it lost with a dead worker while a client holds
    its future, and a task's work is its side effects. ``ended(name, result)``, when given, is called with each
    finished future's result before the tasks depending on it are submitted (it may change the result)."""
    from distributed import as_completed

    results: dict[str, dict] = {}
    waiting = list(tasks)
    running: dict[Any, tuple[str, Any]] = {}
    queue = as_completed(loop=client.loop)

    def release() -> None:
        for name in list(waiting):
            needs = [up for up in upstream[name] if up in tasks]
            if any(results.get(up, {}).get("status") in ("Errored", "Aborted") for up in needs):
                results[name] = {"task": name, "status": "Aborted", "seconds": 0.0, "details": ""}
            elif all(results.get(up, {}).get("status") in DONE for up in needs):
                future = submit(name)
                running[future.key] = (name, future)
                queue.add(future)
            else:
                continue
            waiting.remove(name)

    release()
    try:
        for future in queue:
            name = running.pop(future.key)[0]
            if future.status == "finished":
                results[name] = future.result()
                future.release()  # else a worker's death would have the scheduler run the task again for it
                if ended is not None:
                    ended(name, results[name])
            else:
                results[name] = {"task": name, "status": "Errored", "seconds": 0.0,
                                 "details": failure_text(name, future)}
                if progress is not None:
                    progress.finished(name, "Errored", 0.0)
            release()
    finally:
        client.cancel([future for _, future in running.values() if not future.done()])
    return results


def announce(progress: dag_module.Progress, event: Mapping[str, Any], ends: bool = True) -> None:
    """Tell ``progress`` of a worker's event: a task started (``{"task"}``) or, with ``ends``, ended (with
    ``status``, ``seconds``)."""
    if "status" not in event:
        progress.started(event["task"])
    elif ends:
        progress.finished(event["task"], event["status"], event["seconds"])


def seed_bucket(dag: Any, project: Path, settings: Mapping[str, Any], outdated: set[str]) -> list[str]:
    """Put into the products' bucket the files of the tasks this build keeps (up to date here) that a task it
    runs depends on, so that the workers find them there; return their keys. Raises
    :class:`~nbprod.pipeline.product_store.StoreError` naming a file the bucket refused (nothing has run)."""
    from nbprod.pipeline import product_store

    upstream = upstream_tasks(dag)
    needed = {up for name in outdated for up in ancestors(upstream, name)} - outdated
    return product_store.put(settings["engine"]["products_url"], product_store.roots(settings, project),
                             files_of(dag, sorted(needed)))


def fetch_task(dag: Any, project: Path, settings: Mapping[str, Any], name: str, result: dict,
               progress: dag_module.Progress | None) -> None:
    """A task ended on a worker that put its files in the products' bucket: fetch them into the project (its
    products and executed notebook, where a local build writes them) and record it built with this build's
    params, then tell ``progress``. A file that cannot be fetched makes the task ``Errored``, naming it."""
    from nbprod.pipeline import product_store

    if result["status"] == "Executed":
        try:
            product_store.fetch(settings["engine"]["products_url"], product_store.roots(settings, project),
                                files_of(dag, [name]))
            dag_module.record_built(dag, name)
        except product_store.StoreError as error:
            result.update(status="Errored", details=f"task {name!r} ran, but its products did not come back: {error}")
    if progress is not None:
        progress.finished(name, result["status"], result["seconds"])


def upstream_tasks(dag: Any) -> dict[str, list[str]]:
    """Each task's upstream task names."""
    upstream: dict[str, list[str]] = {name: [] for name in dag_module.task_names(dag)}
    for up, name in dag_module.edges(dag):
        upstream[name].append(up)
    return upstream


def failure_text(name: str, future: Any) -> str:
    """A failed future's error as one line naming the task."""
    from distributed import KilledWorker

    error = future.exception()
    if isinstance(error, KilledWorker):
        return (f"KilledWorker: the workers running task {name!r} died each time it ran"
                f" (distributed.scheduler.allowed-failures): {error}")
    return f"{type(error).__name__}: task {name!r} did not finish on the cluster: {error}"


def run_task(project: str, settings: dict, name: str, environ: dict, topic: str) -> dict:
    """Build task ``name`` on this worker; return its result (``task``, ``status``, ``seconds``, ``worker``,
    ``products``: path -> sha256, ``details`` when it failed). The build hears on ``topic`` when the task
    starts and ends."""
    from distributed import get_worker

    from nbprod.pipeline.build import release_cached_memory

    worker = get_worker()
    worker.log_event(topic, {"task": name})
    started = time.perf_counter()
    result = {"task": name, "worker": worker.address}
    scratch = os.path.abspath(worker.local_directory)  # before the working folder becomes the project
    with task_environment({**environ, WORKER_ENV: worker.address}, Path(project)), \
            own_folders(settings, scratch) as task_settings:
        discard_earlier_attempts(environ, name)
        dag = dag_module.load_dag(Path(project), task_settings)
        try:
            if exchange(dag, task_settings, name, upstream=True):
                dag = dag_module.load_dag(Path(project), task_settings)  # Ploomber sees upstream files as it loads
            result.update(status=build_one(dag, name), products=digests(dag_module.product_paths(dag[name].product)))
            exchange(dag, task_settings, name, upstream=False)
        except dag_module.BuildFailed as failure:
            result.update(status="Errored", details=failure_details(failure))
    release_cached_memory()  # the worker lives on: what a function task freed goes back to the system
    result["seconds"] = time.perf_counter() - started
    worker.log_event(topic, {"task": name, "status": result["status"], "seconds": result["seconds"]})
    return result


@contextmanager
def own_folders(settings: dict, scratch: str) -> Iterator[dict]:
    """``settings`` as they are, or, with ``engine.products_url``, with the products and reports in a new folder
    under ``scratch`` (the worker's), deleted at the end of the block."""
    import tempfile

    if settings["engine"].get("products_url") is None:
        yield settings
        return
    from nbprod.pipeline import product_store

    with tempfile.TemporaryDirectory(prefix="nbprod-task-", dir=scratch) as folder:
        yield product_store.worker_settings(settings, Path(folder))


def exchange(dag: Any, settings: Mapping[str, Any], name: str, upstream: bool) -> list:
    """With ``engine.products_url``: fetch the files of all task ``name``'s upstream tasks, direct or not, from
    the bucket (``upstream``: Ploomber counts a task up to date only when its own upstream products are there
    too), or put the task's own there; return the files fetched or the keys put (none without a bucket).
    Raises :class:`~nbprod.pipeline.dag.BuildFailed` naming the file when the bucket fails."""
    url = settings["engine"].get("products_url")
    if url is None:
        return []
    from nbprod.pipeline import product_store

    folders = product_store.roots(settings, Path.cwd())  # absolute already: the worker's own folder
    names = sorted(ancestors(upstream_tasks(dag), name)) if upstream else [name]
    try:
        return (product_store.fetch if upstream else product_store.put)(url, folders, files_of(dag, names))
    except product_store.StoreError as error:
        raise dag_module.BuildFailed({name: "Errored"}, f"task {name!r}: {error}") from error


def files_of(dag: Any, names: list[str]) -> list[Path]:
    """The files the tasks ``names`` write (:func:`nbprod.pipeline.product_store.task_files`), in that order."""
    from nbprod.pipeline import product_store

    return [path for name in names for path in product_store.task_files(dag_module.product_paths(dag[name].product))]


def ancestors(upstream: Mapping[str, list[str]], name: str) -> set[str]:
    """The tasks task ``name`` depends on, directly or through others (``upstream``: :func:`upstream_tasks`)."""
    found: set[str] = set()
    waiting = list(upstream[name])
    while waiting:
        task = waiting.pop()
        if task not in found:
            found.add(task)
            waiting.extend(upstream[task])
    return found


def failure_details(failure: dag_module.BuildFailed) -> str:
    """A failed task's report with the traceback of what failed (a notebook's: its cell's error), as a local
    build's report has it."""
    import traceback

    cause = failure.__context__  # Ploomber's TaskBuildError, raised from the task's own error
    return failure.details if cause is None else "".join(traceback.format_exception(cause))


def build_one(dag: Any, name: str) -> str:
    """Build one task as a local build does: papermill through nbprod's engine (encrypted kernel transport)."""
    from nbprod.pipeline import kernels

    with kernels.warm_kernels([]):
        return dag_module.build_task(dag, name)


@contextmanager
def task_environment(environ: Mapping[str, str], project: Path) -> Iterator[None]:
    """Within the block, this worker process has the build's environment, works in ``project`` and MLflow
    points at the build's store and experiment (a worker outlives builds: nothing of an earlier one stays)."""
    import mlflow

    from nbprod import tracking

    saved = {key: os.environ.get(key) for key in environ}
    folder = os.getcwd()
    os.environ.update(environ)
    os.chdir(project)
    try:
        tracking.set_uri(environ[tracking.URI_ENV])
        with tracking.preserved_environment(tracking.URI_ENV, tracking.EXPERIMENT_ENV):
            mlflow.set_experiment(experiment_id=environ[tracking.EXPERIMENT_ENV])
        yield
    finally:
        os.chdir(folder)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def discard_earlier_attempts(environ: Mapping[str, str], name: str) -> list[str]:
    """Delete the MLflow runs an earlier attempt at task ``name`` left in this build (a worker that died
    mid-task), with the runs nested under them; return their ids. A build then has one child run per task."""
    from nbprod import tracking
    from nbprod.tracking import tags as names

    client = tracking.client_for(environ[tracking.URI_ENV])
    experiment = [environ[tracking.EXPERIMENT_ENV]]
    query = f"{names.equals(names.PARENT, environ[tracking.PARENT_ENV])} and {names.equals(names.TASK, name)}"
    deleted = []
    for run in client.search_runs(experiment, query):
        nested = client.search_runs(experiment, f"tags.mlflow.parentRunId = '{run.info.run_id}'")
        for stale in [*nested, run]:
            client.delete_run(stale.info.run_id)
            deleted.append(stale.info.run_id)
    return deleted


def digests(paths: str | Mapping[str, str]) -> dict[str, str]:
    """The sha256 of each product file (a product that is a folder, or absent, is left out)."""
    found = {}
    for path in paths.values() if isinstance(paths, Mapping) else [paths]:
        if Path(path).is_file():
            found[path] = file_digest(Path(path))
    return found


def file_digest(path: Path) -> str:
    """The sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def score_partitions(client: Any, tracking_uri: str, name: str, version: str, inputs: list[Path], output: Path,
                     chunk_rows: int) -> list[Any]:
    """Score each file of a partitioned dataset on a worker: ``output/<its name>``, rejects beside it
    (:func:`nbprod.serving.batch.default_rejects`); return the :class:`~nbprod.serving.batch.ScoreSummary`
    of each, in the order of ``inputs``. Each worker loads the model version once, from the store."""
    futures = [client.submit(score_partition, tracking_uri, name, version, str(path), str(output / path.name),
                             chunk_rows, key=f"nbprod-score-{uuid.uuid4().hex}-{path.name}", pure=False)
               for path in inputs]
    try:
        return client.gather(futures)
    finally:
        client.cancel([future for future in futures if not future.done()])


def score_partition(tracking_uri: str, name: str, version: str, path: str, output: str, chunk_rows: int) -> Any:
    """Score one file on this worker (:func:`nbprod.serving.batch.score_file`)."""
    from nbprod.serving.batch import score_file

    return score_file(loaded_model(tracking_uri, name, version), Path(path), Path(output), None, chunk_rows)


_MODELS: dict[tuple[str, str, str], Any] = {}


def loaded_model(tracking_uri: str, name: str, version: str) -> Any:
    """Model version ``version`` of ``name`` from the store, loaded once per worker process."""
    from nbprod.serving.model_source import load_version

    key = (tracking_uri, name, version)
    if key not in _MODELS:
        _MODELS[key] = load_version(tracking_uri, name, version)
    return _MODELS[key]


def fit_in_build(models: list[Any], X: Any, y: Any) -> list[Any] | None:
    """``models`` fitted on the cluster when this runs in a task of a build on one (:func:`fit_on_cluster`),
    else None."""
    if not os.environ.get(SCHEDULER_ENV):
        return None
    return fit_on_cluster(os.environ[SCHEDULER_ENV], os.environ.get(WORKER_ENV), models, X, y)


def fit_on_cluster(scheduler: str, worker: str | None, models: list[Any], X: Any, y: Any) -> list[Any] | None:
    """``models`` fitted on ``X``, ``y``, one future each on the workers of the cluster at ``scheduler`` but
    ``worker`` (the one running this task, whose only thread waits for them); None when there is no other,
    or when the others went away or cannot take the data (the caller then fits them itself)."""
    from distributed import Client

    with Client(scheduler, timeout=CONNECT_SECONDS, set_as_default=False) as client:
        others = [address for address in client.scheduler_info()["workers"] if address != worker]
        if not others:
            return None
        futures: list[Any] = []
        try:
            data = client.scatter([X, y], workers=others, broadcast=True)
            token = uuid.uuid4().hex
            futures = [client.submit(fit_model, model, *data, key=f"nbprod-fit-{token}-{index}", workers=others,
                                     pure=False) for index, model in enumerate(models)]
            while not finished(futures):
                if not set(others) & set(client.scheduler_info()["workers"]):
                    return None  # they died: nobody else may take these fits
            return client.gather(futures)
        except Exception:  # noqa: BLE001 - a fit's own error comes back when the caller fits it again
            return None
        finally:
            client.cancel([future for future in futures if not future.done()])


def finished(futures: list[Any]) -> bool:
    """Whether ``futures`` are all done, or are within :data:`CONNECT_SECONDS`."""
    deadline = time.monotonic() + CONNECT_SECONDS
    while not all(future.done() for future in futures):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def fit_model(model: Any, X: Any, y: Any) -> Any:
    """``model.fit(X, y)``: one candidate on a worker."""
    return model.fit(X, y)
