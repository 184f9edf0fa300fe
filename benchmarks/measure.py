"""What the benchmarks share: the wall time, CPU time and peak memory of a command's process tree, and the
machine they ran on.

Peak memory is the largest sum of RSS over a process and all its children (kernels, subprocesses, workers),
sampled every 0.1 s with psutil: the figure the targets are checked on. Beside it, the largest sum of PSS
(proportional set size: a page shared by n processes counts 1/n in each, so pages that worker processes share,
such as a memory-mapped array, count once; Linux only, else 0), sampled every second (reading it costs far more
than RSS), and which processes held what at each peak. A command that prints nbprod's build progress (``HH:MM:SS  task  started``) also gets the peaks of
each task (:func:`timed` with ``tasks=True``): the tree's peaks while that task ran.
"""

from __future__ import annotations

import os
import platform
import re
import resource
import subprocess
import threading
import time
from dataclasses import dataclass
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


@dataclass
class Sample:
    """One look at a process tree: each live member's RSS and PSS in bytes (PSS None where not read)."""

    members: list[tuple[str, int, int | None]]

    @property
    def rss(self) -> int:
        """RSS summed over the members."""
        return sum(rss for _, rss, _ in self.members)

    @property
    def pss(self) -> int:
        """PSS summed over the members (0 when not read)."""
        return sum(pss or 0 for _, _, pss in self.members)

    def breakdown(self) -> list[dict[str, object]]:
        """Each member's RSS (and PSS when read) in MB, largest RSS first."""
        return [{"process": label, "rss_mb": mb(rss), **({"pss_mb": mb(pss)} if pss is not None else {})}
                for label, rss, pss in sorted(self.members, key=lambda member: -member[1])]


NO_SAMPLE = Sample([])


def label(member: psutil.Process) -> str:
    """A short name of a process of the tree: its pid and what it runs (kernel, loky worker, ...)."""
    command = " ".join(member.cmdline())
    kinds = {"ipykernel": "kernel", "loky": "loky worker", "nbprod": "nbprod", "dask": "dask"}
    kind = next((name for key, name in kinds.items() if key in command), member.name())
    return f"{member.pid} {kind}"


def look(process: psutil.Process, pss: bool) -> Sample:
    """RSS of ``process`` and its children, and their PSS when ``pss`` (those that end meanwhile are left out).

    PSS reads the kernel's page tables (``/proc/PID/smaps_rollup``): about 60 ms a 2 GB process, against
    microseconds for RSS.
    """
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.Error:
        members = []
    sizes: list[tuple[str, int, int | None]] = []
    for member in members:
        try:
            full = member.memory_full_info() if pss else member.memory_info()
            sizes.append((label(member), full.rss, getattr(full, "pss", None)))
        except psutil.Error:
            pass
    return Sample(sizes)


class PeakSampler:
    """Samples, every ``interval`` seconds until stopped, the tree RSS of ``process``, and every ``pss_every``-th
    time its PSS too: their peaks, their peaks while each task named by :meth:`current` ran, the processes at
    each peak, and the RSS of the largest single process in the tree."""

    def __init__(self, process: psutil.Process, interval: float = 0.1, pss_every: int = 10) -> None:
        self.process, self.interval, self.pss_every = process, interval, pss_every
        self.largest_process = 0
        self.peaks: dict[tuple[str | None, str], Sample] = {}  # (task or None for all, "rss" | "pss")
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
        count = 0
        while not self._stop.is_set():
            task = self.current
            self._record(look(self.process, count % self.pss_every == 0), task)
            count += 1
            self._stop.wait(self.interval)

    def _record(self, sample: Sample, task: str | None) -> None:
        """Keep ``sample`` where it is a peak."""
        self.largest_process = max([self.largest_process, *(rss for _, rss, _ in sample.members)])
        for scope in {None, task}:
            if sample.rss > self.peaks.get((scope, "rss"), NO_SAMPLE).rss:
                self.peaks[(scope, "rss")] = sample
            if sample.pss > self.peaks.get((scope, "pss"), NO_SAMPLE).pss:
                self.peaks[(scope, "pss")] = sample

    def figures(self) -> dict[str, object]:
        """Peaks in MB: the tree's RSS and PSS, the largest single process's RSS, the processes at each peak,
        and per task (when any was named) the same."""
        figures = {**self._peaks(None), "largest_process_rss_mb": mb(self.largest_process)}
        tasks = list(dict.fromkeys(task for task, _ in self.peaks if task is not None))
        if tasks:
            by_task = {task: self._peaks(task) for task in tasks}
            for key in ("peak_rss_mb", "peak_pss_mb", "processes_at_rss_peak", "processes_at_pss_peak"):
                figures[f"task_{key}"] = {task: peaks[key] for task, peaks in by_task.items()}
        return figures

    def _peaks(self, scope: str | None) -> dict[str, object]:
        """The RSS and PSS peaks of ``scope`` (a task, or None: the whole run), with their processes."""
        rss, pss = self.peaks.get((scope, "rss"), NO_SAMPLE), self.peaks.get((scope, "pss"), NO_SAMPLE)
        return {"peak_rss_mb": mb(rss.rss), "peak_pss_mb": mb(pss.pss),
                "processes_at_rss_peak": rss.breakdown(), "processes_at_pss_peak": pss.breakdown()}


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
