"""Prometheus alert rules and the Grafana dashboard under deploy/monitoring, checked offline.

The alert rules are checked with ``promtool check rules`` and unit-tested with ``promtool test
rules`` (synthetic series: each alert fires when it should and stays quiet on a healthy
service); every dashboard query is parsed by promtool too (as a recording rule). The dashboard
JSON is checked structurally against the dashboard model of Grafana's schema version 39
(no JSON schema of Grafana's is installable here). That the metric and label names exist in
the real service's /metrics is tested in tests/serving/test_deploy_artefacts.py (the server
fixture lives there). Prometheus scraping and Grafana rendering need a cluster.
"""

from __future__ import annotations

import json
import shutil

import jsonschema
import pytest
import yaml

from deploy_helpers import REPO
from monitoring_queries import (ALERT_TESTS, ALERTS, DASHBOARD, alert_expressions, as_recording_rules,
                                dashboard_expressions, run_promtool)

#: The part of Grafana's dashboard model (schemaVersion 39, Grafana 10.x/11.x) the file uses.
DASHBOARD_SCHEMA = {
    "type": "object",
    "required": ["uid", "title", "schemaVersion", "panels", "templating", "time"],
    "properties": {
        "uid": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,40}$"},
        "title": {"type": "string", "minLength": 1},
        "schemaVersion": {"const": 39},
        "refresh": {"type": "string"},
        "time": {"type": "object", "required": ["from", "to"]},
        "templating": {"type": "object", "required": ["list"], "properties": {"list": {"type": "array", "items": {
            "type": "object", "required": ["name", "type"],
            "properties": {"type": {"enum": ["datasource", "query", "custom", "constant", "interval"]}}}}}},
        "panels": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["id", "type", "title", "gridPos", "targets", "datasource"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "integer", "minimum": 1},
                "type": {"enum": ["stat", "timeseries", "gauge", "bargauge", "table", "heatmap", "text"]},
                "title": {"type": "string", "minLength": 1},
                "description": {"type": "string"},
                "datasource": {"$ref": "#/$defs/datasource"},
                "gridPos": {"type": "object", "required": ["h", "w", "x", "y"], "additionalProperties": False,
                            "properties": {"h": {"type": "integer", "minimum": 1},
                                           "w": {"type": "integer", "minimum": 1, "maximum": 24},
                                           "x": {"type": "integer", "minimum": 0, "maximum": 23},
                                           "y": {"type": "integer", "minimum": 0}}},
                "targets": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["expr", "refId", "datasource"], "additionalProperties": False,
                    "properties": {"expr": {"type": "string", "minLength": 1},
                                   "refId": {"type": "string", "pattern": "^[A-Z]$"},
                                   "legendFormat": {"type": "string"},
                                   "datasource": {"$ref": "#/$defs/datasource"}}}},
                "fieldConfig": {"type": "object", "required": ["defaults", "overrides"]},
                "options": {"type": "object"},
            }}},
    },
    "$defs": {"datasource": {"type": "object", "required": ["type", "uid"],
                             "properties": {"type": {"const": "prometheus"}, "uid": {"const": "${datasource}"}}}},
}


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def test_alert_rules_pass_promtool_check():
    result = run_promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_expressions())} rules found" in result.stdout


def test_alerts_fire_on_errors_latency_and_no_model_and_stay_quiet_when_healthy():
    result = run_promtool("test", "rules", str(ALERT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    tested = {case["alertname"] for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
              for case in test["alert_rule_test"]}
    assert tested == set(alert_expressions())


def test_promtool_rejects_a_broken_rule(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [
        {"alert": "Broken", "expr": "sum(rate(nbprod_requests_total[5m])"}]}]}))
    result = run_promtool("check", "rules", str(broken))
    assert result.returncode != 0 and "parse error" in (result.stdout + result.stderr)


def test_p99_alert_threshold_is_the_gates_latency_budget():
    budget_ms = yaml.safe_load((REPO / "env.yaml").read_text())["registry"]["budget"]["max_p99_ms"]
    assert alert_expressions()["NbprodHighLatencyP99"].strip().endswith(f"> {budget_ms / 1000:g}")


def test_every_dashboard_query_parses(tmp_path):
    queries = dashboard_expressions()
    assert len(queries) >= 10
    result = run_promtool("check", "rules", str(as_recording_rules(queries, tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_dashboard_query_is_caught(tmp_path):
    broken = dashboard()
    broken["panels"][0]["targets"][0]["expr"] = "histogram_quantile(0.99, sum by (le) (nbprod_batch_rows_bucket"
    result = run_promtool("check", "rules", str(as_recording_rules(dashboard_expressions(broken), tmp_path)))
    assert result.returncode != 0


def test_dashboard_matches_grafanas_model_and_its_panels_tile_the_grid():
    document = dashboard()
    jsonschema.validate(document, DASHBOARD_SCHEMA)
    ids = [panel["id"] for panel in document["panels"]]
    assert len(ids) == len(set(ids))
    cells = set()
    for panel in document["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        panel_cells = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                       for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not cells & panel_cells, f"{panel['title']} overlaps another panel"
        cells |= panel_cells
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]


def test_a_dashboard_with_an_unknown_panel_field_is_rejected():
    broken = dashboard()
    broken["panels"][0]["gridpos"] = broken["panels"][0].pop("gridPos")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, DASHBOARD_SCHEMA)


def test_dashboard_shows_what_the_issue_asks_for():
    text = " ".join(dashboard_expressions().values())
    for needed in ("rate(nbprod_requests_total", "histogram_quantile(0.99, sum by (le) (rate("
                   "nbprod_request_duration_seconds_bucket", "sum by (kind) (rate(nbprod_errors_total",
                   "nbprod_batch_rows_bucket", "nbprod_model_version", 'nbprod_prediction_log_buffered_rows'):
        assert needed in text, needed


def test_the_shared_check_passes_the_rules_and_reports_a_failing_rule_test(tmp_path):
    from nbprod.scaffold.validate import monitoring_problems

    assert monitoring_problems(REPO, tmp_path) == []
    copy = tmp_path / "project"
    (copy / "deploy").mkdir(parents=True)
    shutil.copytree(REPO / "deploy" / "monitoring", copy / "deploy" / "monitoring")
    tests = copy / "deploy" / "monitoring" / "alerts.test.yaml"
    tests.write_text(tests.read_text().replace("values: '0+10x20'", "values: '0+1x20'", 1))
    (problem,) = monitoring_problems(copy, tmp_path)
    assert problem.startswith("promtool test rules: ")
