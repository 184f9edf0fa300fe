"""Project locks (:mod:`nbprod.locks`): refused or waited for while held, taken over from a dead holder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from nbprod.locks import LockBusy, hold, holder


def test_a_held_lock_refuses_a_second_holder_naming_the_first(tmp_path):
    path = tmp_path / "sub" / ".build.lock"
    with hold(path, "nbprod build"):
        assert holder(path)["pid"] == os.getpid()
        with pytest.raises(LockBusy, match=rf"held by pid {os.getpid()} on .*: nbprod build"):
            with hold(path, "nbprod build"):
                pass
    with hold(path, "nbprod build") as previous:  # released: free again, nothing stale
        assert previous == {}


def test_a_waiting_holder_gets_the_lock_when_the_first_releases_it(tmp_path):
    path = tmp_path / ".monitor.lock"
    order = []
    with hold(path, "first"):
        def second():
            with hold(path, "second", wait=10):
                order.append("second")
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.2)
        order.append("first done")
    thread.join(10)
    assert order == ["first done", "second"]


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    path = tmp_path / ".build.lock"
    code = ("import sys, time; from nbprod.locks import hold\n"
            f"with hold({str(path)!r}, 'nbprod build'):\n    print('held', flush=True); time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    with pytest.raises(LockBusy, match=f"pid {child.pid}"):
        with hold(path, "nbprod build"):
            pass
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    with hold(path, "nbprod build") as previous:  # the kernel released the dead holder's lock
        assert previous["pid"] == child.pid and holder(path)["pid"] == os.getpid()
