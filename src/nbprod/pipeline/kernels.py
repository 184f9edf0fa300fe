"""Warm kernels for the notebook tasks of one build.

Each notebook task runs in a fresh Jupyter kernel, and starting one and importing
pandas, scikit-learn, MLflow and matplotlib takes seconds. During a build the next
kernel is started, and those libraries imported, in the background while the current
task runs; the notebook then executes in it as papermill would in a new kernel (a
fresh process, an empty namespace, execution counts from 1, the same working folder
and environment). Any mismatch or failure falls back to papermill's own cold start.

A kernel whose notebook ran without error is used again for the next notebook of the same kernel
and folder (:func:`fresh_session`): its namespace, history and execution count, working folder,
environment, ``sys.path``, warning filters and matplotlib settings are put back as they were after
the preload, so that the libraries are imported (and MLflow's store opened) once per build rather
than once per notebook. This is done in the background while the build goes on, the next notebook waiting for
it. A notebook that failed, or left an MLflow run open, has its kernel shut down.

A build's first kernel is started before its DAG is loaded (:meth:`KernelPool.prestart`), beside Ploomber's
imports, with the build's environment as it then is; when its notebook comes, the kernel takes the environment
the build has by then (the MLflow parent run's: :func:`adopt_environment`), as a kernel started then would.

Papermill is reached through one seam: :func:`warm_kernels` makes :class:`WarmEngine`
papermill's default engine for the duration of a build and restores it afterwards.

Every kernel of a build talks to the build over CurveZMQ-encrypted TCP (:func:`kernel_manager_class`):
ipykernel prints "Kernel is running over TCP without encryption" at the start of each kernel that
does not, once per notebook.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from nbprod.memory import release_memory

log = logging.getLogger("nbprod.pipeline")

#: Modules imported in a warm kernel before the notebook runs (what the pipeline notebooks import).
PRELOAD = ("numpy", "pandas", "pyarrow.parquet", "scipy.stats", "matplotlib.pyplot", "sklearn.ensemble",
           "sklearn.linear_model", "sklearn.inspection", "sklearn.metrics", "mlflow", "mlflow.sklearn",
           "IPython.display", "nbprod.notebook", "nbprod.plots.pipeline", "nbprod.tracking")

#: Modules a kernel also imports when the build tracks to a database (SQLite, PostgreSQL...): MLflow's SQL
#: store, which the first notebook's run would otherwise import (a second of its time).
SQL_STORE_PRELOAD = ("mlflow.store.tracking.sqlalchemy_store",)

#: Tracking URI schemes of MLflow's SQL store (``sqlite:///...``, ``postgresql+psycopg2://...``).
SQL_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")


def preload_modules(tracking_uri: str) -> tuple[str, ...]:
    """What a build's kernels import before their notebooks: :data:`PRELOAD`, and :data:`SQL_STORE_PRELOAD` for a
    database ``tracking_uri``."""
    scheme = tracking_uri.split(":", 1)[0].split("+", 1)[0].lower()
    return PRELOAD + (SQL_STORE_PRELOAD if scheme in SQL_SCHEMES else ())


#: Seconds a kernel may take to start and import :data:`PRELOAD`.
START_TIMEOUT = 120


def preload_code(modules: Sequence[str]) -> str:
    """Code importing ``modules`` that leaves the user namespace as it found it, then remembering the
    kernel's state for :func:`fresh_session`."""
    return (f"for _nbprod_module in {tuple(modules)!r}:\n    __import__(_nbprod_module)\ndel _nbprod_module\n"
            "__import__('nbprod.pipeline.kernels').pipeline.kernels.remember_session()\n")


#: Code run in a kernel between two notebooks (see :func:`fresh_session`).
RECYCLE_CODE = "__import__('nbprod.pipeline.kernels').pipeline.kernels.fresh_session()\n"


def adopt_code(environ: dict[str, str]) -> str:
    """Code giving a kernel ``environ`` (see :func:`adopt_environment`); the environment travels as a JSON
    string literal, data that is never evaluated."""
    return f"__import__('nbprod.pipeline.kernels').pipeline.kernels.adopt_environment({json.dumps(environ)!r})\n"


#: Names IPython's reset keeps in the namespace.
KEPT_NAMES = frozenset({"__builtin__", "__builtins__", "__name__"})

#: Names of IPython's output cache: the last three results and each numbered one.
OUTPUT_NAME = re.compile(r"_\d*|__|___")

#: The kernel's state after the preload, kept in the kernel by :func:`remember_session`.
_SESSION: dict[str, Any] = {}


