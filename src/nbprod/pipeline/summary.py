"""What ``nbprod build`` says last: the champion, where the reports are, and what to run next.

Collected from the build's own products (the gate's ``promotion.json``, the executed notebooks'
HTML, the dashboards' snapshots), turned into lines by pure functions, printed by the command.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, TextIO

#: The task whose ``json`` product is the gate's evidence.
PROMOTE_TASK = "promote"


@dataclass(frozen=True)
class GateOutcome:
    """The promotion gate's decision, as ``promotion.json`` records it."""

    promoted: bool
    model_name: str
    alias: str
    candidate: str
    champion: str | None
    metric: str
    candidate_value: float | None
    reference_value: float | None
    reference: str
    reasons: str

    @classmethod
    def from_evidence(cls, evidence: Mapping[str, Any]) -> GateOutcome:
        """Read the fields the summary needs from the gate's evidence."""
        metric, reference = evidence.get("metric") or {}, evidence.get("reference") or {}
        decision = str(evidence.get("decision", "rejected"))
        summary = str(evidence.get("summary", ""))
        return cls(
            promoted=decision == "promoted",
            model_name=str(evidence.get("model_name")),
            alias=str(evidence.get("alias")),
            candidate=str((evidence.get("candidate") or {}).get("version")),
            champion=None if evidence.get("champion_after") is None else str(evidence["champion_after"]),
            metric=str(metric.get("name", "metric")),
            candidate_value=metric.get("candidate"),
            reference_value=metric.get("reference"),
            reference=(f"champion version {reference.get('version')}" if reference.get("kind") == "champion"
                       else reference.get("label", "the naive baseline")),
            reasons=summary.removeprefix(decision + ": "),
        )


def read_gate(products: Mapping[str, Any]) -> GateOutcome | None:
    """The gate's outcome from the promote task's ``json`` product; None when there is none (yet)."""
    paths = products.get(PROMOTE_TASK)
    path = paths.get("json") if isinstance(paths, Mapping) else None
    try:
        return GateOutcome.from_evidence(json.loads(Path(path).read_text())) if path else None
    except (OSError, json.JSONDecodeError):
        return None


def report_files(products: Mapping[str, Any]) -> list[Path]:
    """The HTML pages of a build, in task order: each notebook's HTML (beside it) and HTML products."""
    pages = []
    for paths in products.values():
        for key, path in (paths.items() if isinstance(paths, Mapping) else [("", paths)]):
            path = Path(path)
            if key == "nb":
                pages.append(path.with_suffix(".html"))
            elif path.suffix == ".html":
                pages.append(path)
    return [page for page in pages if page.is_file()]


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def champion_lines(gate: GateOutcome) -> list[str]:
    """What the gate decided and who serves now."""
    served = f"models:/{gate.model_name}@{gate.alias}"
    against = (f"{gate.metric} {_number(gate.candidate_value)} against {gate.reference}'s "
               f"{_number(gate.reference_value)} on the holdout")
    if gate.promoted:
        return [f"Champion: {gate.model_name} version {gate.champion} ({served}): {against}."]
    lines = [f"The gate rejected {gate.model_name} version {gate.candidate}: {gate.reasons} ({against})."]
    if gate.champion is None:
        return lines + [f"No version holds the {gate.alias!r} alias: nothing is served until a candidate passes."]
    return lines + [f"Version {gate.champion} stays champion and is what {served} serves."]


def relative(path: Path, project: Path) -> str:
    """``path`` relative to the project when it lies inside it, else as it is."""
    try:
        return str(Path(path).resolve().relative_to(project.resolve()))
    except ValueError:
        return str(path)


def next_commands(settings: Mapping[str, Any], has_champion: bool) -> list[tuple[str, str]]:
    """``(command, what it does)`` for what a user runs after a build."""
    serve = settings["serve"]
    serving = (f"serve the champion on http://{serve['host']}:{serve['port']}" if has_champion
               else "serve the champion (none yet)")
    return [
        ("nbprod serve", serving),
        ("nbprod dashboard", "open the model and drift dashboards"),
        ("nbprod monitor", "check the prediction log for drift; retrain when it fires"),
        ("nbprod mlflow-ui", "browse the runs, models and registry"),
    ]


def summary_lines(products: Mapping[str, Any], project: Path, settings: Mapping[str, Any]) -> list[str]:
    """The closing lines of a build: the champion, the reports, the next commands."""
    gate = read_gate(products)
    lines = champion_lines(gate) if gate is not None else []
    pages = report_files(products)
    if pages:
        lines += ["Reports:", *(f"  {relative(page, project)}" for page in pages)]
    commands = next_commands(settings, gate is not None and gate.champion is not None)
    width = max(len(command) for command, _ in commands)
    lines += ["Next:", *(f"  {command:<{width}}  # {what}" for command, what in commands)]
    return lines


def print_summary(lines: list[str], stream: TextIO | None = None) -> None:
    """Print the closing lines after a blank one."""
    print("\n" + "\n".join(lines), file=stream)
