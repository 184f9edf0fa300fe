"""The gate's evidence: ``promotion.json`` and a self-contained ``promotion.html``.

The JSON document is assembled by :mod:`nbprod.registry.promotion`; this module
writes it and renders the HTML page (inline CSS, no scripts, no external
assets) from it, so the two can never disagree.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any, Mapping

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:60rem;
color:#222;padding:0 1rem;line-height:1.4}
h1{font-size:1.5rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin-top:1.8rem;border-bottom:1px solid #ddd}
.banner{padding:.8rem 1rem;border-radius:6px;font-size:1.2rem;font-weight:600;margin:1rem 0}
.promoted{background:#e3f5e6;color:#145a23;border:1px solid #9bd3a7}
.rejected{background:#fde8e8;color:#8a1c1c;border:1px solid #f0a8a8}
table{border-collapse:collapse;width:100%;margin:.5rem 0;font-size:.92rem}
th,td{border:1px solid #ddd;padding:.35rem .55rem;text-align:left;vertical-align:top}
th{background:#f5f5f5} td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#145a23;font-weight:600} .fail{color:#8a1c1c;font-weight:600}
.muted{color:#666;font-size:.88rem} code{background:#f3f3f3;padding:0 .2rem;border-radius:3px}
"""


def write_json(evidence: Mapping[str, Any], path: Path) -> Path:
    """Write the evidence as indented JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(finite(evidence), indent=2, default=str, allow_nan=False) + "\n")
    return path


def write_html(evidence: Mapping[str, Any], path: Path) -> Path:
    """Write the evidence as a self-contained HTML page."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(evidence), encoding="utf-8")
    return path


