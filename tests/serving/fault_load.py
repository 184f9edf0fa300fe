"""Load under faults: clients posting to a real server, and the count of answered rows missing from the log.

Used by ``tests/serving/test_faults.py`` and ``benchmarks/bench_faults.py``. A row is *acknowledged*
when its request was answered 200; the service's own request id (the ``request_id`` of the
response body, the key of the log's rows) identifies it in the prediction log.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import http.client
import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator


class Load:
    """``clients`` threads, each on one keep-alive connection, posting ``rows`` records per request until stopped."""

    def __init__(self, url: str, records: list[dict], clients: int = 4, rows: int = 5) -> None:
        self.host, self.port = url.split("//", 1)[1].split(":")
        self.body = json.dumps((records * (rows // max(len(records), 1) + 1))[:rows]).encode()
        self.rows = rows
        self.clients = clients
        self.acknowledged: list[str] = []          # request ids answered 200
        self.statuses: collections.Counter = collections.Counter()
        self.kinds: collections.Counter = collections.Counter()  # error kinds of non-200 answers
        self.failures = 0                          # connection errors (the server went away)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def __enter__(self) -> "Load":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def wait_for(self, answered: int, seconds: float = 30.0) -> None:
        """Until ``answered`` requests were answered (any status) or ``seconds`` passed."""
        deadline = time.monotonic() + seconds
        while sum(self.statuses.values()) < answered and time.monotonic() < deadline and not self._stop.is_set():
            time.sleep(0.01)

    def wait_for_acknowledged(self, count: int, seconds: float = 30.0) -> None:
        """Until ``count`` requests were answered 200 or ``seconds`` passed."""
        deadline = time.monotonic() + seconds
        while len(self.acknowledged) < count and time.monotonic() < deadline and not self._stop.is_set():
            time.sleep(0.01)

    def _client(self) -> None:
        connection = http.client.HTTPConnection(self.host, int(self.port), timeout=30)
        headers = {"Content-Type": "application/json"}
        while not self._stop.is_set():
            try:
                connection.request("POST", "/predict", self.body, headers)
                response = connection.getresponse()
                payload = json.loads(response.read())
            except (OSError, http.client.HTTPException, ValueError):
                with self._lock:
                    self.failures += 1
                connection.close()
                if self._stop.wait(0.05):
                    return
                connection = http.client.HTTPConnection(self.host, int(self.port), timeout=30)
                continue
            with self._lock:
                self.statuses[response.status] += 1
                if response.status == 200:
                    self.acknowledged.append(payload["request_id"])
                else:
                    self.kinds[payload.get("error", {}).get("kind")] += 1
        connection.close()

    @property
    def acknowledged_rows(self) -> int:
        return len(self.acknowledged) * self.rows


def lost_rows(load: Load, folder: Path) -> int:
    """Acknowledged rows the prediction log in ``folder`` lacks."""
    from nbprod.serving.prediction_log import read_prediction_log

    logged = read_prediction_log(folder)["request_id"].value_counts().to_dict()
    return sum(max(0, load.rows - logged.get(request_id, 0)) for request_id in load.acknowledged)


@contextlib.contextmanager
def small_disk(path: Path, size_kb: int = 1024) -> Iterator[str | None]:
    """A tmpfs of ``size_kb`` KiB mounted at ``path`` when this process may mount one (root); yields
    ``"tmpfs"``, else None (``path`` then is a plain folder: the caller simulates a full disk otherwise)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(path)],
        capture_output=True).returncode == 0
    try:
        yield "tmpfs" if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(path: Path) -> Path:
    """Fill the file system of ``path`` with one file until ENOSPC; the file (delete it to free the disk)."""
    filler = path / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for size in (65536, 4096, 512):
            try:
                while True:
                    os.write(descriptor, b"\0" * size)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(descriptor)
    return filler
