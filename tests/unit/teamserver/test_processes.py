"""The supervision of the team server's processes: readiness, exits while starting, stop escalation."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import psutil
import pytest

from nbprod.teamserver import processes

IGNORES_SIGTERM = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                   "import subprocess, sys; subprocess.Popen([sys.executable, '-c', "
                   "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)']); "
                   "time.sleep(60)")


def _service(tmp_path: Path, code: str, ready=lambda: True) -> processes.Service:
    return processes.Service("toy", [sys.executable, "-c", code], tmp_path / "toy.log", ready)


def test_a_server_that_ignores_sigterm_is_killed_with_its_children(tmp_path):
    service = _service(tmp_path, IGNORES_SIGTERM)
    process = processes.start(service)
    time.sleep(1.0)  # its child is started
    family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    assert len(family) == 2
    began = time.monotonic()
    processes.stop(service, process, seconds=1.0)
    gone, alive = psutil.wait_procs(family, timeout=5)
    assert alive == [] and time.monotonic() - began < 5
    assert process.returncode == -signal.SIGKILL


def test_a_server_that_exits_while_starting_is_named_with_its_log(tmp_path):
    service = _service(tmp_path, "import sys; print('bad config'); sys.exit(3)", ready=lambda: False)
    process = processes.start(service)
    with pytest.raises(processes.ServiceError, match=r"toy exited with code 3 while starting.*toy\.log"):
        processes.wait_ready(service, process, seconds=10)
    assert "bad config" in service.log.read_text()


def test_a_silent_server_is_a_deadline_not_a_hang(tmp_path):
    service = _service(tmp_path, "import time; time.sleep(30)", ready=lambda: False)
    process = processes.start(service)
    try:
        with pytest.raises(processes.ServiceError, match="did not answer within 1 s"):
            processes.wait_ready(service, process, seconds=1.0)
    finally:
        processes.stop(service, process, seconds=1.0)
