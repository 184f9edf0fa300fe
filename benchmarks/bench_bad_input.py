"""Bad-input benchmark: every kind of bad input in the test catalog, and thousands of fuzzed records.

    .venv/bin/python benchmarks/bench_bad_input.py [--fuzz-examples 1500] [--project DIR]
                                                   [--out reports/benchmarks/robustness.json]

Serves the champion every serving benchmark serves (``benchmarks/champion.py``: a copy of the project
built with its default settings and data, or ``--project DIR``), with requests built from its own test
rows, then, on this machine:

- sends every case of ``tests/serving/bad_input_catalog.py`` through every protocol of ``/predict``
  to a real server (``nbprod serve`` with the tests' small limits: 50 rows, 0.05 MB), and the CSV
  spelling of every case and every odd file through ``nbprod score`` (in process); records, per
  kind, the answer (status, error kind, message cut to 200 characters) and whether it is the one the
  catalog expects. The catalog is written for the serving tests' model (six columns, its date-time
  ``time_hour``): on the champion a case of ``time_hour`` goes to the champion's date-time column, and
  a CSV file's expected text names the champion's header (:func:`on_champion`);
- sends the cases the issue saw on main (an integer of 400 digits, ``9999-12-31T23:59:59-01:00``, a
  naive date-time in year 3000, a 1 MB category) to a server with the default limits;
- fuzzes that server with Hypothesis over the contract (``tests/serving/contract_fuzz.py``): records
  sent, answers by status, 5xx seen (target 0), and the 200s compared with the pipeline's own
  predictions.

Writes its figures under the top-level key ``bad_input`` of ``--out`` (other keys of the file, written
by other benchmarks, are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KEY = "bad_input"
MESSAGE_CHARS = 200


def test_helpers() -> None:
    """Make the serving tests' helpers importable (the catalog, the fuzzer, the model and server)."""
    for folder in (REPO / "tests", REPO / "tests" / "serving"):  # the serving conftest wins
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))


#: The date-time column of the serving tests' model, which the catalog's cases name.
TESTS_DATETIME = "time_hour"


def served_project(given: Path | None, folder: Path):
    """The champion (``benchmarks/champion.py``), as the serving tests' ``Project`` (path, settings, [version])."""
    from champion import champion_project
    from conftest import Project

    from nbprod.project import Project as Catalog
    from nbprod.tracking import client_for

    path = champion_project(given, folder)
    catalog = Catalog.load(path)
    version = client_for(catalog.tracking_uri({})).get_model_version_by_alias(catalog.model_name, catalog.alias)
    return Project(path, catalog.settings, [str(version.version)])


def on_champion(case, datetime_column: str, header: list[str]):
    """A catalog case for the champion: ``time_hour`` (the tests' model's date-time) is ``datetime_column``;
    a CSV file's expected text, written for the tests' six-column header ending in ``time_hour``, names
    ``header`` (its width, its last column)."""
    import dataclasses

    from bad_input_catalog import CsvFileCase

    if not isinstance(case, CsvFileCase):
        return dataclasses.replace(case, column=datetime_column) if case.column == TESTS_DATETIME else case
    text = (case.text_part.replace("the header 6", f"the header {len(header)}")
            .replace("has 5 field(s)", f"has {len(header) - 1} field(s)")
            .replace("Expected 6 fields", f"Expected {len(header)} fields")
            .replace(repr(TESTS_DATETIME), repr(header[-1])))
    return dataclasses.replace(case, text_part=text)


def answer(status: int, body) -> dict:
    """What a response said: status, error kind and message (cut)."""
    if isinstance(body, dict) and isinstance(body.get("error"), str):  # the Open Inference Protocol's shape
        body = {"error": {"kind": body.get("kind"), "message": body["error"]}}
    if isinstance(body, dict) and "error" in body:
        return {"status": status, "error_kind": body["error"]["kind"],
                "message": body["error"]["message"][:MESSAGE_CHARS]}
    return {"status": status, "warnings": len(body.get("warnings", [])) if isinstance(body, dict) else None}