def remember_session() -> None:
    """In a kernel, after the preload: remember what a notebook may change and :func:`fresh_session` restores.

    The preloaded libraries are then frozen out of garbage collection (``gc.freeze``, after a last full
    collection): kept for the kernel's life, they are walked by none of the notebooks' collections, nor by the one
    making the kernel fresh between two notebooks (0.2 s each without). The 10x build's peak stays where it was
    (``train``: 2,364 and 2,350 MB frozen, 2,347 MB not; ``reports/benchmarks/scale.json``).
    """
    import gc
    import sys
    import warnings

    _SESSION.update(cwd=os.getcwd(), environ=dict(os.environ), path=list(sys.path),
                    filters=list(warnings.filters))
    if "matplotlib" in sys.modules:
        _SESSION["rc"] = dict(sys.modules["matplotlib"].rcParams)
    gc.collect()
    gc.freeze()


def adopt_environment(encoded: str) -> None:
    """In a kernel started before its build's environment was final: make ``encoded`` (JSON) its environment,
    now and for :func:`fresh_session`."""
    os.environ.clear()
    os.environ.update(json.loads(encoded))
    _SESSION["environ"] = dict(os.environ)


def fresh_session() -> None:
    """In a kernel between two notebooks: an empty namespace, history and execution count from 1, and the
    working folder, environment, ``sys.path``, warning filters (each warning shown again) and matplotlib
    settings of :func:`remember_session`.

    Raises RuntimeError when the kernel cannot be used again: nothing remembered, or an MLflow run left open.
    """
    import gc
    import sys
    import warnings

    from IPython import get_ipython

    if not _SESSION:
        raise RuntimeError("no session remembered: not a warm kernel")
    if "mlflow" in sys.modules and sys.modules["mlflow"].active_run() is not None:
        raise RuntimeError("an MLflow run is still open")
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
    shell = get_ipython()
    _drop_user_names(shell)
    full_collections = gc.get_stats()[-1]["collections"]
    shell.reset(new_session=True)  # IPython's reset collects garbage once it has dropped the output cache
    os.chdir(_SESSION["cwd"])
    os.environ.clear()
    os.environ.update(_SESSION["environ"])
    sys.path[:] = _SESSION["path"]
    warnings.filters[:] = _SESSION["filters"]
    warnings._filters_mutated()  # every module's record of warnings already shown is cleared
    warnings.onceregistry.clear()
    if "rc" in _SESSION:
        dict.update(sys.modules["matplotlib"].rcParams, _SESSION["rc"])
    release_memory(collect=gc.get_stats()[-1]["collections"] == full_collections)


def _drop_user_names(shell: Any) -> None:
    """Delete the names a notebook made from ``shell``'s namespace, and the output cache's (``_``, ``_3``: hidden
    names, which IPython's reset drops only after its collection), before the reset: the full collection the
    reset makes then frees the notebook's garbage, and :func:`fresh_session` need not walk the kernel's heap a
    second time."""
    for name in list(shell.user_ns):
        if OUTPUT_NAME.fullmatch(name) or (name not in shell.user_ns_hidden and name not in KEPT_NAMES):
            del shell.user_ns[name]
            shell.user_ns_hidden.pop(name, None)


@functools.cache
def kernel_manager_class() -> type:
    """jupyter_client's ``AsyncKernelManager`` provisioning CurveZMQ keys for the kernels that declare support.

    ipykernel logs a warning at start-up when its TCP transport is not encrypted; with the keys
    it is, and says nothing. (jupyter_client's default is ``transport_encryption="disabled"``;
    without CurveZMQ in pyzmq it stays so, and the warning with it.)
    """
    import zmq
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class EncryptedKernelManager(AsyncKernelManager):
        """A kernel manager whose kernels talk over encrypted TCP when both sides can."""

        @default("transport_encryption")
        def _transport_encryption_default(self) -> str:
            return "auto" if zmq.has("curve") else "disabled"

    return EncryptedKernelManager


def start_kernel(kernel_name: str, cwd: str, modules: Sequence[str], environ: dict[str, str]) -> Any:
    """Start a kernel in ``cwd`` with ``environ`` and import ``modules`` silently."""
    from jupyter_client.utils import run_sync

    manager = kernel_manager_class()(kernel_name=kernel_name)
    run_sync(manager.start_kernel)(cwd=cwd, env=environ)
    client = manager.blocking_client()
    try:
        client.start_channels()
        client.wait_for_ready(timeout=START_TIMEOUT)
        reply = client.execute_interactive(preload_code(modules), silent=True, store_history=False,
                                           timeout=START_TIMEOUT)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"preloading failed: {reply['content'].get('ename')}: {reply['content'].get('evalue')}")
    except BaseException:
        client.stop_channels()
        shutdown(manager)
        raise
    client.stop_channels()
    return manager


