"""``nbprod promote``: move the champion alias by hand (rollback), or list the versions.

    nbprod promote --version 3 --reason "v4 mispredicts on holidays"   # alias -> version 3
    nbprod promote --list                                               # versions, aliases, gate decisions

The moved-to version gets tags recording who (``--user``, default ``$USER`` via
getpass), why (``--reason``), when (UTC) and the version the alias left:
``nbprod.manual.user``, ``nbprod.manual.reason``, ``nbprod.manual.at``,
``nbprod.manual.previous_version`` and ``nbprod.manual.alias``. The move
bypasses the gate on purpose; a version the gate rejected is moved with a warning.
"""

from __future__ import annotations

import argparse
import sys

from nbprod.tracking.tags import (
    CANDIDATE, MANUAL_ALIAS, MANUAL_AT, MANUAL_PREVIOUS_VERSION, MANUAL_REASON, MANUAL_USER, METRIC,
    metric as tag_metric,
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``promote`` options."""
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--version", type=int, metavar="N", help="model version the alias moves to")
    what.add_argument("--list", action="store_true", help="list the versions with aliases and gate decisions")
    parser.add_argument("--reason", default="", help="why the alias is moved (recorded on the version)")
    parser.add_argument("--user", default=None, help="who moves it (default: the current user)")
    parser.add_argument("--alias", default=None, help="alias to move (default: registry.alias)")
    parser.add_argument("--model-name", default=None, help="registered model (default: registry.model_name)")


def _user(explicit: str | None) -> str:
    if explicit:
        return explicit
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


def _failed_reasons(text: str | None) -> str:
    """The failed checks of a ``nbprod.gate.reasons`` tag, one line."""
    import json

    try:
        failed = [f"{r['check']}: {r['detail']}" for r in json.loads(text or "[]") if not r.get("passed")]
    except (ValueError, TypeError, KeyError):
        return text or ""
    return "; ".join(failed)


def _short(value: str) -> str:
    try:
        return f"{float(value):.4g}"
    except ValueError:
        return value


def _list(registry) -> int:
    import datetime as dt

    from nbprod.registry.task import TAG_DECISION

    versions = registry.versions() if registry.exists() else []
    if not versions:
        print(f"registered model {registry.name!r} has no versions")
        return 0
    rows = [("version", "aliases", "gate", "candidate", "metric (evaluate)", "manual", "created")]
    for info in versions:
        metric = info.tags.get(METRIC, "")
        value = _short(info.tags.get(tag_metric(metric), ""))
        manual = info.tags.get(MANUAL_USER, "")
        if manual:
            manual = f"{manual} {info.tags.get(MANUAL_AT, '')}".strip()
        created = (dt.datetime.fromtimestamp(info.created_ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
                   if info.created_ms else "")
        rows.append((info.version, ",".join(info.aliases), info.tags.get(TAG_DECISION, "-"),
                     info.tags.get(CANDIDATE, ""), f"{metric} {value}".strip(), manual, created))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def run(args: argparse.Namespace) -> int:
    """Move the alias, or list the versions."""
    import datetime as dt


    from nbprod.registry.client import Registry, RegistryError
    from nbprod.registry.task import TAG_DECISION, TAG_REASONS

    project = args.catalog
    name = args.model_name or project.model_name
    alias = args.alias or project.alias
    registry = Registry(name, project.tracking_uri())
    if args.list:
        return _list(registry)

    if args.version < 1:
        print(f"nbprod: --version must be a positive integer, got {args.version}", file=sys.stderr)
        return 2
    try:
        target = registry.version(args.version)
    except RegistryError as error:
        print(f"nbprod: {error}", file=sys.stderr)
        return 1
    from mlflow.exceptions import MlflowException

    try:
        previous = registry.alias_version(alias)
        if previous == target.version:
            print(f"{name} version {target.version} already holds the alias {alias!r}; nothing to do")
            return 0
        if target.tags.get(TAG_DECISION) == "rejected":
            print(f"nbprod: warning: the promotion gate rejected version {target.version}: "
                  f"{_failed_reasons(target.tags.get(TAG_REASONS))}", file=sys.stderr)
        registry.set_alias(alias, target.version)  # the first write: nothing is changed when it fails
    except MlflowException as error:
        print(f"nbprod: cannot move the alias {alias!r}: {error.message}", file=sys.stderr)
        return 2
    registry.set_tags(target.version, {
        MANUAL_USER: _user(args.user),
        MANUAL_REASON: args.reason or "(no reason given)",
        MANUAL_AT: dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        MANUAL_PREVIOUS_VERSION: previous or "none",
        MANUAL_ALIAS: alias,
    })
    print(f"{name}: alias {alias!r} moved from version {previous or '(none)'} to version {target.version}")
    return 0
