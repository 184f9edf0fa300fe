"""The page templates nbprod renders notebooks with: one for Voila, one for static HTML reports.

Both are Jupyter's ``lab`` templates without the files those load from a CDN, so the
dashboards and reports open the same offline, behind a firewall and on a laptop.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

#: A Jupyter data folder: ``voila/templates/nbprod`` and ``nbconvert/templates/nbprod``.
JUPYTER_DATA = Path(__file__).parents[1] / "jupyter"

#: The name of both templates.
TEMPLATE = "nbprod"


def html_exporter(**options: Any):
    """An nbconvert ``HTMLExporter`` on nbprod's offline report template."""
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name=TEMPLATE,
                        extra_template_basedirs=[str(JUPYTER_DATA / "nbconvert" / "templates")], **options)


def with_jupyter_path(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with nbprod's Jupyter data folder first on ``JUPYTER_PATH`` (where Voila finds templates)."""
    found = dict(env)
    paths = [str(JUPYTER_DATA)] + [p for p in found.get("JUPYTER_PATH", "").split(os.pathsep)
                                    if p and p != str(JUPYTER_DATA)]
    found["JUPYTER_PATH"] = os.pathsep.join(paths)
    return found
