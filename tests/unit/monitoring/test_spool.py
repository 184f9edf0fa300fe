"""The local engine's windowed pass (:mod:`nbprod.monitoring.spool`): a prediction log of several files, cut one
file at a time and checked one window at a time, gives what a pass on the whole log read into one frame gives --
and holds no more than one window's rows while checking."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pandas as pd
import pytest
import yaml

from nbprod.model.labels import ClassLabels
from nbprod.monitoring import check, spool
from nbprod.monitoring.cluster import LOG, Reader
from nbprod.monitoring.monitor import LocalRows
from nbprod.serving.prediction_log import PredictionLogWriter, log_files, read_prediction_log

FEATURES = ["x", "k", "n"]
LABELS = ClassLabels.of(["No", "Yes"], "Yes")
NOW = pd.Timestamp("2030-01-01 00:00:00")


def settings_of(repo, **monitor) -> dict:
    settings = yaml.safe_load((repo / "env.yaml").read_text())
    settings["data"].update(target="late", time_column="when")
    settings["monitor"].update({"window": "1D", "window_column": "auto", "drift_share": 0.3, **monitor})
    settings["split"]["new_start"] = "2024-01-01"
    return settings


def features(count: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(shift, 1.0, count),
                         "k": rng.choice(["a", "b", "c", "d"], count, p=[0.4, 0.3, 0.2, 0.1] if not shift else
                                         [0.1, 0.2, 0.3, 0.4]),
                         "n": rng.integers(0, 3, count).astype(float)})


def write_log(folder, requests: int = 12, rows: int = 150) -> list[str]:
    """A log of ``requests`` requests over three days (drifting on the last), one file per two requests; the
    last file's model has no input ``n`` (a contract change: the files' columns differ)."""
    writer = PredictionLogWriter(folder, flush_rows=100_000, flush_seconds=600)
    for index in range(requests):
        frame = features(rows, index, shift=0.8 if index >= 2 * requests // 3 else 0.0)
        names = FEATURES if index < requests - 2 else FEATURES[:2]
        probabilities = np.column_stack([1 - (p := 1 / (1 + np.exp(-frame["x"]))), p])
        arrived = pd.Timestamp("2024-01-01 06:00", tz="UTC").timestamp() + index * 3 * 86400 / requests
        writer.append(names, {name: frame[name].tolist() for name in names}, LABELS.predict(probabilities, 0.5),
                      probabilities, "m", "1", f"r{index}", arrived, LABELS)
        if index % 2:
            writer.flush()
    writer.close()
    return [str(path) for path in log_files(folder)]


@pytest.fixture
def log(tmp_path) -> list[str]:
    files = write_log(tmp_path / "log")
    assert len(files) == 6
    return files


def reference(tmp_path, rows: int, settings) -> check.Reference:
    path = tmp_path / "train.parquet"
    features(rows, 99).assign(late=0).to_parquet(path)
    return check.read_reference(path, settings)


def whole_log_pass(folder, settings, ref, notes):
    """A pass on the whole log read into one frame: what the local engine did before it was windowed."""
    rows = LocalRows(read_prediction_log(folder))
    column, windows, without_time = rows.slice(settings, ref.columns, notes, NOW)
    _, entries = rows.check(windows, ref, settings)
    return rows, column, windows, without_time, entries


@pytest.mark.parametrize("reference_rows", [400, 5000])  # exact tests (KS, chi-square); binned distances
def test_the_windowed_pass_gives_the_whole_log_pass_entries(repo, tmp_path, log, reference_rows):
    settings = settings_of(repo)
    ref = reference(tmp_path, reference_rows, settings)
    expected_notes, notes = [], []
    whole, column, windows, without_time, expected = whole_log_pass(tmp_path / "log", settings, ref, expected_notes)

    with spool.spooled(log, Reader(LOG)) as rows:
        got = rows.slice(settings, ref.columns, notes, NOW)
        assert got[0] == column == "time" and got[2] == without_time
        assert [(part.key, part.rows) for part in got[1]] == [(window.key, window.rows) for window in windows]
        assert (len(rows), rows.columns, rows.logged_scores()) == (len(whole), whole.columns, True)
        for part, window in zip(got[1], windows):  # the same rows, columns and dtypes
            pd.testing.assert_frame_equal(rows.window(part).frame, window.frame.reset_index(drop=True))
    with spool.spooled(log, Reader(LOG)) as rows:
        _, entries = rows.check(rows.slice(settings, ref.columns, [], NOW)[1], ref, settings)

    assert entries == expected and notes == expected_notes
    assert {entry["drift"]["drifted"] for entry in entries} == {True, False}
    methods = {column["method"] for entry in entries for column in entry["drift"]["columns"]}
    assert methods >= ({"ks", "chisquare"} if reference_rows <= 1000 else {"wasserstein", "jensenshannon"})


def test_windows_in_file_order_are_cut_across_files_as_in_one_frame(repo, tmp_path, log):
    settings = settings_of(repo, window="250rows", window_column="none")
    ref = reference(tmp_path, 400, settings)
    _, column, windows, _, expected = whole_log_pass(tmp_path / "log", settings, ref, [])
    with spool.spooled(log, Reader(LOG)) as rows:
        got = rows.slice(settings, ref.columns, [], NOW)
        _, entries = rows.check(got[1], ref, settings)
    assert column is None and got[0] is None and len(windows) == 8  # 1,800 rows: 7 of 250 and one of 50
    assert [(part.key, part.rows) for part in got[1]] == [(window.key, window.rows) for window in windows]
    assert entries == expected


def test_the_pass_reads_one_file_then_holds_one_window_at_a_time(repo, tmp_path, log, monkeypatch):
    settings = settings_of(repo)
    ref = reference(tmp_path, 400, settings)
    file_rows = [len(pd.read_parquet(path)) for path in log]
    read, held = [], []
    table, window = Reader.table, spool.SpooledRows.window

    def table_read(self, path):
        result = table(self, path)
        read.append(result.num_rows)
        return result

    def window_read(self, part):
        gc.collect()
        alive = [rows for rows, frame in held if frame() is not None]
        result = window(self, part)
        held.append((result.rows, weakref.ref(result.frame)))
        assert not alive, f"window {part.key} read while {alive} rows of earlier windows were held"
        return result

    monkeypatch.setattr(Reader, "table", table_read)
    monkeypatch.setattr(spool.SpooledRows, "window", window_read)
    with spool.spooled(log, Reader(LOG)) as rows:
        _, parts, _ = rows.slice(settings, ref.columns, [], NOW)
        assert read == file_rows  # each file read once, alone
        _, entries = rows.check(parts, ref, settings)
        assert not list(rows.folder.iterdir())  # every window's parts deleted once read
    assert [rows for rows, _ in held] == [part.rows for part in parts] == [entry["rows"] for entry in entries]
    assert max(rows for rows, _ in held) < sum(file_rows) / 2


def test_an_empty_log_has_no_rows_and_no_window(repo, tmp_path):
    settings = settings_of(repo)
    with spool.spooled([], Reader(LOG)) as rows:
        assert rows.slice(settings, ["x"], [], NOW) == (None, [], 0) and len(rows) == 0
        assert rows.columns == list(read_prediction_log(tmp_path / "none").columns)


def test_a_corrupt_log_file_goes_to_the_quarantine_and_the_others_are_monitored(repo, tmp_path, log):
    settings = settings_of(repo)
    corrupt = tmp_path / "log" / "predictions-20240101T000000000000Z-x-1-000000.parquet"
    corrupt.write_bytes(b"PAR1")
    quarantine = tmp_path / "quarantine"
    with spool.spooled([str(corrupt), *log], Reader(LOG, quarantine=str(quarantine))) as rows:
        _, parts, _ = rows.slice(settings, ["x"], [], NOW)
    assert len(rows) == sum(part.rows for part in parts) == len(read_prediction_log(tmp_path / "log"))
    assert [path.name for path in quarantine.iterdir()] == [corrupt.name] and not corrupt.exists()
