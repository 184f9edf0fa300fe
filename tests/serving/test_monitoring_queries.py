"""The metric and label names of deploy/monitoring's alerts and dashboard exist in the real service's /metrics.

A server (tests/serving/conftest.py) answers a good and a bad request, then its /metrics is
scraped: every nbprod series the PromQL selects must be exported, with the labels it matches
on (``instance`` is added by Prometheus). The exposition itself is linted by ``promtool check
metrics``. The queries' syntax and the alerts' behaviour are tested in tests/deploy/test_monitoring.py.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from conftest import http
from monitoring_queries import alert_expressions, dashboard_expressions, promtool, selectors

pytestmark = pytest.mark.slow

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ")
TYPE = re.compile(r"^# TYPE (\S+) (\S+)$")


@pytest.fixture(scope="module")
def scrape(server, good_records) -> str:
    """/metrics after a good request (one with a category never seen in training) and a bad one."""
    assert http("POST", server.url + "/predict", [*good_records[:2], {**good_records[2], "carrier": "ZZ"}])[0] == 200
    assert http("POST", server.url + "/predict", [{"nothing": 1}])[0] == 422
    status, _, text = http("GET", server.url + "/metrics")
    assert status == 200
    return text


def exported(text: str) -> dict[str, set[str]]:
    """Metric family -> label names seen on its samples (histogram series folded into their family)."""
    families: dict[str, set[str]] = {}
    histograms = {match.group(1) for line in text.splitlines() if (match := TYPE.match(line))
                  and match.group(2) == "histogram"}
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if not match or line.startswith("#"):
            continue
        name = match.group(1)
        family = next((name[: -len(suffix)] for suffix in ("_bucket", "_sum", "_count")
                       if name.endswith(suffix) and name[: -len(suffix)] in histograms), name)
        labels = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', match.group(2) or ""))
        families.setdefault(family, set()).update(labels - {"le"})
    return families


@pytest.mark.parametrize("source", ["alerts", "dashboard"])
def test_every_selected_series_and_label_is_exported_by_the_service(scrape, source):
    expressions = alert_expressions() if source == "alerts" else dashboard_expressions()
    families = exported(scrape)
    used = [(where, family, labels) for where, expr in expressions.items() for family, labels in selectors(expr)]
    assert len(used) >= len(expressions)
    for where, family, labels in used:
        assert family in families, f"{where}: {family} is not in /metrics"
        assert labels - {"instance"} <= families[family], f"{where}: {family} has no labels {labels}"


def test_metrics_exposition_passes_promtools_lint(scrape):
    result = subprocess.run([promtool(), "check", "metrics"], input=scrape, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
