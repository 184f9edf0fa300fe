"""Every kind of bad input in the catalog (tests/serving/bad_input_catalog.py) gets its 4xx, never a 500,
from the service over real HTTP, through every protocol it speaks; ``nbprod score`` rejects the same
values (row by row, with a reason naming the column) or refuses the file, so serve and score agree."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bad_input_catalog import (ACCEPTED_BODIES, ACCEPTED_VALUES, BODY_CASES, CSV_FILE_CASES, MAX_TEXT_CHARS,
                               PROTOCOLS, VALUE_CASES, csv_text, kinds, value_rows)
from conftest import http

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def champion(project):
    """Version 1 (the alias), loaded in the test process the way the service loads it."""
    from nbprod.serving.model_source import load_version

    return load_version(project.tracking_uri, project.settings["registry"]["model_name"], project.versions[0])


def send(server, protocol, body: bytes):
    """``protocol``'s request; an Open Inference Protocol error (``{"error": message, "kind", "details"}``)
    is answered in nbprod's shape for the checks."""
    status, headers, answer = http("POST", server.url + protocol.path, body, {"Content-Type": protocol.content_type})
    if protocol.path.startswith("/v2") and status >= 400 and isinstance(answer, dict):
        answer = {"error": {"message": answer["error"], "kind": answer["kind"], "details": answer.get("details", [])}}
    return status, headers, answer


def assert_one_line_error(status: int, body, expected_status: int, kind: str, text: str) -> dict:
    """A JSON error of ``expected_status`` and ``kind`` whose one-line message holds ``text``."""
    assert status == expected_status, body
    assert isinstance(body, dict) and body["error"]["kind"] == kind, body
    message = body["error"]["message"]
    assert text in message and "\n" not in message and "Traceback" not in message, message
    assert len(json.dumps(body)) < 20_000  # no echo of a large value
    return body["error"]


def assert_names_place(error: dict, record: int, column: str | None) -> None:
    """The message says ``record N`` (and the column), and so does the first detail."""
    assert f"record {record}" in error["message"], error["message"]
    detail = error["details"][0]
    assert detail["record"] == record and detail.get("column") == column, detail
    if column is not None:
        assert repr(column) in error["message"], error["message"]


def test_the_catalog_holds_at_least_40_kinds_and_the_model_takes_no_missing_values(champion):
    assert kinds() >= 40
    assert not any(spec.nullable for spec in champion.contract.columns)  # the null cases rely on it


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=[protocol.name for protocol in PROTOCOLS])
@pytest.mark.parametrize("case", VALUE_CASES, ids=[case.name for case in VALUE_CASES])
def test_a_bad_value_is_a_422_naming_record_and_column(server, good_records, case, protocol):
    spelling = case.json if protocol.spelling == "json" else case.csv
    if spelling is None:
        pytest.skip(f"{protocol.name} cannot spell this value")
    request = protocol.build(value_rows(good_records, case), spelling if isinstance(spelling, str) else None)
    if request is None:
        pytest.skip(f"{protocol.name} cannot say this")
    status, _, body = send(server, protocol, request)
    if protocol.spelling == "json":
        error = assert_one_line_error(status, body, case.status, case.kind, case.text)
    else:  # CSV cells arrive as text or numbers: the kind may differ, the place may not
        error = assert_one_line_error(status, body, case.status, body["error"]["kind"], "")
    assert_names_place(error, 1, case.column)


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=[protocol.name for protocol in PROTOCOLS])
@pytest.mark.parametrize("name, column, spelling, plain", ACCEPTED_VALUES, ids=[case[0] for case in ACCEPTED_VALUES])
def test_an_odd_but_right_value_is_predicted_as_its_plain_spelling(server, good_records, name, column, spelling,
                                                                   plain, protocol):
    if protocol.spelling != "json":
        pytest.skip("a JSON spelling")
    rows = [dict(good_records[0]), {**good_records[1], column: "\x00bad-value\x00"}]
    status, _, odd = send(server, protocol, protocol.build(rows, spelling))
    assert status == 200, odd
    rows[1][column] = plain
    status, _, expected = send(server, protocol, protocol.build(rows, None))
    answer = next(key for key in ("probabilities", "outputs", "predictions") if key in odd)  # nbprod, v2, MLflow
    assert status == 200 and odd[answer] == expected[answer], (odd, expected)