def recycle(manager: Any, code: str = RECYCLE_CODE) -> bool:
    """Make a kernel that ran a notebook fit for the next one (:func:`fresh_session`; or run another ``code``
    preparing it, as :func:`adopt_code`'s); False, and the kernel shut down, when it is not."""
    client = manager.blocking_client()
    try:
        client.start_channels()
        reply = client.execute_interactive(code, silent=True, store_history=False, timeout=START_TIMEOUT)
        if reply["content"]["status"] == "ok":
            return True
        log.debug("kernel not reused: %s", reply["content"].get("evalue"))
    except Exception:  # noqa: BLE001 - a kernel that cannot say is not reused
        log.debug("kernel not reused", exc_info=True)
    finally:
        client.stop_channels()
    shutdown(manager)
    return False


def shutdown(manager: Any) -> None:
    """Stop a kernel at once; never raises."""
    from jupyter_client.utils import run_sync

    try:
        run_sync(manager.shutdown_kernel)(now=True)
    except Exception:  # already gone
        log.debug("kernel shutdown failed", exc_info=True)


class KernelPool:
    """At most one kernel warming in the background, or kept from the last notebook, for the next
    notebook expected to run.

    ``expected`` lists ``(kernel_name, cwd)`` of the notebooks the build will run, in order.
    """

    def __init__(self, expected: Sequence[tuple[str, str]], modules: Sequence[str] = PRELOAD,
                 phases: Any = None) -> None:
        self.expected = list(expected)
        self.phases = phases  # a :class:`~nbprod.pipeline.phases.Phases` hearing of kernel waits and executions
        self.modules = tuple(modules)
        self.lock = threading.Lock()
        self.warming: tuple[tuple[str, str], threading.Thread, dict] | None = None
        self.running: list[tuple[str, str]] = []  # kernels handed out, to be given back
        self.closed = False

    def __enter__(self) -> "KernelPool":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start_next(self) -> None:
        """Start warming a kernel for the next expected notebook, if any and none is warming or running
        for the same kernel and folder (that one is reused: :meth:`give_back`)."""
        with self.lock:
            if self.closed or self.warming is not None or not self.expected or self.expected[0] in self.running:
                return
            self._start(self.expected[0], dict(os.environ))

    def prestart(self, key: tuple[str, str] | None, environ: dict[str, str]) -> None:
        """Start warming a kernel for ``key`` (``(kernel name, folder)``, None: nothing) with ``environ``, before the
        notebooks to expect are known (:meth:`expect`)."""
        with self.lock:
            if key is not None and not self.closed and self.warming is None:
                self._start(key, environ)

    def expect(self, expected: Sequence[tuple[str, str]]) -> None:
        """The notebooks to expect from now on (as ``expected`` of the constructor); warm for the first."""
        with self.lock:
            self.expected = list(expected)
        self.start_next()

    def _start(self, key: tuple[str, str], environ: dict[str, str], kept: Any = None) -> None:
        """Ready a kernel for ``key`` in a thread of its own, :meth:`take` waiting for it: warm a new one, or make
        ``kept`` (a kernel that ran a notebook) fresh (:meth:`_refresh`) while the build goes on (the caller
        holds the lock)."""
        box: dict = {"environ": environ}
        target, name = ((self._warm, "nbprod-kernel-warmer") if kept is None
                        else (functools.partial(self._refresh, kept), "nbprod-kernel-refresh"))
        thread = threading.Thread(target=target, args=(key, box), name=name, daemon=True)
        self.warming = (key, thread, box)
        thread.start()

    def _warm(self, key: tuple[str, str], box: dict) -> None:
        try:
            self._deliver(box, start_kernel(key[0], key[1], self.modules, box["environ"]))
        except BaseException as error:  # noqa: BLE001 - reported by take(); papermill cold-starts instead
            box["error"] = error

    def _refresh(self, manager: Any, key: tuple[str, str], box: dict) -> None:
        """Make a kept kernel fresh (:func:`recycle`); one that cannot be is shut down and a new one warmed in its
        place."""
        try:
            fresh = recycle(manager)
        except BaseException as error:  # noqa: BLE001 - reported by take(); papermill cold-starts instead
            shutdown(manager)
            box["error"] = error
            return
        if fresh:
            self._deliver(box, manager)
        elif not self.closed:
            self._warm(key, box)

    def _deliver(self, box: dict, manager: Any) -> None:
        """Put a kernel made ready in the background in its ``box``; shut it down when whoever was to take it
        gave up waiting (``box["abandoned"]``: :meth:`take`, :meth:`close`)."""
        with self.lock:
            abandoned = box.get("abandoned", False)
            if not abandoned:
                box["manager"] = manager
        if abandoned:
            shutdown(manager)

    def take(self, kernel_name: str, cwd: str) -> Any | None:
        """The warm kernel for this notebook, or None (cold start); starts warming the one after."""
        with self.lock:
            if self.expected and self.expected[0] == (kernel_name, cwd):
                self.expected.pop(0)
            warming, self.warming = self.warming, None
        manager, environ = None, dict(os.environ)
        if warming is not None:
            key, thread, box = warming
            thread.join(START_TIMEOUT)
            with self.lock:
                box["abandoned"] = thread.is_alive()  # a kernel it readies later, the thread shuts down itself
                manager = box.get("manager")
            if "error" in box:
                log.warning("warm kernel unavailable (%s); starting a new one", box["error"])
            if manager is not None and key != (kernel_name, cwd):
                shutdown(manager)
                manager = None
            if manager is not None and box.get("environ", environ) != environ \
                    and not recycle(manager, adopt_code(environ)):
                manager = None  # started before the build's environment was final, and could not take it
        if manager is not None:
            with self.lock:
                self.running.append((kernel_name, cwd))
        self.start_next()
        return manager

    def give_back(self, manager: Any, kernel_name: str, cwd: str, reusable: bool) -> None:
        """A kernel :meth:`take` handed out has run its notebook: keep it for the next notebook when that
        one runs in the same kernel and folder and ``reusable`` (the notebook ran without error) and
        the kernel can be made fresh (:func:`recycle`); else shut it down and warm another."""
        key = (kernel_name, cwd)
        with self.lock:
            self.running.remove(key)
            if reusable and not self.closed and self.warming is None and self.expected[:1] == [key]:
                self._start(key, dict(os.environ), kept=manager)
                return
        shutdown(manager)
        self.start_next()

    def close(self) -> None:
        """Stop warming and shut down a kernel nobody took."""
        with self.lock:
            self.closed = True
            warming, self.warming = self.warming, None
        if warming is not None:
            warming[1].join(START_TIMEOUT)
            with self.lock:
                warming[2]["abandoned"] = True  # a kernel readied after all, the thread shuts down itself
                manager = warming[2].get("manager")
            if manager is not None:
                shutdown(manager)


