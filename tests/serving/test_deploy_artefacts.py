"""The deployment files against the real service: the image's HEALTHCHECK, the pods' probes, the monitoring queries.

A server (tests/serving/conftest.py) answers a good and a bad request, then its /metrics is
scraped: every nbprod series that deploy/monitoring's alerts and dashboard select must be
exported, with the labels they match on (``instance`` is added by Prometheus). The exposition
itself is linted by ``promtool check metrics``. The Dockerfile's HEALTHCHECK command and the
Kubernetes probes' paths are run against the same server. The files themselves are checked in
tests/deploy.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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


def test_the_images_healthcheck_command_passes_against_the_service(server):
    dockerfile = (Path(__file__).resolve().parents[2] / "Dockerfile").read_text()
    command = re.search(r'CMD \["python", "-c", "(.+)"\]\n', dockerfile).group(1)
    healthy = subprocess.run([sys.executable, "-c", command], env={"NBPROD_PORT": str(server.port)},
                             capture_output=True, text=True, timeout=30)
    assert healthy.returncode == 0, healthy.stderr
    elsewhere = subprocess.run([sys.executable, "-c", command.replace("/health", "/no-such-path")],
                               env={"NBPROD_PORT": str(server.port)}, capture_output=True, text=True, timeout=30)
    assert elsewhere.returncode != 0  # the check fails on an error status, not only on a refused connection


def test_the_pods_probe_paths_answer_200_on_a_ready_service(server):
    serve = yaml.safe_load((Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "base" / "serve.yaml").read_text())
    container = serve["spec"]["template"]["spec"]["containers"][0]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        status, _, _ = http("GET", server.url + container[probe]["httpGet"]["path"])
        assert status == 200, probe
