"""The replay demo: the later months sent through the running service week by week, monitored after each week.

For each window (``monitor.window``, by the data's time column) the rows are POSTed to
``/predict`` in batches (``X-Request-ID: replay-<run>-<window>-<n>``, logged as the client's id), the
prediction log is awaited until every answered row is in it, the true outcomes of the week are
"learned" (a labels table keyed by the service's request id and row: the flight has landed), and one
monitoring pass (:func:`nbprod.monitoring.monitor.run_pass`) runs on the log rows of
this replay. The narrative says what was sent, which columns drifted, the share,
the decision, and -- when retraining fires -- the build and the gate's decision; the
service picks up a promoted champion by itself (``serve.reload_seconds``).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from nbprod.project import Project


class ReplayError(RuntimeError):
    """The demo cannot go on (service unreachable, no data): the message says what to do."""


@dataclass
class Client:
    """A minimal JSON client of the prediction service (standard library only)."""

    url: str
    token: str | None = None
    timeout: float = 30.0

    def _request(self, path: str, body: Any = None, headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
        data = None if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(self.url.rstrip("/") + path, data=data, method="POST" if data else "GET")
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            try:
                return error.code, json.loads(error.read() or b"null")
            except ValueError:
                return error.code, None

    def ready(self) -> tuple[bool, Any]:
        """Whether ``/ready`` says a model is loaded (raises ReplayError when nothing answers)."""
        try:
            status, body = self._request("/ready")
        except (urllib.error.URLError, OSError) as error:
            raise ReplayError(f"the prediction service at {self.url} is not reachable ({getattr(error, 'reason', error)}); "
                              "start it with `nbprod serve` or pass --start-server") from None
        return status == 200, body

    def wait_ready(self, timeout: float, process: Any = None) -> Any:
        """Wait until a model is loaded; the ``/ready`` body."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise ReplayError(f"the service exited with status {process.returncode} before it was ready")
            try:
                ok, last = self.ready()
                if ok:
                    return last
            except ReplayError:
                pass
            time.sleep(0.3)
        raise ReplayError(f"the service at {self.url} was not ready after {timeout:.0f} s: {last}")

    def predict(self, body: bytes, request_id: str) -> tuple[int, Any]:
        try:
            return self._request("/predict", body, {"X-Request-ID": request_id})
        except (urllib.error.URLError, OSError) as error:
            raise ReplayError(f"the prediction service at {self.url} stopped answering "
                              f"({getattr(error, 'reason', error)})") from None


def records_json(frame: pd.DataFrame) -> bytes:
    """Rows as a JSON list of records (ISO dates, null for missing)."""
    return frame.to_json(orient="records", date_format="iso", date_unit="s").encode()


