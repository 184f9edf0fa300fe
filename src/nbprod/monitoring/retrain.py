"""Retraining on the refreshed data window: a build with the split dates moved forward.

**The refreshed data window.** With a time split, the build cuts the data at
``valid_start < test_start < new_start``. When the windows are placed by the data's
own time column, retraining moves the three cuts forward so that ``new_start`` is the
end of the latest window that voted (the newest monitored data), keeping the
configured lengths of the validation and test periods::

    new_start   = end of the deciding window
    test_start  = new_start  - (split.new_start  - split.test_start)
    valid_start = test_start - (split.test_start - split.valid_start)

So everything up to the drifted windows is in the build: the model is trained on
the data before ``valid_start`` (now later than before), and the gate compares it
with the champion on a test period that ends with the drifted windows -- the
regime the model must serve now. The rows come from ``data.source`` (the default
data holds the labelled later months; for your own data, point ``data.source`` at a
file that holds the labelled new rows, e.g. with ``--retrain-set data.source=...``).
The cuts are a pure function of the window and the configured split, so retraining
twice on the same window gives the same build. Windows placed by request time do not
move the cuts (request times are not data times): the retraining build then uses the
settings and ``--retrain-set`` overrides as given. Overrides the user gives for
``split.*`` win over the computed ones.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from nbprod import settings as settings_module
from nbprod.project import Project

SPLIT_KEYS = ("valid_start", "test_start", "new_start")


@dataclass
class Outcome:
    """What the retraining build did and what the gate decided."""

    ok: bool
    overrides: list[str]
    parent_run_id: str | None = None
    decision: str | None = None          # "promoted" / "rejected" / None (the gate did not run)
    model_version: str | None = None
    champion: str | None = None
    reason: str = ""
    champion_metrics: dict[str, float] = field(default_factory=dict)  # the champion after, on the new test period
    seconds: float = 0.0
    statuses: dict[str, str] = field(default_factory=dict)


def _stamp_text(stamp: pd.Timestamp) -> str:
    return stamp.strftime("%Y-%m-%d") if stamp == stamp.normalize() else stamp.isoformat(timespec="seconds")


def refreshed_split(split: Mapping[str, Any], end: Any) -> dict[str, str]:
    """The split cuts moved so that ``new_start`` is ``end`` (the configured period lengths kept)."""
    from nbprod.data.times import cut_stamp

    valid, test, new = (cut_stamp(split[key], None, f"split.{key}") for key in SPLIT_KEYS)
    new_start = pd.Timestamp(end)
    test_start = new_start - (new - test)
    valid_start = test_start - (test - valid)
    return {"valid_start": _stamp_text(valid_start), "test_start": _stamp_text(test_start),
            "new_start": _stamp_text(new_start)}


def retrain_overrides(settings: Mapping[str, Any], window_end: Any, placed_by_data_time: bool,
                      extra: Sequence[str] = ()) -> list[str]:
    """``key=value`` overrides of the retraining build: the refreshed split (when it applies), then ``extra``."""
    overrides: list[str] = []
    user_split = any(settings_module.parse_override(text)[0][:2] in (["split", key] for key in SPLIT_KEYS)
                     for text in extra)
    if placed_by_data_time and settings["data"]["time_column"] and window_end is not None and not user_split:
        from nbprod.data.times import cut_stamp

        current_new = cut_stamp(settings["split"]["new_start"], None, "split.new_start")
        end = pd.Timestamp(window_end)
        if end > current_new:
            overrides += [f'split.{key}="{value}"' for key, value in refreshed_split(settings["split"], end).items()]
    return overrides + list(extra)


def run(project: Project, overrides: Sequence[str], log_path: Path | None = None,
        timeout_s: float | None = None) -> Outcome:
    """Build the pipeline with ``overrides`` in a fresh process; read the gate's decision from ``promotion.json``.

    The build runs as ``nbprod build --env <the effective settings>`` in a subprocess:
    a monitoring process that already loaded a model (OpenMP pools, MLflow threads)
    must not fork Ploomber's task processes. Its output goes to ``log_path``.
    """
    import subprocess
    import sys
    import tempfile

    import yaml

    started = time.perf_counter()
    outcome = Outcome(ok=False, overrides=list(overrides))
    try:
        refreshed = project.with_overrides(overrides)
    except settings_module.SettingsError as error:
        outcome.reason = f"the retraining settings are invalid: {error}"
        return outcome
    evidence = refreshed.promotion
    before = evidence.stat().st_mtime_ns if evidence.is_file() else None
    with tempfile.TemporaryDirectory(prefix="nbprod-retrain-") as folder:
        env_file = Path(folder) / "env.yaml"
        env_file.write_text(yaml.safe_dump(dict(refreshed.settings), sort_keys=False))
        command = [sys.executable, "-m", "nbprod.cli", "build", "--project", str(project.root), "--env", str(env_file)]
        try:
            completed = subprocess.run(command, cwd=project.root, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            outcome.reason = f"the retraining build took longer than {timeout_s:g} s and was stopped"
            outcome.parent_run_id = _latest_build_run(project)
            outcome.seconds = time.perf_counter() - started
            return outcome
    output = completed.stdout + completed.stderr
    if log_path is not None:
        from nbprod import io

        io.write_text(f"$ nbprod build {' '.join('--set ' + o for o in overrides)}\n\n{output}", log_path)
    outcome.seconds = time.perf_counter() - started
    found = re.search(r"MLflow parent run (\w+)", completed.stdout)
    outcome.parent_run_id = found.group(1) if found else None
    outcome.statuses = {m.group(1): m.group(2) for m in re.finditer(r"^  (\w+)\s+(Executed|Skipped|Errored|Aborted"
                                                                      r"|WaitingExecution|WaitingUpstream)",
                                                                      output, re.MULTILINE)}
    if completed.returncode != 0:
        failed = [name for name, status in outcome.statuses.items() if status not in ("Executed", "Skipped")]
        outcome.parent_run_id = outcome.parent_run_id or _latest_build_run(project)
        outcome.reason = (f"the retraining build failed (tasks not done: {', '.join(failed) or 'unknown'}): "
                          f"{_last_line(completed.stderr or completed.stdout)}")
        return outcome
    outcome.ok = True
    after = evidence.stat().st_mtime_ns if evidence.is_file() else None
    if outcome.statuses.get("promote") != "Executed" and (after is None or after == before):
        outcome.reason = "the pipeline was already up to date with these settings: no new model to gate"
        return outcome
    record = json.loads(evidence.read_text())
    outcome.decision = record.get("decision")
    outcome.model_version = str((record.get("candidate") or {}).get("version") or "") or None
    outcome.champion = None if record.get("champion_after") is None else str(record["champion_after"])
    outcome.reason = record.get("summary") or outcome.decision or ""
    measured = record.get("candidate") if outcome.decision == "promoted" else record.get("reference")
    outcome.champion_metrics = {key: float(value) for key, value in ((measured or {}).get("metrics") or {}).items()
                                if isinstance(value, (int, float))}
    return outcome


def _last_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[-1][:500] if lines else "no details"


def _latest_build_run(project: Project) -> str | None:
    """The newest build's parent run id (the failed build's, just after it failed)."""
    try:
        from nbprod import tracking
        from nbprod.tracking import tags

        client = tracking.client_for(project.tracking_uri())
        experiment = client.get_experiment_by_name(project.experiment)
        if experiment is None:
            return None
        runs = client.search_runs([experiment.experiment_id], tags.equals(tags.BUILD, "true"),
                                  order_by=["attributes.start_time DESC"], max_results=1)
        return runs[0].info.run_id if runs else None
    except Exception:  # noqa: BLE001
        return None
