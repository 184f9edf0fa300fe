"""The PromQL of deploy/monitoring (alert rules and the Grafana dashboard), for the tests that check it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml

MONITORING = Path(__file__).resolve().parents[1] / "deploy" / "monitoring"
ALERTS = MONITORING / "alerts.yaml"
ALERT_TESTS = MONITORING / "alerts.test.yaml"
DASHBOARD = MONITORING / "grafana-dashboard.json"
#: What Grafana puts in place of its variables before the query reaches Prometheus.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$instance": ".*"}
SELECTOR = re.compile(r"\b(nbprod_[a-z0-9_]+)\s*(?:\{([^}]*)\})?")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def promtool() -> str:
    """promtool of Debian's prometheus package (scripts/install-promtool.sh)."""
    found = shutil.which("promtool")
    if found is None:
        raise FileNotFoundError("promtool is not installed: bash scripts/install-promtool.sh")
    return found


def run_promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120)


def alert_expressions() -> dict[str, str]:
    """Alert name -> expression."""
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"]}


def dashboard_expressions(dashboard: dict | None = None) -> dict[str, str]:
    """``panel title/refId`` -> the query as Prometheus receives it (Grafana variables replaced)."""
    dashboard = dashboard if dashboard is not None else json.loads(DASHBOARD.read_text())
    found = {}
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            found[f"{panel['title']}/{target['refId']}"] = expr
    return found


def as_recording_rules(expressions: dict[str, str], folder: Path) -> Path:
    """A rule file recording each expression, so that ``promtool check rules`` parses them all."""
    rules = [{"record": f"dashboard:query_{index}", "expr": expr} for index, expr in enumerate(expressions.values())]
    path = folder / "queries.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    return path


def selectors(expr: str) -> list[tuple[str, set[str]]]:
    """``(metric family, label names matched)`` of each nbprod series selector in ``expr``."""
    result = []
    for name, matchers in SELECTOR.findall(expr):
        family = next((name[: -len(suffix)] for suffix in HISTOGRAM_SUFFIXES if name.endswith(suffix)), name)
        result.append((family, set(MATCHER.findall(matchers or ""))))
    return result