def finite(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if math.isfinite(value) else str(value)
    return _e(value)


def _names(values: Any) -> str:
    return _e(", ".join(map(str, values))) if values else "none"


def _flag(passed: bool | None) -> str:
    if passed is None:
        return "<td>–</td>"
    return f'<td class="{"pass" if passed else "fail"}">{"pass" if passed else "fail"}</td>'


def _table(header: list[str], rows: list[str]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def render_html(evidence: Mapping[str, Any]) -> str:
    """The evidence page."""
    decision = evidence.get("decision", "rejected")
    candidate = evidence.get("candidate", {})
    reference = evidence.get("reference", {})
    metric = evidence.get("metric", {})
    budget = evidence.get("budget", {})
    schema = evidence.get("schema", {})
    title = (f"Promotion gate: {evidence.get('model_name')} version {candidate.get('version')} "
             f"{decision}")

    summary = str(evidence.get("summary", ""))
    if summary.startswith(decision + ": "):
        summary = summary[len(decision) + 2:]
    reasons = [
        f"<tr><td>{_e(r['check'])}</td>{_flag(r['passed'])}<td>{_e(r['detail'])}</td></tr>"
        for r in evidence.get("reasons", [])
    ]

    ref_label = (f"champion (version {reference.get('version')})" if reference.get("kind") == "champion"
                 else "naive baseline")
    names = list(dict.fromkeys([*candidate.get("metrics", {}), *reference.get("metrics", {})]))
    metric_rows = []
    for name in names:
        mark = " <strong>(gate)</strong>" if name == metric.get("name") else ""
        metric_rows.append(
            f"<tr><td>{_e(name)}{mark}</td><td class='num'>{_num(candidate.get('metrics', {}).get(name))}</td>"
            f"<td class='num'>{_num(reference.get('metrics', {}).get(name))}</td>"
            f"<td class='num'>{_num(candidate.get('recorded_metrics', {}).get(name))}</td></tr>"
        )

    budget_rows = []
    for key, label, unit in (("size_mb", "Serialized size", "MB"), ("memory_mb", "Peak memory", "MB"),
                             ("p99_ms", "Single-row p99 latency", "ms")):
        item = budget.get(key, {})
        measured = _num(item.get("measured"))
        if item.get("at_least"):
            measured = "≥ " + measured
        budget_rows.append(
            f"<tr><td>{label}</td><td class='num'>{measured} {unit}</td>"
            f"<td class='num'>{_num(item.get('limit'))} {unit}</td>{_flag(item.get('passed'))}</tr>"
        )
    details = budget.get("details", {})
    detail_rows = [f"<tr><td>{_e(k)}</td><td>{_num(v)}</td></tr>" for k, v in details.items()]
    if budget.get("error"):
        detail_rows.insert(0, f"<tr><td>error</td><td class='fail'>{_e(budget['error'])}</td></tr>")

    kinds = [f"{c['column']}: {c['champion']} -> {c['candidate']}" for c in schema.get("kind_changed", [])]
    schema_rows = [
        f"<tr><td>Compared with</td><td>{_e(schema.get('reference'))}</td></tr>",
        f"<tr><td>Compatible</td>{_flag(schema.get('compatible'))}</tr>",
        f"<tr><td>Candidate columns</td><td>{_names(schema.get('candidate_columns'))}</td></tr>",
        f"<tr><td>Added (required, unknown to the champion)</td><td>{_names(schema.get('added'))}</td></tr>",
        f"<tr><td>Removed</td><td>{_names(schema.get('removed'))}</td></tr>",
        f"<tr><td>Kind changed</td><td>{_names(kinds)}</td></tr>",
        f"<tr><td>No longer nullable</td><td>{_names(schema.get('nullable_tightened'))}</td></tr>",
    ]
    for problem in schema.get("problems", []):
        schema_rows.append(f"<tr><td>Problem</td><td class='fail'>{_e(problem)}</td></tr>")

    meta = [
        ("Registered model", evidence.get("model_name")),
        ("Alias", evidence.get("alias")),
        ("Candidate", f"{candidate.get('name')} (version {candidate.get('version')})"),
        ("Candidate run", candidate.get("run_id")),
        ("Model URI", candidate.get("model_uri")),
        *([("Classes", candidate["classes"])] if candidate.get("classes") else []),
        *([("Positive class", repr(candidate["positive_class"]))]
          if candidate.get("positive_class") is not None else []),
        ("Champion before", evidence.get("previous_champion")),
        ("Champion after", evidence.get("champion_after")),
        ("Holdout", f"{evidence.get('holdout', {}).get('path')} "
                    f"({evidence.get('holdout', {}).get('rows')} rows)"),
        ("Git commit", evidence.get("git_commit")),
        ("MLflow run", evidence.get("mlflow_run_id")),
        ("Decided at", evidence.get("decided_at")),
    ]
    meta_rows = [f"<tr><th>{_e(k)}</th><td><code>{_e(v)}</code></td></tr>" for k, v in meta]

    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>
<body>
<h1>Promotion gate: {_e(evidence.get('model_name'))}</h1>
<p class="muted">Candidate <code>{_e(candidate.get('name'))}</code>, version {_e(candidate.get('version'))},
against the {_e(ref_label)}, on the same holdout, in this run.</p>
<div class="banner {_e(decision)}">{_e(decision.upper())}: {_e(summary)}</div>
<h2>Checks</h2>
{_table(["Check", "Result", "Detail"], reasons)}
<h2>Metrics on the holdout</h2>
<p class="muted">Gate metric <code>{_e(metric.get('name'))}</code>
({'higher' if metric.get('greater_is_better') else 'lower'} is better), margin {_num(metric.get('margin'))},
improvement {_num(metric.get('improvement'))}. Both models were loaded from the registry and scored here;
the last column is what the evaluate task recorded for the candidate.</p>
{_table(["Metric", "Candidate", ref_label.capitalize(), "Candidate (evaluate)"], metric_rows)}
<h2>Deployment budget</h2>
{_table(["Figure", "Measured", "Limit", "Result"], budget_rows)}
<details><summary class="muted">How it was measured</summary>{_table(["Detail", "Value"], detail_rows)}</details>
<h2>Input schema</h2>
<table><tbody>{''.join(schema_rows)}</tbody></table>
<h2>Provenance</h2>
<table><tbody>{''.join(meta_rows)}</tbody></table>
</body></html>
"""
