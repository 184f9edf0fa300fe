"""Batch scoring: the ``score`` command end to end, rejects, formats and clear errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import flights

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def champion(project):
    from nbprod.serving.model_source import load_version

    return load_version(project.tracking_uri, project.settings["registry"]["model_name"], project.versions[0])


@pytest.fixture(scope="module")
def table():
    """600 real rows as text, the way a CSV holds them, with 4 bad rows and an extra column."""
    X, _ = flights(600, skip=8000)
    frame = X.assign(time_hour=X["time_hour"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"), flight_id=np.arange(600))
    frame = frame.astype(object)
    frame.loc[10, "distance"] = "far"
    frame.loc[250, "carrier"] = None
    frame.loc[420, "time_hour"] = "someday"
    frame.loc[599, "sched_dep_time"] = None
    frame.loc[300, "dest"] = "NEW"  # unseen: scored
    return frame


BAD_ROWS = {10: "column 'distance': expected a number, got 'far'",
            250: "column 'carrier': missing value not allowed",
            420: "column 'time_hour': 'someday' is not an ISO 8601 date-time",
            599: "column 'sched_dep_time': missing value not allowed"}


def run_score(project, *args):
    return subprocess.run([sys.executable, "-m", "nbprod.serving", "score", "--project", str(project.path), *args],
                          capture_output=True, text=True, timeout=120)


def test_score_command_scores_good_rows_and_rejects_bad_ones(project, table, champion, tmp_path):
    source = tmp_path / "flights.csv"
    table.to_csv(source, index=False)
    output = tmp_path / "scored.parquet"
    done = run_score(project, str(source), str(output), "--chunk-rows", "128")
    assert done.returncode == 0, done.stderr
    assert "scored 596 of 600 rows with models:/nbprod-test-model/1" in done.stdout
    assert "rejected 4 rows" in done.stdout and "'dest': 1" in done.stdout
    scored = pd.read_parquet(output)
    rejects = pd.read_parquet(tmp_path / "scored.rejects.parquet")
    assert len(scored) == 596 and len(rejects) == 4
    assert dict(zip(rejects["flight_id"].astype(int), rejects["reject_reason"])) == BAD_ROWS
    assert rejects["input_row"].tolist() == sorted(BAD_ROWS)  # positions in the input (chunks of 128)
    assert list(scored.columns) == [*champion.contract.names, "flight_id", "prediction", "probability"]
    good = table.drop(index=list(BAD_ROWS)).reset_index(drop=True)
    assert scored["flight_id"].astype(int).tolist() == good["flight_id"].tolist()
    records = good.drop(columns="flight_id").to_dict("records")
    for record in records:
        record["distance"] = float(record["distance"])
        record["sched_dep_time"] = float(record["sched_dep_time"])
    from nbprod.serving.validation import frame_from_columns

    expected = champion.model.predict_proba(frame_from_columns(champion.contract,
                                                               champion.validator.check(records).columns))[:, 1]
    np.testing.assert_allclose(scored["probability"].to_numpy(), expected, rtol=1e-12)
    assert not [path.name for path in tmp_path.iterdir() if path.name.startswith(".")]  # no temporary files


def test_parquet_in_csv_out_in_process(table, champion, tmp_path):
    from nbprod.serving.batch import score_file

    source = tmp_path / "in.parquet"
    typed = table.drop(index=list(BAD_ROWS)).astype({"distance": float, "sched_dep_time": float})
    typed.assign(time_hour=pd.to_datetime(typed["time_hour"])).to_parquet(source)  # tz-aware timestamps
    summary = score_file(champion, source, tmp_path / "out.csv", chunk_rows=100)
    assert (summary.rows_read, summary.rows_scored, summary.rows_rejected, summary.chunks) == (596, 596, 0, 6)
    scored = pd.read_csv(tmp_path / "out.csv")
    assert len(scored) == 596 and scored["prediction"].isin([0, 1]).all()
    assert scored["time_hour"].iloc[0] == pd.Timestamp(typed["time_hour"].iloc[0]).tz_convert(None).isoformat(" ")
    assert pd.read_csv(tmp_path / "out.rejects.csv").empty


def test_clear_errors(project, table, champion, tmp_path):
    from nbprod.serving.batch import ScoreError, score_file

    done = run_score(project, str(tmp_path / "missing.csv"), str(tmp_path / "out.csv"))
    assert done.returncode == 2 and "input file" in done.stderr and "does not exist" in done.stderr
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"this is not parquet")
    with pytest.raises(ScoreError, match="cannot read .*garbage.parquet as parquet"):
        score_file(champion, garbage, tmp_path / "out.parquet")
    no_column = tmp_path / "no_column.csv"
    table.drop(columns="origin").to_csv(no_column, index=False)
    with pytest.raises(ScoreError, match=r"missing required column\(s\) \['origin'\]"):
        score_file(champion, no_column, tmp_path / "out.parquet")
    with pytest.raises(ScoreError, match="unknown file type"):
        score_file(champion, no_column, tmp_path / "out.xlsx")
    assert not (tmp_path / "out.parquet").exists()  # a failed run leaves no output
    all_bad = tmp_path / "all_bad.csv"
    table.loc[[10, 420]].to_csv(all_bad, index=False)
    done = run_score(project, str(all_bad), str(tmp_path / "none.csv"))
    assert done.returncode == 1 and "scored 0 of 2 rows" in done.stdout and "no row of" in done.stderr
    done = run_score(project, str(no_column), str(tmp_path / "v.csv"), "--version", "99")
    assert done.returncode == 2 and "cannot load models:/nbprod-test-model/99 from" in done.stderr


def test_a_first_line_of_data_with_empty_cells_is_not_called_a_repeated_header(tmp_path):
    from nbprod.serving.batch import ScoreError, check_header, header_problem

    first_line = pd.DataFrame([["UA", np.nan, "EWR", np.nan, "1400"]])  # data where the header should be
    check_header(first_line, tmp_path / "in.csv")  # no "column(s) more than once: ['nan']"
    assert header_problem(["a", "", "b", ""]) is None
    with pytest.raises(ScoreError, match=r"more than once in the header: \['a'\]"):
        check_header(pd.DataFrame([["a", "b", "a"]]), tmp_path / "in.csv")
