"""Faults under load against a real ``nbprod serve`` process: kill -9, SIGTERM, a full disk.

Each test runs a few seconds of load (4 clients, 5 rows a request) and then counts the
*lost* rows: rows of requests answered 200 that the prediction log lacks (see
:mod:`fault_load`). The bounds are those of :mod:`nbprod.serving.prediction_log`: kill -9 loses
at most ``serve.log_max_rows`` rows; SIGTERM none; a full disk none with ``serve.log_policy=refuse``.

The full disk is a real tmpfs of 1 MiB filled up, when the test process may mount one (root);
otherwise the server runs through ``full_disk_server.py``, an OS-error injection (ENOSPC) at the
log's write call while a flag file exists. The test's output says which one ran.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from conftest import http
from fault_load import Load, fill, lost_rows, small_disk

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent


def test_kill_9_under_load_loses_at_most_the_log_bound(start_server, good_records):
    bound = 400
    server = start_server(args=("--set", f"serve.log_max_rows={bound}", "--set", "serve.log_flush_rows=1000000",
                                "--set", "serve.log_flush_seconds=0.5"))
    with Load(server.url, good_records) as load:
        load.wait_for(300)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(30)
    lost = lost_rows(load, server.log_folder)
    print(f"kill -9: {load.acknowledged_rows} rows answered, {lost} lost (bound {bound})")
    assert load.acknowledged_rows >= bound or load.kinds["log_full"]  # the load reached the bound
    assert lost <= bound


def test_a_full_disk_then_sigterm_under_load_lose_no_answered_prediction(start_server, good_records, tmp_path):
    """The disk fills: 503 ``log_full`` once 300 rows are held, none served unlogged; the disk frees: the held
    rows are written and requests answered again; SIGTERM under load (rows buffered for up to 2 s): the graceful
    shutdown writes them. Every answered row is in the log."""
    disk = tmp_path / "disk"
    with small_disk(disk) as kind:
        folder = tmp_path / "predictions"  # the server's output goes next to it: not on the full disk
        (disk / "predictions").mkdir(parents=True)
        folder.symlink_to(disk / "predictions")
        flag = tmp_path / "disk-full"
        if kind == "tmpfs":
            filler = fill(disk)
            entry = ("-m", "nbprod.serving")
        else:
            filler = flag
            filler.write_text("full")
            entry = (str(HERE / "full_disk_server.py"), str(flag))
        print(f"full disk simulated by: {kind or 'ENOSPC injected at the write call'}")
        server = start_server(log_folder=folder, entry=entry,
                              args=("--set", "serve.log_max_rows=300", "--set", "serve.log_flush_rows=1000000",
                                    "--set", "serve.log_flush_seconds=2"))
        with Load(server.url, good_records) as load:
            deadline = time.monotonic() + 30
            while load.kinds["log_full"] < 20 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert load.kinds["log_full"] >= 20  # the bound is reached: 503, no unlogged prediction served
            answered_while_full = len(load.acknowledged)
            _, _, metrics = http("GET", server.url + "/metrics")
            filler.unlink()                     # room again: the held rows are written, requests answered
            load.wait_for_acknowledged(answered_while_full + 100)
            server.process.send_signal(signal.SIGTERM)
            assert server.process.wait(60) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once shut down
        assert len(load.acknowledged) > answered_while_full
        assert load.statuses[503] == load.kinds["log_full"] and set(load.statuses) == {200, 503}
        assert "nbprod_prediction_log_refused_rows_total " in metrics
        assert lost_rows(load, folder) == 0
