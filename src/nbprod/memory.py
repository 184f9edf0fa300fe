"""Giving freed memory back to the system: between notebooks in a reused kernel, and between the steps of a
large fit."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


def release_memory(collect: bool = True) -> None:
    """Give what was freed back to the system, so the next step does not start on top of it: Python's garbage
    (``collect``: a full collection, about 0.3 s in a process holding pandas, scikit-learn and MLflow), Arrow's
    memory pool (mimalloc keeps the buffers a Parquet read freed: a 0.8 GB frame read and deleted left 1.5 GB
    resident until released) and glibc's free lists (``malloc_trim``, where the C library is glibc: at 10x the
    default data, the training rows' features read, 0.3 GB of freed heap stayed resident without it)."""
    import ctypes
    import sys

    if collect:
        gc.collect()
    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: its allocator returns memory by itself


@contextmanager
def loading() -> Iterator[None]:
    """No cyclic garbage collection within the block, and what is alive at its end frozen (``gc.freeze``) until
    :func:`thaw`: for a block that makes what the process keeps, importing modules or loading a DAG.

    Each full collection in such a block walks a heap growing to hundreds of thousands of objects and finds
    almost nothing to free: 0.9 s of a build's start. Frozen, those objects are walked by no later collection
    either (a build's process spent 1.8 s in collections in all, without).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def thaw() -> None:
    """Put what :func:`loading` froze back under garbage collection (an in-process caller gets back the process
    it had)."""
    gc.unfreeze()