_ACTIVE: KernelPool | None = None


def _engine_class() -> type:
    """:class:`WarmEngine`, defined on first use (papermill is imported only then)."""
    from papermill.engines import NBClientEngine

    class WarmEngine(NBClientEngine):
        """Papermill's nbclient engine, handed the build's warm kernel when there is one."""

        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, *args, **kwargs):
            pool, start, cwd = _ACTIVE, time.perf_counter(), os.path.realpath(os.getcwd())
            manager = pool.take(kernel_name, cwd) if pool is not None else None
            waited = time.perf_counter()
            try:
                if manager is None:  # a cold start: the kernel's start counts as execution
                    return super().execute_managed_notebook(nb_man, kernel_name, *args,
                                                            kernel_manager_class=kernel_manager_class(), **kwargs)
                reusable = False
                try:  # papermill's client takes an existing kernel as ``km`` and leaves it running
                    result = super().execute_managed_notebook(nb_man, kernel_name, *args, km=manager, **kwargs)
                    reusable = not nb_man.nb.metadata.get("papermill", {}).get("exception")
                    return result
                finally:
                    pool.give_back(manager, kernel_name, cwd, reusable)
            finally:
                if pool is not None and pool.phases is not None:
                    pool.phases.add("kernel_wait", waited - start)
                    pool.phases.add("notebook_execution", time.perf_counter() - waited)

    return WarmEngine


@contextmanager
def warm_kernels(expected: Sequence[tuple[str, str]], modules: Sequence[str] = PRELOAD,
                 phases: Any = None, pool: KernelPool | None = None) -> Iterator[KernelPool]:
    """Within the block, papermill runs notebooks in kernels warmed ahead (see the module docstring).

    ``expected``: ``(kernel name, working folder)`` of the notebooks to run, in order; ``phases``, when
    given (a :class:`~nbprod.pipeline.phases.Phases`), hears how long each notebook waited for its
    kernel (``kernel_wait``) and ran (``notebook_execution``). ``pool``: one made (and maybe
    :meth:`~KernelPool.prestart`-ed) before, with its own modules and phases; closed at the end all the same.
    """
    global _ACTIVE
    from papermill.engines import NBClientEngine, papermill_engines

    pool = pool if pool is not None else KernelPool([], modules, phases)
    previous = papermill_engines.get_engine(None)
    papermill_engines.register(None, _engine_class())
    _ACTIVE = pool
    pool.expect(expected)
    try:
        yield pool
    finally:
        _ACTIVE = None
        papermill_engines.register(None, previous if previous is not None else NBClientEngine)
        pool.close()
