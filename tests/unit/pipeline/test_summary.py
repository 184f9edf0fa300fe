"""nbprod.pipeline.summary: the closing lines of a build, from the gate's evidence and the build's products."""

from __future__ import annotations

import json
from pathlib import Path

from nbprod.pipeline.summary import GateOutcome, champion_lines, read_gate, report_files, summary_lines

SETTINGS = {"serve": {"host": "127.0.0.1", "port": 8765}}


def evidence(decision: str, champion_after: str | None, reference: dict, previous: str | None = None) -> dict:
    """A ``promotion.json`` as the promote task writes it (the fields the summary reads, and a few more)."""
    return {
        "decision": decision,
        "summary": (f"{decision}: all checks passed (metric, size)" if decision == "promoted"
                    else f"{decision}: metric: 0.7000 is not better than 0.7100"),
        "model_name": "flights", "alias": "champion", "previous_champion": previous,
        "champion_after": champion_after,
        "candidate": {"name": "hgb", "version": "2", "metrics": {"roc_auc": 0.7}},
        "reference": reference,
        "metric": {"name": "roc_auc", "greater_is_better": True, "margin": 0.0, "candidate": 0.7,
                   "reference": reference["metrics"]["roc_auc"], "passed": decision == "promoted"},
    }


BASELINE = {"kind": "baseline", "metrics": {"roc_auc": 0.5}}
CHAMPION = {"kind": "champion", "version": "1", "metrics": {"roc_auc": 0.71}}


def project_with(tmp_path: Path, record: dict | None, pages: tuple[str, ...] = ()) -> dict:
    """A project folder holding a promotion.json (when given) and HTML pages; its task products."""
    reports = tmp_path / "reports"
    (reports / "dashboards").mkdir(parents=True)
    if record is not None:
        (reports / "promotion.json").write_text(json.dumps(record))
    for page in pages:
        (reports / page).write_text("<html></html>")
    return {
        "get": str(tmp_path / "build" / "raw.parquet"),
        "evaluate": {"nb": str(reports / "evaluate.ipynb"), "scores": str(tmp_path / "build" / "s.parquet")},
        "promote": {"json": str(reports / "promotion.json"), "html": str(reports / "promotion.html")},
        "dashboards": {"model_report": str(reports / "dashboards" / "model_report.html")},
    }


def test_a_promoted_candidate_is_named_with_its_metric_against_the_baseline():
    lines = champion_lines(GateOutcome.from_evidence(evidence("promoted", "2", BASELINE)))
    assert lines == ["Champion: flights version 2 (models:/flights@champion): "
                     "roc_auc 0.7000 against the naive baseline's 0.5000 on the holdout."]


def test_a_rejected_candidate_says_why_and_who_still_serves():
    lines = champion_lines(GateOutcome.from_evidence(evidence("rejected", "1", CHAMPION, previous="1")))
    assert lines == [
        "The gate rejected flights version 2: metric: 0.7000 is not better than 0.7100 "
        "(roc_auc 0.7000 against champion version 1's 0.7100 on the holdout).",
        "Version 1 stays champion and is what models:/flights@champion serves.",
    ]


def test_a_rejected_first_candidate_leaves_nothing_to_serve():
    lines = champion_lines(GateOutcome.from_evidence(evidence("rejected", None, BASELINE)))
    assert lines[1] == "No version holds the 'champion' alias: nothing is served until a candidate passes."


def test_the_gate_is_read_from_the_promote_tasks_product(tmp_path):
    products = project_with(tmp_path, evidence("promoted", "2", BASELINE))
    assert read_gate(products).champion == "2"
    assert read_gate({**products, "promote": {"json": str(tmp_path / "missing.json")}}) is None
    assert read_gate({"get": products["get"]}) is None  # a pipeline without a gate


def test_report_files_are_the_notebooks_html_and_the_html_products_that_exist(tmp_path):
    products = project_with(tmp_path, None, pages=("evaluate.html", "promotion.html", "dashboards/model_report.html"))
    assert [page.relative_to(tmp_path).as_posix() for page in report_files(products)] == [
        "reports/evaluate.html", "reports/promotion.html", "reports/dashboards/model_report.html"]
    (tmp_path / "reports" / "promotion.html").unlink()
    assert len(report_files(products)) == 2


def test_summary_lines_end_with_the_champion_the_reports_and_the_commands(tmp_path):
    products = project_with(tmp_path, evidence("promoted", "2", BASELINE), pages=("evaluate.html",))
    lines = summary_lines(products, tmp_path, SETTINGS)
    assert lines[0].startswith("Champion: flights version 2")
    assert lines[1:3] == ["Reports:", "  reports/evaluate.html"]  # relative to the project
    assert lines[3] == "Next:"
    assert lines[4] == "  nbprod serve      # serve the champion on http://127.0.0.1:8765"
    assert [line.split()[1] for line in lines[4:]] == ["serve", "dashboard", "monitor", "mlflow-ui"]


def test_without_a_champion_the_serve_line_says_there_is_none(tmp_path):
    products = project_with(tmp_path, evidence("rejected", None, BASELINE))
    lines = summary_lines(products, tmp_path, SETTINGS)
    assert "  nbprod serve      # serve the champion (none yet)" in lines
