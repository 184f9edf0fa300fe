"""The PromQL of deploy/monitoring (alert rules and the Grafana dashboard), for the tests that check it.

The functions are nbprod.scaffold.validate's (shared with the projects ``nbprod new`` writes), bound to
this repository's files.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from nbprod.scaffold import validate
from nbprod.scaffold.validate import as_recording_rules, selectors

__all__ = ["ALERTS", "ALERT_TESTS", "DASHBOARD", "alert_expressions", "as_recording_rules", "dashboard_expressions",
           "promtool", "run_promtool", "selectors"]

REPO = Path(__file__).resolve().parents[1]
ALERTS = REPO / validate.ALERTS
ALERT_TESTS = REPO / validate.ALERT_TESTS
DASHBOARD = REPO / validate.DASHBOARD


def promtool() -> str:
    """promtool of Debian's prometheus package (scripts/install-promtool.sh)."""
    return validate.tool("promtool")


def run_promtool(*args: str) -> subprocess.CompletedProcess:
    return validate.run_promtool(*args)


def alert_expressions() -> dict[str, str]:
    """Alert name -> expression, of deploy/monitoring/alerts.yaml."""
    return validate.alert_expressions(ALERTS)


def dashboard_expressions(dashboard: dict | None = None) -> dict[str, str]:
    """``panel title/refId`` -> the query as Prometheus receives it (Grafana variables replaced)."""
    return validate.dashboard_expressions(dashboard if dashboard is not None else json.loads(DASHBOARD.read_text()))
