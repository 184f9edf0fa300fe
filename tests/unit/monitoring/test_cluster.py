"""The two rounds of ``nbprod monitor --engine dask`` (:mod:`nbprod.monitoring.cluster`), run here without a
cluster: a log in three files checked file by file and window by window gives a local pass's entries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from nbprod.monitoring import check, cluster, windows

TIME, TARGET = "when", "late"


def settings_of(repo) -> dict:
    settings = yaml.safe_load((repo / "env.yaml").read_text())
    settings["data"].update(target=TARGET, time_column=TIME)
    settings["monitor"].update(window="1D", window_column="auto", drift_share=0.3)
    settings["split"]["new_start"] = "2024-01-01"
    return settings


def rows(count: int, seed: int, start: str, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        TIME: pd.Timestamp(start) + pd.to_timedelta(rng.uniform(0, 3 * 86400, count), unit="s"),
        "x": rng.normal(shift, 1.0, count),
        "k": rng.choice(["a", "b", "c", "d"], count, p=[0.4, 0.3, 0.2, 0.1] if not shift else [0.1, 0.2, 0.3, 0.4]),
        "n": rng.integers(0, 3, count).astype(float),
        TARGET: rng.integers(0, 2, count),
    })


@pytest.mark.parametrize("reference_rows", [400, 5000])  # exact tests (KS, chi-square); binned distances
def test_a_log_checked_file_by_file_and_window_by_window_gives_the_local_entries(repo, tmp_path, reference_rows):
    settings = settings_of(repo)
    reference_path = tmp_path / "train.parquet"
    rows(reference_rows, 0, "2023-12-01").to_parquet(reference_path)
    log = pd.concat([rows(900, 1, "2024-01-01"), rows(900, 2, "2024-01-03", shift=0.6)], ignore_index=True)
    files = []
    for index in range(3):
        part = log.iloc[index::3]
        if index == 2:
            part = part.drop(columns=["n"])  # an older file without a column
        files.append(str(tmp_path / f"part-{index}.parquet"))
        part.to_parquet(files[-1])
    reader = cluster.Reader(cluster.PARQUET)
    everything = pd.concat([pd.read_parquet(path) for path in files], ignore_index=True)
    local_windows, _ = windows.slice_windows(everything, TIME, "1D", "2024-01-01")
    reference = check.read_reference(reference_path, settings)
    _, expected = check.check_windows(local_windows, reference, settings)

    counts = [cluster.file_windows(path, reader, TIME, "1D", "2024-01-01", TARGET) for path in files]
    parts, without_time = cluster.merge_counts(files, counts)
    columns = cluster.file_columns(files)
    entries = [entry for part in parts
               for entry in cluster.check_part(part, reader, TIME, columns, str(reference_path), settings, {})[1]]

    assert without_time == 0 and columns == list(log.columns)
    assert [(part.key, part.rows) for part in parts] == [(w.key, w.rows) for w in local_windows]
    assert all(part.files == tuple(files) for part in parts)
    assert entries == expected
    assert {entry["drift"]["drifted"] for entry in entries} == {True, False}
    methods = {column["method"] for entry in entries for column in entry["drift"]["columns"]}
    assert methods >= ({"ks", "chisquare"} if reference_rows <= 1000 else {"wasserstein", "jensenshannon"})
