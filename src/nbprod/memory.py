"""Giving freed memory back to the system: between notebooks in a reused kernel, and between the steps of a
large fit."""

from __future__ import annotations


def release_memory(collect: bool = True) -> None:
    """Give what was freed back to the system, so the next step does not start on top of it: Python's garbage
    (``collect``: a full collection, about 0.3 s in a process holding pandas, scikit-learn and MLflow), Arrow's
    memory pool (mimalloc keeps the buffers a Parquet read freed: a 0.8 GB frame read and deleted left 1.5 GB
    resident until released) and glibc's free lists (``malloc_trim``, where the C library is glibc: at 10x the
    default data, the training rows' features read, 0.3 GB of freed heap stayed resident without it)."""
    import ctypes
    import gc
    import sys

    if collect:
        gc.collect()
    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: its allocator returns memory by itself