def served_cases(url: str, good: list[dict], datetime_column: str, model_name: str) -> list[dict]:
    """Every value and body case of the catalog sent to ``url`` (the server of ``model_name``): the answers, and
    whether each is expected."""
    from bad_input_catalog import ACCEPTED_BODIES, BODY_CASES, PROTOCOLS, VALUE_CASES, value_rows
    from conftest import MODEL_NAME, http

    rows = []
    for protocol in PROTOCOLS:
        path = protocol.path.replace(f"/models/{MODEL_NAME}/", f"/models/{model_name}/")  # the v2 endpoint
        for case in (on_champion(case, datetime_column, list(good[0])) for case in VALUE_CASES):
            spelling = case.json if protocol.spelling == "json" else case.csv
            if spelling is None:
                continue
            body = protocol.build(value_rows(good, case), spelling if isinstance(spelling, str) else None)
            if body is None:
                continue
            status, _, got = http("POST", url + path, body, {"Content-Type": protocol.content_type})
            said = answer(status, got)
            expected = (status == case.status and (said.get("error_kind") == case.kind or protocol.spelling == "csv")
                        and "record 1" in said.get("message", "") and repr(case.column) in said.get("message", ""))
            rows.append({"kind": case.name, "protocol": protocol.name, **said, "as_expected": expected})
    for case in BODY_CASES:
        status, _, got = http("POST", url + "/predict", case.body(good))
        said = answer(status, got)
        rows.append({"kind": case.name, "protocol": "json-body", **said,
                     "as_expected": status == case.status and said.get("error_kind") == case.kind})
    for name, make, check in ACCEPTED_BODIES:
        status, _, got = http("POST", url + "/predict", make(good))
        rows.append({"kind": name, "protocol": "json-body", **answer(status, got),
                     "as_expected": status == 200 and check(got)})
    return rows


def scored_cases(model, good: list[dict], folder: Path, datetime_column: str) -> list[dict]:
    """The CSV spelling of every value case, and every odd file, through ``nbprod score`` (in process)."""
    import pandas as pd

    from bad_input_catalog import CSV_FILE_CASES, MAX_TEXT_CHARS, VALUE_CASES, csv_text, value_rows
    from nbprod.serving.batch import ScoreError, score_file

    def run(name: str, data: bytes) -> dict:
        case_folder = Path(tempfile.mkdtemp(dir=folder))
        (case_folder / "in.csv").write_bytes(data)
        try:
            summary = score_file(model, case_folder / "in.csv", case_folder / "out.csv", max_text_chars=MAX_TEXT_CHARS)
        except ScoreError as error:
            return {"answer": "refused", "message": str(error).replace(str(case_folder), "...")[:MESSAGE_CHARS]}
        rejects = pd.read_csv(case_folder / "out.rejects.csv", dtype=str, keep_default_na=False)
        return {"answer": "rejected" if len(rejects) else "scored", "rows_scored": summary.rows_scored,
                "rows_rejected": summary.rows_rejected,
                "reasons": [f"row {row}: {reason[:MESSAGE_CHARS]}"
                            for row, reason in zip(rejects["input_row"], rejects["reject_reason"])]}

    out = []
    header = list(good[0])
    for case in (on_champion(case, datetime_column, header) for case in VALUE_CASES):
        if case.csv is not None:
            said = run(case.name, csv_text(value_rows(good, case), case.csv))
            expected = (said["answer"] == "rejected" and said["reasons"] == [said["reasons"][0]]
                        and said["reasons"][0].startswith(f"row 1: column {case.column!r}")
                        and case.reason in said["reasons"][0])
            out.append({"kind": case.name, "protocol": "nbprod score (CSV)", **said, "as_expected": expected})
    for case in (on_champion(case, datetime_column, header) for case in CSV_FILE_CASES):
        said = run(case.name, case.text(good))
        expected = said["answer"] == case.outcome and (case.outcome == "scored" or case.text_part in json.dumps(said))
        out.append({"kind": case.name, "protocol": "nbprod score (CSV file)", **said, "as_expected": expected})
    return out


