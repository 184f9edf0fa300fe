"""Project locks: one build per ``products`` folder, one monitoring decision at a time.

A lock is a file (its path from the catalog: :attr:`nbprod.project.Project.build_lock`,
:attr:`~nbprod.project.Project.monitor_lock`) holding a line about its holder -- pid,
host, start time, what it does -- under an exclusive ``flock``. The kernel releases the
``flock`` when the holder dies, however it dies (kill -9 included), so a lock left by a
dead process is taken over at once; the file's text only names the holder in the message
of who waits or is refused. Where ``fcntl`` does not exist the file is created
exclusively instead, and a file whose pid is not alive on this host is taken over.

    with hold(project.build_lock, "nbprod build"):      # refused at once when held
        ...
    with hold(project.monitor_lock, "nbprod monitor", wait=600):  # waits for the holder
        ...
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

#: How often a waiting process tries the lock again.
POLL_SECONDS = 0.05


class LockBusy(RuntimeError):
    """The lock is held by another live process (the message names it)."""


def holder(path: Path) -> dict[str, Any]:
    """What the lock file says about its (last) holder; empty when unreadable."""
    try:
        return json.loads(Path(path).read_text() or "{}")
    except (OSError, ValueError):
        return {}


def describe(info: dict[str, Any]) -> str:
    """``pid 123 on host, since 2026-..: nbprod build``, from :func:`holder`."""
    if not info:
        return "another process"
    return f"pid {info.get('pid')} on {info.get('host')}, since {info.get('since')}: {info.get('what')}"


def _pid_alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError, TypeError):
        return False
    except PermissionError:
        return True
    return True


def _stamp(what: str) -> str:
    return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "what": what,
                       "since": datetime.now(timezone.utc).isoformat(timespec="seconds")})


def _parse(text: bytes) -> dict[str, Any]:
    try:
        return json.loads(text.decode() or "{}")
    except ValueError:
        return {}


def _try_flock(path: Path, what: str) -> tuple[int, dict[str, Any]] | None:
    """The descriptor of ``path`` locked by this process and what the file said before, or None when another
    holds it."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    previous = _parse(os.pread(descriptor, 4096, 0))  # left by a holder that died without releasing
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, _stamp(what).encode(), 0)
    return descriptor, previous


def _try_exclusive(path: Path, what: str) -> tuple[int, dict[str, Any]] | None:  # pragma: no cover - not POSIX
    """Without ``fcntl``: create ``path`` exclusively; a file of a dead pid on this host is taken over."""
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        info = holder(path)
        if info.get("host") == socket.gethostname() and not _pid_alive(info.get("pid")):
            path.unlink(missing_ok=True)
            taken = _try_exclusive(path, what)
            return None if taken is None else (taken[0], info)
        return None
    os.write(descriptor, _stamp(what).encode())
    return descriptor, {}


@contextlib.contextmanager
def hold(path: str | os.PathLike, what: str, wait: float = 0.0) -> Iterator[dict[str, Any]]:
    """Hold the lock ``path`` while the block runs, as ``what`` (shown to others).

    ``wait``: seconds to wait for a holder to finish (0: refuse at once). Raises
    :class:`LockBusy` naming the holder when the lock stays taken. Yields what the
    file said about a previous holder that died holding it (taken over), else ``{}``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    attempt = _try_flock if fcntl is not None else _try_exclusive
    deadline = time.monotonic() + max(0.0, wait)
    while (taken := attempt(path, what)) is None:
        if time.monotonic() >= deadline:
            waited = f" (waited {wait:g} s)" if wait else ""
            raise LockBusy(f"{path} is held by {describe(holder(path))}{waited}")
        time.sleep(POLL_SECONDS)
    descriptor, previous = taken
    try:
        yield previous
    finally:
        if fcntl is None:  # pragma: no cover - not POSIX
            path.unlink(missing_ok=True)
        else:
            os.ftruncate(descriptor, 0)
        os.close(descriptor)