@pytest.mark.parametrize("case", BODY_CASES, ids=[case.name for case in BODY_CASES])
def test_a_bad_body_is_a_4xx_saying_what_and_where(server, good_records, case):
    status, _, body = send(server, PROTOCOLS[0], case.body(good_records))
    error = assert_one_line_error(status, body, case.status, case.kind, case.text)
    if case.where is not None:
        assert_names_place(error, *case.where)
    assert http("GET", server.url + "/health")[0] == 200


@pytest.mark.parametrize("name, make, check", ACCEPTED_BODIES, ids=[case[0] for case in ACCEPTED_BODIES])
def test_an_odd_but_right_body_is_answered_with_short_warnings(server, good_records, name, make, check):
    status, _, body = send(server, PROTOCOLS[0], make(good_records))
    assert status == 200, body
    assert check(body), body["warnings"]
    assert all(len(warning["message"]) < 300 for warning in body["warnings"])


# -- nbprod score: the same values, from files -------------------------------------------------------------


def score(champion, tmp_path, data: bytes, name: str = "in.csv"):
    from nbprod.serving.batch import score_file

    source = tmp_path / name
    source.write_bytes(data)
    summary = score_file(champion, source, tmp_path / "out.csv", max_text_chars=MAX_TEXT_CHARS)
    rejects = pd.read_csv(tmp_path / "out.rejects.csv", dtype=str, keep_default_na=False)
    return summary, rejects


CSV_VALUES = [case for case in VALUE_CASES if case.csv is not None]


@pytest.fixture(scope="module")
def scored_values(champion, good_records, tmp_path_factory):
    """One file for ``nbprod score``: a good row, then one row per CSV-spelt value case; its rejects."""
    rows = [dict(good_records[0])]
    for number, case in enumerate(CSV_VALUES):
        rows.append({**good_records[1], case.column: f"@bad{number}@"})
    text = csv_text(rows).decode("utf-8")
    for number, case in enumerate(CSV_VALUES):
        text = text.replace(f"@bad{number}@", case.csv)
    summary, rejects = score(champion, tmp_path_factory.mktemp("score-values"), text.encode("utf-8"))
    assert (summary.rows_read, summary.rows_scored) == (len(rows), 1)
    return dict(zip(rejects["input_row"].astype(int), rejects["reject_reason"]))


@pytest.mark.parametrize("number, case", list(enumerate(CSV_VALUES)), ids=[case.name for case in CSV_VALUES])
def test_score_rejects_the_same_bad_values_naming_row_and_column(scored_values, number, case):
    reason = scored_values[number + 1]
    assert reason.startswith(f"column {case.column!r}: ") and case.reason in reason, reason
    assert len(reason) < 300


@pytest.mark.parametrize("case", CSV_FILE_CASES, ids=[case.name for case in CSV_FILE_CASES])
def test_score_refuses_or_reads_right_odd_files(champion, good_records, case, tmp_path):
    from nbprod.serving.batch import ScoreError

    data = case.text(good_records)
    if case.outcome == "refused":
        with pytest.raises(ScoreError, match=None) as caught:
            score(champion, tmp_path, data)
        assert case.text_part in str(caught.value) and "\n" not in str(caught.value).strip(), caught.value
        assert not (tmp_path / "out.csv").exists()
        return
    summary, rejects = score(champion, tmp_path, data)
    if case.outcome == "rejected":
        assert rejects["input_row"].tolist() == [str(row) for row in case.rows]
        assert all(case.text_part in reason for reason in rejects["reject_reason"])
    else:
        assert summary.rows_rejected == 0 and summary.rows_scored == summary.rows_read
        scored = pd.read_csv(tmp_path / "out.csv")
        assert scored["probability"].between(0, 1).all() and len(scored) == summary.rows_read