def issue_cases(url: str, good: list[dict], datetime_column: str) -> list[dict]:
    """The four inputs the issue saw on main (500s, a silent wrap, a 1 MB echo), against default limits."""
    from conftest import http

    cases = {"integer of 400 digits in a numeric column": ("distance", int("9" * 400)),
             "9999-12-31T23:59:59-01:00": (datetime_column, "9999-12-31T23:59:59-01:00"),
             "naive date-time in year 3000": (datetime_column, "3000-01-01T00:00:00"),
             "1 MB category": ("dest", "z" * 2**20)}
    out = []
    for name, (column, value) in cases.items():
        status, _, got = http("POST", url + "/predict", [{**good[0], column: value}])
        out.append({"kind": name, **answer(status, got), "response_bytes": len(json.dumps(got))})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fuzz-examples", type=int, default=1500, help="Hypothesis examples (1-6 records each)")
    parser.add_argument("--project", type=Path, default=None,
                        help="serve this built project's champion (default: build a copy, as the serve benchmark)")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "benchmarks" / "robustness.json")
    args = parser.parse_args(argv)
    test_helpers()
    from bad_input_catalog import MAX_TEXT_CHARS, kinds
    from champion import request_rows
    from conftest import SMALL_LIMITS, Server
    from contract_fuzz import fuzz
    from nbprod.serving.model_source import load_version

    started = time.time()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        project = served_project(args.project, folder)
        model = load_version(project.tracking_uri, project.settings["registry"]["model_name"], project.versions[0])
        good = request_rows(project.path, 20)
        datetime_column = next(spec.name for spec in model.contract.columns if spec.kind == "datetime")
        small = Server(project, folder / "log-small", args=SMALL_LIMITS)
        default = Server(project, folder / "log-default")
        try:
            small.wait_ready(300)
            default.wait_ready(300)
            served = served_cases(small.url, good, datetime_column, model.name)
            scored = scored_cases(model, good, folder, datetime_column)
            seen_on_main = issue_cases(default.url, good, datetime_column)
            fuzz_started = time.perf_counter()
            counts = fuzz(default.url + "/predict", model, args.fuzz_examples, MAX_TEXT_CHARS, folder / "hypothesis")
            fuzz_seconds = time.perf_counter() - fuzz_started
        finally:
            small.stop()
            default.stop()
    cases = served + scored
    figures = {
        "catalog_kinds": kinds(),
        "cases_sent": len(cases),
        "cases_as_expected": sum(case["as_expected"] for case in cases),
        "served_5xx": sum(case.get("status", 0) >= 500 for case in served + seen_on_main),
        "seen_on_main": seen_on_main,
        "fuzz": {"records_sent": counts["records"], "requests": counts["requests"],
                 "answers_by_status": {key[7:]: value for key, value in sorted(counts.items())
                                       if key.startswith("status_")},
                 "fivexx_seen": sum(value for key, value in counts.items() if key.startswith("status_5")),
                 "valid_requests": counts["valid_requests"],
                 "rows_200_compared_with_the_pipeline": counts["compared_rows"], "rows_differing": 0,
                 "seconds": round(fuzz_seconds, 1)},
        "cases": cases,
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average_at_end": os.getloadavg()[0],
                    "note": "shared 2-core machine: timings are inflated; the answers are not"},
        "seconds": round(time.time() - started, 1),
    }
    report = json.loads(args.out.read_text()) if args.out.is_file() else {}
    report[KEY] = figures
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"{figures['cases_as_expected']} of {figures['cases_sent']} cases answered as expected "
          f"({figures['catalog_kinds']} kinds); fuzz: {counts['records']} records, "
          f"{figures['fuzz']['fivexx_seen']} 5xx, {counts['compared_rows']} rows compared -> {args.out}")
    return 0 if figures["cases_as_expected"] == figures["cases_sent"] and not figures["fuzz"]["fivexx_seen"] else 1


if __name__ == "__main__":
    sys.exit(main())
