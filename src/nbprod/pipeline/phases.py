"""Where a build's time goes: seconds per phase, a debug breakdown for ``benchmarks/bench_pipeline.py``.

A build fills one :class:`Phases` (``BuildResult.phases``): setting up tracking, loading the DAG,
fingerprints, waiting for kernels, executing notebooks, the other task work, exporting HTML, logging
artifacts, the manifest. Phases that overlap (the HTML export runs beside the next task) are timed
where they run, so their sum can exceed the build's wall time.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Iterator

#: The phases a build reports, in order (every one present, zero when it did not happen).
NAMES = ("tracking_setup", "dag_load", "fingerprints", "kernel_wait", "notebook_execution", "other_task_work",
         "html_export", "artifact_logging", "manifest")


class Phases:
    """Seconds per named phase, added to from any thread."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = defaultdict(float)
        self._lock = threading.Lock()

    def add(self, name: str, seconds: float) -> None:
        """Count ``seconds`` more in phase ``name``."""
        with self._lock:
            self._seconds[name] += seconds

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Count the block's wall time in phase ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def seconds(self, name: str) -> float:
        """Seconds counted so far in ``name``."""
        with self._lock:
            return self._seconds.get(name, 0.0)

    def as_dict(self) -> dict[str, float]:
        """Every phase of :data:`NAMES` (and any other counted), in seconds rounded to 0.01."""
        with self._lock:
            counted = dict(self._seconds)
        return {name: round(counted.get(name, 0.0), 2) for name in [*NAMES, *sorted(set(counted) - set(NAMES))]}
