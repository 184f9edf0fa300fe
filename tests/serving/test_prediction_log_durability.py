"""The prediction log survives failed writes, keeps its bound, fsyncs, and moves corrupt files aside.

In-process tests of :class:`nbprod.serving.prediction_log.PredictionLogWriter` (no server). A full
disk is simulated here by an OS-error injection at the write call: the writer's ``_write_table``
raises ``OSError(ENOSPC)`` while ``FullDisk.full`` is set (the real tmpfs filled up under load is in
``tests/serving/test_faults.py``).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import time

import numpy as np
import pytest

from nbprod.serving import prediction_log
from nbprod.serving.prediction_log import PredictionLogWriter, read_prediction_log


def entry(writer, rows, request_id="r"):
    """Append one request of ``rows`` rows; what ``append`` answered."""
    return writer.append(["distance", "carrier"], {"distance": [float(i) for i in range(rows)],
                                                   "carrier": ["UA"] * rows},
                         np.zeros(rows, dtype=int), np.full((rows, 2), 0.5), "m", "1", request_id, time.time())


class FullDisk:
    """Make ``writer``'s writes fail with ENOSPC while ``full`` is true (counts the attempts)."""

    def __init__(self, writer: PredictionLogWriter) -> None:
        self.full = True
        self.attempts = 0
        self.real = writer._write_table
        writer._write_table = self.write

    def write(self, table) -> None:
        self.attempts += 1
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.real(table)


def wait_for(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_failed_write_keeps_the_batch_and_retries_until_the_disk_has_room(tmp_path):
    writer = PredictionLogWriter(tmp_path, flush_rows=5, flush_seconds=0.05, max_rows=1000)
    disk = FullDisk(writer)
    for number in range(4):
        assert entry(writer, 5, request_id=f"r{number}")
    assert wait_for(lambda: disk.attempts >= 3)  # retried with back-off, nothing written, nothing dropped
    assert writer.rows_written == 0 and writer.rows_buffered == 20 and writer.failing
    assert writer.write_errors >= 3
    disk.full = False
    assert wait_for(lambda: writer.rows_written == 20)
    writer.close()
    log = read_prediction_log(tmp_path)
    assert log["request_id"].tolist() == [f"r{n}" for n in range(4) for _ in range(5)]  # in order, all there
    assert writer.rows_buffered == 0 and writer.rows_lost == 0
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".")]  # no partial files left


def test_at_the_bound_the_refuse_policy_refuses_rows_and_the_serve_policy_counts_them(tmp_path):
    refusing = PredictionLogWriter(tmp_path / "refuse", flush_rows=1, flush_seconds=0.05, max_rows=12)
    FullDisk(refusing)
    assert entry(refusing, 10) and entry(refusing, 2)      # 12 held: at the bound
    assert not entry(refusing, 1)                           # one more row would pass it
    assert refusing.rows_refused == 1 and refusing.rows_buffered == 12

    serving = PredictionLogWriter(tmp_path / "serve", flush_rows=1, flush_seconds=0.05, max_rows=12,
                                  policy="serve")
    FullDisk(serving)
    assert entry(serving, 12) and entry(serving, 3)        # answered, not logged
    assert serving.rows_unlogged == 3 and serving.rows_buffered == 12

    lone = PredictionLogWriter(tmp_path / "lone", flush_rows=100, flush_seconds=10, max_rows=5)
    assert entry(lone, 8)  # a request larger than the bound is taken when nothing is held
    for writer in (refusing, serving, lone):
        writer.close(timeout=0.2)
    assert refusing.rows_lost == 12 and serving.rows_lost == 12  # the disk never freed: counted, logged
    assert lone.rows_written == 8
    with pytest.raises(ValueError, match="policy 'drop' is not one of"):
        PredictionLogWriter(tmp_path, policy="drop")


def test_close_retries_the_held_rows_until_the_disk_frees(tmp_path):
    writer = PredictionLogWriter(tmp_path, flush_rows=1000, flush_seconds=10, max_rows=100)
    disk = FullDisk(writer)
    entry(writer, 7)
    import threading

    threading.Timer(0.3, lambda: setattr(disk, "full", False)).start()
    writer.close(timeout=10)  # graceful shutdown on a full disk that frees within the timeout
    assert writer.rows_written == 7 and writer.rows_lost == 0 and disk.attempts >= 2


def test_files_are_fsynced_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode)
                                                              else "fsync file"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("rename"), real_replace(a, b))[1])
    writer = PredictionLogWriter(tmp_path, flush_rows=1, flush_seconds=10)
    entry(writer, 3)
    writer.close()
    assert events == ["fsync file", "rename", "fsync folder"]


def test_a_truncated_or_corrupt_file_is_moved_aside_with_a_warning_and_the_rest_is_read(tmp_path, caplog):
    writer = PredictionLogWriter(tmp_path, flush_rows=1, flush_seconds=10)
    entry(writer, 4, request_id="good")
    writer.close()
    good = next(tmp_path.glob("predictions-*.parquet"))
    truncated = tmp_path / good.name.replace("predictions-", "predictions-0-truncated-")
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])  # a crash mid-write of another tool
    garbage = tmp_path / "predictions-20260101T000000000000Z-garbage.parquet"
    garbage.write_bytes(b"not parquet at all")
    with caplog.at_level(logging.WARNING, logger="nbprod.serving"):
        log = read_prediction_log(tmp_path)
    assert log["request_id"].tolist() == ["good"] * 4
    moved = sorted(path.name for path in (tmp_path / prediction_log.QUARANTINE).iterdir())
    assert moved == sorted([truncated.name, garbage.name])
    assert not truncated.exists() and not garbage.exists() and good.exists()
    assert sum("moved to" in record.getMessage() for record in caplog.records) == 2
    assert len(read_prediction_log(tmp_path)) == 4  # the next reader sees the good file only, no warning


def test_monitoring_reads_the_log_past_a_corrupt_file(tmp_path):
    """``nbprod monitor`` reads the log through the catalog: a corrupt file goes to its quarantine folder."""
    from nbprod.monitoring.command import load_rows
    from nbprod.project import Project
    from nbprod.settings import ENV_FILE, PIPELINE_FILE
    import argparse
    import shutil
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    shutil.copy(repo / ENV_FILE, tmp_path / ENV_FILE)
    (tmp_path / PIPELINE_FILE).write_text("tasks: []\n")
    project = Project.load(tmp_path, overrides=["serve.prediction_log=logs"])
    writer = PredictionLogWriter(project.prediction_log, flush_rows=1, flush_seconds=10)
    entry(writer, 3)
    writer.close()
    (project.prediction_log / "predictions-20260101T000000000000Z-x-1-000000.parquet").write_bytes(b"PAR1")
    rows, _ = load_rows(argparse.Namespace(data=None, since=None, until=None), project)
    assert len(rows) == 3
    assert [path.name for path in project.prediction_log_quarantine.iterdir()] == [
        "predictions-20260101T000000000000Z-x-1-000000.parquet"]
