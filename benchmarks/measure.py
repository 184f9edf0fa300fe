"""What the benchmarks share: the wall time, CPU time and peak memory of a command's process tree, and the
machine they ran on.

Peak memory is the largest sum of RSS over a process and all its children (kernels, subprocesses, workers),
sampled every 0.1 s with psutil. A command that prints nbprod's build progress (``HH:MM:SS  task  started``)
also gets the peak of each task (:func:`timed` with ``tasks=True``): the tree's peak while that task ran.
"""

from __future__ import annotations

import os
import platform
import re
import resource
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

import psutil

#: A line of ``nbprod build``'s progress: ``12:00:01  train      started`` / ``... done in 30.2 s``.
PROGRESS = re.compile(r"^\d\d:\d\d:\d\d\s+(\S+)\s+(started|done|failed|skipped)\b")


def tree_rss(process: psutil.Process) -> int:
    """RSS of a process and all its children, in bytes."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            pass
    return total


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's waited-for children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages (on 2 cores, above ~2 means other work competes for the CPUs)."""
    return [round(value, 2) for value in os.getloadavg()]


def machine() -> dict[str, object]:
    """The machine a benchmark runs on: CPUs, memory, Python, platform."""
    return {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "platform": platform.platform()}


class PeakSampler:
    """Samples, every ``interval`` seconds until stopped, the tree RSS of ``process`` (its peak, and its
    peak while each task named by :meth:`current` ran) and of the largest single process in the tree."""

    def __init__(self, process: psutil.Process, interval: float = 0.1) -> None:
        self.process, self.interval = process, interval
        self.peak, self.largest_process = 0, 0
        self.by_task: dict[str, int] = {}
        self.current: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "PeakSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                members = [self.process, *self.process.children(recursive=True)]
            except psutil.Error:
                members = []
            sizes = []
            for member in members:
                try:
                    sizes.append(member.memory_info().rss)
                except psutil.Error:
                    pass
            total = sum(sizes)
            self.peak = max(self.peak, total)
            self.largest_process = max([self.largest_process, *sizes])
            if self.current is not None:
                self.by_task[self.current] = max(self.by_task.get(self.current, 0), total)
            self._stop.wait(self.interval)

    def figures(self) -> dict[str, object]:
        """Peaks in MB: the tree's, the largest single process's, and per task (when any was named)."""
        figures: dict[str, object] = {"peak_rss_mb": mb(self.peak), "largest_process_rss_mb": mb(self.largest_process)}
        if self.by_task:
            figures["task_peak_rss_mb"] = {task: mb(value) for task, value in self.by_task.items()}
        return figures


def mb(size: int) -> float:
    """Bytes in MB, one decimal."""
    return round(size / 2**20, 1)


def timed(command: list[str], cwd: Path, env: dict[str, str], tasks: bool = False,
          echo: Callable[[str], None] | None = None) -> dict[str, object]:
    """Run ``command``; return wall seconds, CPU seconds, the peak RSS of its process tree (MB), and the load
    average at start and end.

    ``tasks``: read nbprod's build progress from its output and report each task's peak too; ``echo``:
    called with each line of its output (progress of a long run).
    """
    started, cpu, load = time.perf_counter(), children_cpu(), load_average()
    piped = tasks or echo is not None
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE if piped else subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    errors: list[str] = []
    reader = threading.Thread(target=lambda: errors.append(process.stderr.read()), daemon=True)
    reader.start()
    with PeakSampler(psutil.Process(process.pid)) as sampler:
        for line in process.stdout if piped else ():
            if echo is not None:
                echo(line.rstrip())
            match = PROGRESS.match(line)
            if tasks and match:
                sampler.current = match.group(1) if match.group(2) == "started" else None
        process.wait()
    reader.join()
    if process.returncode:
        raise RuntimeError(f"{command} failed:\n{''.join(errors)[-3000:]}")
    return {"seconds": round(time.perf_counter() - started, 2), "cpu_seconds": round(children_cpu() - cpu, 2),
            **sampler.figures(), "load_average_start": load, "load_average_end": load_average()}