def start_server(project: Path, overrides: list[str], port: int, env_file: Path | None = None,
                 log_path: Path | None = None) -> Any:
    """``nbprod serve`` as a subprocess on ``port`` (stop it with :func:`stop_server`)."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "nbprod.cli", "serve", "--project", str(project), "--port", str(port),
               "--log-level", "warning"]
    if env_file:
        command += ["--env", str(env_file)]
    for text in overrides:
        command += ["--set", text]
    output = open(log_path, "ab") if log_path else subprocess.DEVNULL
    return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, cwd=project)


def stop_server(process: Any, timeout: float = 30.0) -> None:
    """SIGTERM (graceful: the log is flushed), then kill when it does not stop."""
    import subprocess

    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def weeks_of(data: pd.DataFrame, settings: Mapping[str, Any]) -> list[Any]:
    """The replayed rows as windows (``monitor.window`` by the data's time column), in time order."""
    from nbprod.monitoring.windows import slice_windows

    column = settings["data"]["time_column"]
    if not column or column not in data.columns:
        raise ReplayError("the replay needs the data's time column (data.time_column) in the rows")
    windows, _ = slice_windows(data, column, settings["monitor"]["window"], settings["split"]["new_start"])
    return windows


def thin(frame: pd.DataFrame, limit: int, seed: int) -> pd.DataFrame:
    """At most ``limit`` rows, sampled at random, in their original order."""
    if len(frame) <= limit:
        return frame
    keep = np.sort(np.random.default_rng(seed).choice(len(frame), size=limit, replace=False))
    return frame.iloc[keep]


def wait_for_log(folder: Path, since: pd.Timestamp, request_ids: set[str], rows: int, timeout: float) -> pd.DataFrame:
    """The log rows of this replay once the ``rows`` answered rows of ``request_ids`` are all in it."""
    from nbprod.serving.prediction_log import read_prediction_log

    deadline = time.monotonic() + timeout
    while True:
        log = read_prediction_log(folder, since=since)
        mine = log[log["request_id"].isin(request_ids)] if len(log) else log
        if len(mine) >= rows or time.monotonic() > deadline:
            return log
        time.sleep(0.25)


def replay(project: Project, data: pd.DataFrame, client: Client, *,
           batch_size: int = 200, max_requests: int = 100, weeks: int | None = None,
           retrain_overrides: list[str] = (), seed: int = 0, say: Callable[[str], None] = print,
           log_timeout: float = 60.0) -> list[Any]:
    """Replay ``data`` week by week through ``client``; monitor :class:`~nbprod.project.Project` ``project`` after
    each week; return the reports."""
    from nbprod.monitoring.monitor import attach_labels, run_pass

    settings = project.settings
    target = project.target
    folder = project.prediction_log
    run = uuid.uuid4().hex[:8]
    since = pd.Timestamp.now(tz="UTC").floor("s")
    windows = weeks_of(data, settings)
    if weeks is not None:
        windows = windows[: max(0, int(weeks))]
    if not windows:
        raise ReplayError("nothing to replay: the data has no rows with a time (is the `new` split empty? "
                          "a random split holds no new data back)")
    labels: list[pd.DataFrame] = []
    reports = []
    for number, window in enumerate(windows, 1):
        rows = thin(window.frame, batch_size * max_requests, seed + number)
        features = rows.drop(columns=[target], errors="ignore")
        ids: set[str] = set()
        versions: dict[str, int] = {}
        answered = 0
        failures: list[str] = []
        for index, start in enumerate(range(0, len(rows), batch_size)):
            client_id = f"replay-{run}-w{number:02d}-{index:04d}"
            chunk = features.iloc[start:start + batch_size]
            status, body = client.predict(records_json(chunk), client_id)
            if status != 200:
                failures.append(f"{client_id}: HTTP {status} {((body or {}).get('error') or {}).get('message', '')}")
                continue
            request_id = body["request_id"]  # the service's own id: the key labels are joined on
            ids.add(request_id)
            answered += len(chunk)
            version = str(((body or {}).get("model") or {}).get("version"))
            versions[version] = versions.get(version, 0) + len(chunk)
            if target in rows.columns:
                labels.append(pd.DataFrame({"request_id": request_id, "row": np.arange(len(chunk)),
                                            target: rows[target].iloc[start:start + batch_size].to_numpy()}))
        served = ", ".join(f"v{v}" for v in versions) or "nobody"
        label = f"{window.start:%-d %b} to {window.end:%-d %b %Y}"
        say(f"\nWeek {number} ({label}): sent {answered:,} of {window.rows:,} rows in "
            f"{len(ids)} request(s), served by {served}"
            + (f"; {len(failures)} request(s) failed, first: {failures[0]}" if failures else ""))
        log = wait_for_log(folder, since, ids, answered, log_timeout)
        if labels:
            log, _ = attach_labels(log, pd.concat(labels, ignore_index=True), target, ["request_id", "row"])
        report = run_pass(project, log, f"the prediction log {folder} (this replay)",
                          retrain_overrides=list(retrain_overrides), log=lambda text: say(f"  {text}"),
                          on_decision=lambda checked, w=window: say_lines(say, narrate_check(checked, w)))
        reports.append(report)
        say_lines(say, narrate_outcome(report))
    return reports


def say_lines(say: Callable[[str], None], lines: list[str]) -> None:
    for line in lines:
        say(line)


def narrate_check(report: Any, window: Any) -> list[str]:
    """The week's drift, quality and decision, in plain lines."""
    from nbprod.monitoring.windows import iso

    entry = next((w for w in report.windows if w["start"] == iso(window.start)), None)
    lines = []
    if entry is not None:
        drift = entry["drift"]
        names = [c["column"] for c in drift["columns"] if c.get("drifted") and c.get("status") != "not_in_reference"]
        share = drift.get("share")
        verdict = "DRIFT" if drift.get("drifted") else "below the alarm level"
        lines.append(f"  drift: {drift['n_drifted']} of {drift['n_columns']} columns, share "
                     f"{'n/a' if share is None else f'{share:.2f}'} (alarm at {drift['drift_share']:g}): {verdict}"
                     + (f" -- {', '.join(names)}" if names else ""))
        performance = entry.get("performance") or {}
        if performance.get("value") is not None:
            expected = performance.get("reference")
            lines.append(f"  quality: {performance['metric']} {performance['value']:.3f} on this week's outcomes"
                         + (f" (expected {expected:.3f})" if expected is not None else ""))
    decision = report.decision
    if decision.retrain and not report.retrain_enabled:
        lines.append(f"  decision: retraining due -- {decision.reason} (monitor.retrain is false: recorded only)")
    else:
        lines.append(f"  decision: {'RETRAIN' if decision.retrain else 'no action'} -- {decision.reason}")
    return lines


def narrate_outcome(report: Any) -> list[str]:
    """The retraining build and the gate's verdict, when a build ran."""
    lines = []
    outcome = report.outcome
    if outcome is not None:
        lines.append(f"  retraining build (MLflow parent run {outcome.parent_run_id}, {outcome.seconds:.0f} s) with "
                     f"{', '.join(outcome.overrides) or 'the current settings'}")
        if outcome.decision:
            lines.append(f"  promotion gate: {outcome.decision.upper()} v{outcome.model_version} -- {outcome.reason}; "
                         f"champion now v{outcome.champion}")
        else:
            lines.append(f"  {outcome.reason}")
    return lines


def load_replay_data(project: Project, path: str | None) -> tuple[pd.DataFrame, str]:
    """The rows to replay: ``path`` or the current build's ``new`` split, sorted by time."""
    from nbprod.monitoring.monitor import read_rows

    settings = project.settings
    source = Path(path) if path else project.split("new")
    if not source.is_file():
        raise ReplayError(f"{source} does not exist" + ("" if path else " (build the pipeline first: nbprod build)"))
    data = read_rows(source)
    column = settings["data"]["time_column"]
    if column and column in data.columns:
        data = data.sort_values(column, kind="stable").reset_index(drop=True)
    return data, str(source)


def token(settings: Mapping[str, Any]) -> str | None:
    """The bearer token the service requires (``serve.token_env``), when set."""
    name = settings["serve"].get("token_env")
    return os.environ.get(name) if name else None
