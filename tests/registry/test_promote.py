"""The promote task end to end on a real MLflow store, and ``nbprod promote`` by hand."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nbprod.registry import gate
from nbprod.registry.client import Registry
from nbprod.registry.task import promote, run_gate

from .conftest import COMMIT

REPO = Path(__file__).resolve().parents[2]
GENEROUS = gate.Limits(max_size_mb=200, max_memory_mb=1024, max_p99_ms=1000)


def gate_run(evaluation: Path, model_name: str, figures, margin: float = 0.0, limits=GENEROUS) -> dict:
    """run_gate with reused budget figures (no subprocess)."""
    folder = evaluation.parent
    return run_gate(evaluation, folder / "promotion.json", folder / "promotion.html", model_name=model_name,
                    alias="champion", margin=margin, limits=limits, figures=figures)


def test_first_model_beats_baseline_and_is_promoted(good, write_evaluation, model_name, tmp_path):
    import mlflow

    evaluation = write_evaluation(good)
    product = {"json": tmp_path / "reports" / "promotion.json", "html": tmp_path / "reports" / "promotion.html"}
    promote(product, {"evaluate": {"evaluation": evaluation}}, model_name=model_name, alias="champion",
            margin=0.0, max_size_mb=200, max_memory_mb=1024, max_p99_ms=1000)

    record = json.loads(product["json"].read_text())
    assert record["decision"] == "promoted"
    assert record["previous_champion"] is None and record["champion_after"] == "1"
    assert record["reference"]["kind"] == "baseline"
    assert record["metric"]["candidate"] == pytest.approx(good.metrics["roc_auc"])
    assert record["metric"]["reference"] == pytest.approx(0.5)
    assert [r["check"] for r in record["reasons"]] == list(gate.CHECKS)
    assert all(r["passed"] for r in record["reasons"])
    for key in ("size_mb", "memory_mb", "p99_ms"):
        item = record["budget"][key]
        assert item["measured"] > 0 and item["passed"] and item["limit"] > item["measured"]
    assert record["budget"]["details"]["latency_calls"] == 200
    assert record["schema"]["compatible"] and record["schema"]["reference"] == "none"

    page = product["html"].read_text()
    assert page.startswith("<!DOCTYPE html>") and "PROMOTED" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page
    for reason in record["reasons"]:
        assert reason["detail"].split(" ")[0] in page

    registry = Registry(model_name)
    assert registry.alias_version("champion") == "1"
    tags = registry.version(1).tags
    assert tags["nbprod.gate.decision"] == "promoted"
    assert tags["nbprod.run_id"] == good.run_id and tags["nbprod.git_commit"] == COMMIT
    assert tags["nbprod.threshold"] == "0.5" and tags["nbprod.task"] == "classification"
    assert float(tags["nbprod.metric.roc_auc"]) == pytest.approx(good.metrics["roc_auc"])
    assert {json.loads(tags["nbprod.gate.reasons"])[i]["check"] for i in range(5)} == set(gate.CHECKS)

    run = mlflow.get_run(record["mlflow_run_id"])
    assert run.data.tags["nbprod.gate.decision"] == "promoted" and run.data.tags["nbprod.task"] == "promote"
    assert run.data.metrics["budget.size_mb"] == pytest.approx(record["budget"]["size_mb"]["measured"])
    assert run.data.metrics["gate.promoted"] == 1.0


def test_over_budget_first_model_is_rejected(good, measured, write_evaluation, model_name, tmp_path):
    evaluation = write_evaluation(good)
    limits = gate.Limits(max_size_mb=measured.size_mb / 2, max_memory_mb=1024, max_p99_ms=1000)
    record = gate_run(evaluation, model_name, measured, limits=limits)
    assert record["decision"] == "rejected"
    assert [r["check"] for r in record["reasons"] if not r["passed"]] == ["size"]
    assert record["budget"]["size_mb"] == {"measured": measured.size_mb, "limit": measured.size_mb / 2,
                                           "passed": False}
    registry = Registry(model_name)
    assert registry.alias_version("champion") is None
    assert registry.version(1).tags["nbprod.gate.decision"] == "rejected"
    assert registry.version(1).tags["nbprod.gate.size"] == "fail"
    assert "REJECTED" in (tmp_path / "promotion.html").read_text()
    saved = json.loads((tmp_path / "promotion.json").read_text())
    assert saved["champion_after"] is None and "size" in saved["summary"]


def test_worse_challenger_is_rejected_and_champion_untouched(good, weak, measured, write_evaluation,
                                                             model_name, tmp_path, frames):
    first = gate_run(write_evaluation(good, tmp_path / "one"), model_name, measured)
    assert first["decision"] == "promoted"
    second = gate_run(write_evaluation(weak, tmp_path / "two"), model_name, measured)

    assert second["decision"] == "rejected"
    assert [r["check"] for r in second["reasons"] if not r["passed"]] == ["metric"]
    reference = second["reference"]
    assert reference["kind"] == "champion" and reference["version"] == "1"
    # the champion was scored on the holdout in this run
    assert reference["metrics"]["roc_auc"] == pytest.approx(good.metrics["roc_auc"])
    assert second["metric"]["candidate"] == pytest.approx(weak.metrics["roc_auc"])
    assert second["metric"]["improvement"] < 0
    assert second["schema"]["compatible"]

    registry = Registry(model_name)
    assert registry.alias_version("champion") == "1"
    assert registry.version(2).tags["nbprod.gate.decision"] == "rejected"
    assert registry.version(2).tags["nbprod.gate.metric"] == "fail"
    assert registry.version(1).tags["nbprod.gate.decision"] == "promoted"
    saved = json.loads((tmp_path / "two" / "promotion.json").read_text())
    assert saved["decision"] == "rejected" and saved["champion_after"] == "1"
    page = (tmp_path / "two" / "promotion.html").read_text()
    assert "champion (version 1)" in page and "REJECTED" in page


def test_incompatible_schema_is_rejected(good, needs_extra, measured, write_evaluation, model_name, tmp_path):
    gate_run(write_evaluation(good, tmp_path / "one"), model_name, measured)
    # margin -1: the metric passes whatever it is, so only the schema can stop it
    record = gate_run(write_evaluation(needs_extra, tmp_path / "two"), model_name, measured, margin=-1.0)
    assert record["decision"] == "rejected"
    assert [r["check"] for r in record["reasons"] if not r["passed"]] == ["schema"]
    assert record["schema"]["added"] == ["extra"]
    assert "extra" in record["reasons"][-1]["detail"]
    assert Registry(model_name).alias_version("champion") == "1"


def test_rerun_reuses_the_registered_version(good, measured, write_evaluation, model_name):
    evaluation = write_evaluation(good)
    gate_run(evaluation, model_name, measured)
    again = gate_run(evaluation, model_name, measured)
    assert again["candidate"]["version"] == "1"
    assert again["reference"]["kind"] == "baseline" and "already holds" in again["reference"]["note"]
    assert [v.version for v in Registry(model_name).versions()] == ["1"]


def test_ploomber_sees_the_evaluate_dependency():
    import inspect

    from ploomber.static_analysis.python import PythonCallableExtractor

    assert PythonCallableExtractor(inspect.getsource(promote)).extract_upstream() == {"evaluate"}


# -- nbprod promote ------------------------------------------------------------------------------

@pytest.fixture
def cli(tmp_path, monkeypatch, model_name):
    """Run ``nbprod promote ...`` through nbprod.cli.main in a throw-away project."""
    from nbprod import cli as cli_module

    project = tmp_path / "project"
    project.mkdir()
    (project / "pipeline.yaml").write_text("tasks: []\n")
    shutil.copy(REPO / "env.yaml", project / "env.yaml")
    # only the promote sub-command: the others live in modules this test does not need
    monkeypatch.setattr(cli_module, "COMMANDS", {"promote": cli_module.COMMANDS["promote"]})

    def run(*args: str) -> int:
        return cli_module.main(["promote", "--project", str(project),
                                "--set", f"registry.model_name={model_name}", *args])

    return run


def test_manual_rollback_records_who_why_when(good, weak, measured, write_evaluation, model_name, tmp_path,
                                              cli, capsys):
    gate_run(write_evaluation(good, tmp_path / "one"), model_name, measured)
    gate_run(write_evaluation(weak, tmp_path / "two"), model_name, measured, margin=-1.0)  # forced in
    registry = Registry(model_name)
    assert registry.alias_version("champion") == "2"

    assert cli("--version", "1", "--reason", "v2 underperforms", "--user", "alice") == 0
    assert registry.alias_version("champion") == "1"
    tags = registry.version(1).tags
    assert tags["nbprod.manual.user"] == "alice"
    assert tags["nbprod.manual.reason"] == "v2 underperforms"
    assert tags["nbprod.manual.previous_version"] == "2"
    assert tags["nbprod.manual.alias"] == "champion"
    assert tags["nbprod.manual.at"].startswith("20")
    assert "moved from version 2 to version 1" in capsys.readouterr().out

    assert cli("--list") == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split()[:3] == ["version", "aliases", "gate"]
    assert listing[1].split()[:3] == ["1", "champion", "promoted"]
    assert listing[2].split()[:2] == ["2", "promoted"]


def test_promote_unknown_version_is_a_clear_error(good, measured, write_evaluation, model_name, cli, capsys):
    assert cli("--version", "3") == 1
    assert f"registered model {model_name!r} does not exist" in capsys.readouterr().err

    gate_run(write_evaluation(good), model_name, measured)
    assert cli("--version", "7") == 1
    assert "has no version 7 (versions: 1)" in capsys.readouterr().err
    assert Registry(model_name).alias_version("champion") == "1"
    assert cli("--version", "0") == 2
    for alias in ("bad alias!", "v1"):  # MLflow's alias rules: a clear error, the champion untouched
        assert cli("--version", "1", "--alias", alias) == 2
        assert f"cannot move the alias {alias!r}" in capsys.readouterr().err
    assert Registry(model_name).alias_version("champion") == "1" and not Registry(model_name).version(1).tags.get(
        "nbprod.manual.user")


def test_a_rollback_during_the_gate_is_not_undone(good, weak, needs_extra, measured, write_evaluation, model_name,
                                                   tmp_path, cli, monkeypatch):
    """v1 then v2 are champions; while the gate measures v3 (which passes every other check), an operator rolls
    back to v1 with ``nbprod promote --version 1``: the gate refuses to move the alias (compare-and-set)."""
    from nbprod.registry import budget

    gate_run(write_evaluation(needs_extra, tmp_path / "one"), model_name, measured)
    gate_run(write_evaluation(good, tmp_path / "two"), model_name, measured, margin=-1.0)  # forced in
    assert Registry(model_name).alias_version("champion") == "2"

    def rollback_while_measuring(*args, **kwargs):
        assert cli("--version", "1", "--reason", "v2 misbehaves", "--user", "alice") == 0
        return measured

    monkeypatch.setattr(budget, "measure", rollback_while_measuring)
    record = gate_run(write_evaluation(weak, tmp_path / "three"), model_name, figures=None, margin=-1.0)
    assert record["decision"] == "rejected" and record["candidate"]["version"] == "3"
    assert [r["check"] for r in record["reasons"] if not r["passed"]] == ["alias"]
    assert "moved from version 2 to version 1" in record["summary"]
    assert record["previous_champion"] == "2" and record["champion_after"] == "1"
    assert Registry(model_name).alias_version("champion") == "1"
    assert Registry(model_name).version(3).tags["nbprod.gate.alias"] == "fail"
