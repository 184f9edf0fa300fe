"""Report artifacts: executed notebooks as HTML, and the picture of the DAG."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Sequence

from matplotlib.figure import Figure

from nbprod.plots.figure import new_figure

from nbprod import io


def notebook_to_html(notebook: Path) -> Path:
    """Convert an executed notebook to a self-contained HTML file beside it."""
    import nbformat

    from nbprod.notebook.templates import html_exporter

    body, _ = html_exporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    target = notebook.with_suffix(".html")
    io.write_text(body, target)
    return target


def layers(edges: Sequence[tuple[str, str]], names: Sequence[str]) -> dict[str, int]:
    """Depth of each task: 0 for sources, 1 + the deepest upstream otherwise."""
    upstream = defaultdict(list)
    for up, down in edges:
        upstream[down].append(up)
    depth: dict[str, int] = {}

    def visit(name: str) -> int:
        if name not in depth:
            depth[name] = 1 + max((visit(up) for up in upstream[name]), default=-1)
        return depth[name]

    for name in names:
        visit(name)
    return depth


def dag_figure(edges: Sequence[tuple[str, str]], names: Sequence[str]) -> Figure:
    """Tasks as boxes, left to right by depth, with arrows from upstream to downstream."""
    depth = layers(edges, names)
    rows: dict[int, list[str]] = defaultdict(list)
    for name in names:
        rows[depth[name]].append(name)
    position = {name: (level, index - (len(group) - 1) / 2)
                for level, group in rows.items() for index, name in enumerate(group)}
    figure = new_figure(1.9 * (max(rows) + 1) + 0.6, 2.2)
    axis = figure.subplots()
    for up, down in edges:
        (x0, y0), (x1, y1) = position[up], position[down]
        axis.annotate("", xy=(x1 - 0.32, y1), xytext=(x0 + 0.32, y0),
                      arrowprops={"arrowstyle": "->", "color": "#555555"})
    for name, (x, y) in position.items():
        axis.text(x, y, name, ha="center", va="center", fontsize=10,
                  bbox={"boxstyle": "round,pad=0.4", "facecolor": "#DCE6F2", "edgecolor": "#4C72B0"})
    axis.set_xlim(-0.6, max(rows) + 0.6)
    axis.set_ylim(-1.2, 1.2)
    axis.axis("off")
    return figure
