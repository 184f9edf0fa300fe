"""Which modules a build's kernels import ahead (no kernel is started here: tests/pipeline/test_kernels.py)."""

from __future__ import annotations

from nbprod.pipeline import kernels


def test_kernels_preload_the_sql_store_only_for_a_database_tracking_uri():
    for uri in ("sqlite:////tmp/mlflow.db", "postgresql+psycopg2://mlflow@127.0.0.1/mlflow", "SQLITE:///x.db"):
        assert kernels.preload_modules(uri) == kernels.PRELOAD + kernels.SQL_STORE_PRELOAD
    for uri in ("http://127.0.0.1:5000", "file:///tmp/mlruns", "databricks"):
        assert kernels.preload_modules(uri) == kernels.PRELOAD


class Manager:
    """Stands for a kernel manager: records its shutdown."""

    def __init__(self) -> None:
        self.stopped = False

    async def shutdown_kernel(self, now: bool = False) -> None:
        self.stopped = True


def test_a_kernel_readied_after_its_taker_gave_up_is_shut_down_not_left_running():
    pool = kernels.KernelPool([], modules=())
    awaited, given_up = {}, {"abandoned": True}
    kept, late = Manager(), Manager()
    pool._deliver(awaited, kept)
    pool._deliver(given_up, late)
    assert awaited["manager"] is kept and not kept.stopped
    assert "manager" not in given_up and late.stopped
