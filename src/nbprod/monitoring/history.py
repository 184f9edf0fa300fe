"""The drift history ``{monitor.reports}/drift_history.json`` (shared with the dashboards) and ``decisions.md``.

Shape (written exactly so; windows sorted by start, keyed by ``(start, end)``)::

    {"reference": {"path": ".../train.parquet", "rows": 123},
     "windows": [{"start": iso, "end": iso, "rows": int, "model_version": str | null,
                  "drift": DatasetDrift.to_dict(),
                  "performance": {"metric": str, "value": float, "reference": float} | null}],
     "events": [{"time": iso, "kind": "retrain|no_action|promoted|rejected", "reason": str,
                 "window": iso | null, "run_id": str | null, "model_version": str | null}]}

Every change is a read-modify-write under an exclusive lock (``.drift_history.json.lock``)
and the file is replaced atomically, so readers never see half a file and two
``nbprod monitor`` calls do not lose each other's windows or events.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from nbprod import io

DECISIONS_FILE = "decisions.md"
EVENT_KINDS = ("retrain", "no_action", "promoted", "rejected")


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")


def empty() -> dict[str, Any]:
    return {"reference": None, "windows": [], "events": []}


def read(path: str | Path) -> dict[str, Any]:
    """The history at ``path``; an empty one when the file does not exist."""
    path = Path(path)
    if not path.is_file():
        return empty()
    data = json.loads(path.read_text())
    return {"reference": data.get("reference"), "windows": list(data.get("windows") or []),
            "events": list(data.get("events") or [])}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def update(path: str | Path, change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    """Read the history, apply ``change`` to it (in place), write it back atomically; return it."""
    path = Path(path)
    with _locked(path):
        data = read(path)
        change(data)
        data["windows"] = sorted(data["windows"], key=lambda w: (str(w["start"]), str(w["end"])))
        io.write_json(data, path)
    write_decisions(data, path.with_name(DECISIONS_FILE))
    return data


def merge_windows(data: dict[str, Any], windows: Sequence[Mapping[str, Any]]) -> None:
    """Add ``windows``; one with the ``(start, end)`` of a recorded window replaces it (never a duplicate)."""
    by_key = {(str(w["start"]), str(w["end"])): w for w in data["windows"]}
    for window in windows:
        by_key[(str(window["start"]), str(window["end"]))] = dict(window)
    data["windows"] = list(by_key.values())


def event(kind: str, reason: str, window: str | None = None, run_id: str | None = None,
          model_version: str | None = None, time: str | None = None) -> dict[str, Any]:
    """One event in the history's shape."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"event kind must be one of {EVENT_KINDS}, got {kind!r}")
    return {"time": time or now(), "kind": kind, "reason": reason, "window": window,
            "run_id": run_id, "model_version": None if model_version is None else str(model_version)}


def recorded(data: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
    """The recorded windows by ``(start, end)``."""
    return {(str(w["start"]), str(w["end"])): w for w in data.get("windows") or []}


def last_retrain_window(data: Mapping[str, Any]) -> str | None:
    """The window of the latest ``retrain`` event (the trigger ignores windows up to it), or None."""
    for item in reversed(data.get("events") or []):
        if item.get("kind") == "retrain" and item.get("window"):
            return str(item["window"])
    return None


def write_decisions(data: Mapping[str, Any], path: Path) -> None:
    """A human-readable log of every decision, newest last."""
    lines = ["# Monitoring decisions", "",
             "Written by `nbprod monitor` beside `drift_history.json`; one line per decision.", "",
             "| time (UTC) | decision | window | model version | run | reason |",
             "|---|---|---|---|---|---|"]
    for item in data.get("events") or []:
        reason = str(item.get("reason", "")).replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {item.get('time', '')} | {item.get('kind', '')} | {item.get('window') or ''} | "
                     f"{item.get('model_version') or ''} | {item.get('run_id') or ''} | {reason} |")
    windows = data.get("windows") or []
    if windows:
        lines += ["", "## Windows", "", "| start | end | rows | model version | drifted columns | share | drifted |",
                  "|---|---|---|---|---|---|---|"]
        for w in windows:
            drift = w.get("drift") or {}
            share = drift.get("share")
            lines.append(f"| {w['start']} | {w['end']} | {w.get('rows', 0)} | {w.get('model_version') or ''} | "
                         f"{drift.get('n_drifted', 0)} of {drift.get('n_columns', 0)} | "
                         f"{'' if share is None else f'{share:.2f}'} | {drift.get('drifted')} |")
    io.write_text("\n".join(lines) + "\n", path)
