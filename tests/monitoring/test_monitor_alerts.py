"""``nbprod monitor`` alerts the team's webhook when the data drifts (against the shared sample build, copied)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest
from alert_receiver import Receiver

from project_copy import QUICK, SAMPLE

pytestmark = pytest.mark.slow

TIME = "scheduled_departure"


def test_a_drifting_batch_alerts_the_webhook_with_the_decision(sample_build, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(sample_build[0], project, ignore=shutil.ignore_patterns("predictions", "monitoring"))
    new = pd.read_parquet(project / "build" / "data" / "new.parquet").drop(columns=[TIME, "late"])
    numeric = new.select_dtypes("number").columns
    new[numeric] = new[numeric] * 10 + 1000  # every numeric column far from the reference
    batch = tmp_path / "drifted.csv"
    new.to_csv(batch, index=False)
    sets = [*QUICK, *SAMPLE, "tracking.experiment=monitor-alerts-test", "monitor.min_rows=20", "monitor.trigger_k=1",
            "monitor.trigger_n=1", "monitor.drift_share=0.1",
            "alerts.webhooks=[{url_env: TEST_MONITOR_ALERT_URL, format: slack}]"]
    with Receiver() as hook:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "NBPROD_"))}
        env["TEST_MONITOR_ALERT_URL"] = hook.url
        done = subprocess.run([sys.executable, "-m", "nbprod.cli", "monitor", "--data", str(batch), "--no-retrain",
                               "--no-snapshot", "--project", str(project), *[a for s in sets for a in ("--set", s)]],
                              capture_output=True, text=True, timeout=600, env=env, cwd=project)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    (alert,) = hook.bodies  # retraining is off: no "retraining started"
    assert alert["text"].startswith("*Dataset drift*: the data drifted in 1 of the last 1 windows")
    assert "mlflow_run: runs:/" in alert["text"]