@pytest.mark.parametrize("path", ["/predict", "/invocations"])
@pytest.mark.parametrize("case", CSV_FILE_CASES, ids=[case.name for case in CSV_FILE_CASES])
def test_a_csv_body_is_checked_as_score_checks_a_file(server, good_records, case, path):
    status, _, body = http("POST", server.url + path, case.text(good_records), {"Content-Type": "text/csv"})
    expected = case.served
    if expected.status == 200:
        assert status == 200 and len(body["predictions"]) >= 2, body
        assert case.outcome == "scored"
        return
    assert case.outcome != "scored" or expected.kind == "empty_input"  # a refused file, a rejected row: 4xx
    error = assert_one_line_error(status, body, expected.status, expected.kind, expected.text)
    if expected.where is not None:
        record, column = expected.where
        detail = error["details"][0]
        assert (detail["record"], detail.get("column")) == (record, column), detail
        assert f"record {record}" in error["message"] if record is not None else "header" in error["message"]
        assert column is None or repr(column) in error["message"], error["message"]
    if case.outcome == "rejected":
        assert [detail["record"] for detail in error["details"]] == list(case.rows)


def test_serve_and_score_agree_on_odd_values_they_both_take(server, champion, good_records, tmp_path):
    rows = [{**good_records[0], "time_hour": "2013-01-01T00:00:00-05:00", "distance": "-0", "dest": "NEW\nYORK"},
            {**good_records[1], "time_hour": "2013-01-01 05:00", "sched_dep_time": "517.0", "carrier": " UA "}]
    summary, _ = score(champion, tmp_path, csv_text(rows))
    assert summary.rows_scored == 2
    scored = pd.read_csv(tmp_path / "out.csv")
    for row in rows:
        row["distance"], row["sched_dep_time"] = float(row["distance"]), float(row["sched_dep_time"])
    status, _, body = http("POST", server.url + "/predict", rows)
    assert status == 200, body
    np.testing.assert_allclose(scored["probability"], np.asarray(body["probabilities"])[:, 1], rtol=1e-12)


# -- fuzz: random records over the contract ------------------------------------------------------------------


def test_random_records_never_get_a_5xx_and_every_200_is_the_pipelines_own_prediction(server, champion, tmp_path):
    from contract_fuzz import fuzz

    counts = fuzz(server.url + "/predict", champion, max_examples=280, max_text_chars=MAX_TEXT_CHARS, home=tmp_path)
    assert counts["records"] >= 800 and not any(code.startswith("status_5") for code in counts)
    assert counts["status_200"] >= 40 and counts["status_422"] >= 40, counts  # both sides were tried
    assert counts["compared_rows"] >= 80, counts


@pytest.mark.parametrize("empty_row", [None, 2], ids=["short row only", "empty last field first"])
def test_score_finds_a_short_row_in_a_later_chunk(champion, good_records, tmp_path, empty_row):
    from nbprod.serving.batch import score_file

    lines = csv_text(good_records).split(b"\n")
    lines[1 + 14] = lines[1 + 14].rsplit(b",", 1)[0]  # data row 14: a field short
    if empty_row is not None:
        lines[1 + empty_row] = lines[1 + empty_row].rsplit(b",", 1)[0] + b","  # all fields, the last empty
    (tmp_path / "in.csv").write_bytes(b"\n".join(lines))
    summary = score_file(champion, tmp_path / "in.csv", tmp_path / "out.csv", chunk_rows=4)
    rejects = pd.read_csv(tmp_path / "out.rejects.csv", dtype=str)
    reasons = dict(zip(rejects["input_row"].astype(int), rejects["reject_reason"]))
    assert reasons.pop(14) == "the row has 5 field(s), the header 6: none from column 'time_hour' on"
    assert reasons == ({} if empty_row is None else {2: "column 'time_hour': missing value not allowed"})
    assert summary.rows_scored == len(good_records) - 1 - (empty_row is not None)
