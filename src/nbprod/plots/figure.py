"""Matplotlib figures that notebooks show as PNG images by themselves.

``display(figure)`` (or a cell's last value) renders a :class:`NotebookFigure` as a
PNG image with no pyplot state and no inline backend -- which papermill's headless
kernels do not switch on, so a plain ``Figure`` would show as ``<Figure size ...>``.
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure


def figure_png(figure: Figure, dpi: int = 100) -> bytes:
    """A matplotlib figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


class NotebookFigure(Figure):
    """A matplotlib Figure that Jupyter renders as a PNG image."""

    def _repr_png_(self) -> bytes:
        return figure_png(self)


def new_figure(width: float, height: float) -> Figure:
    """An empty :class:`NotebookFigure` with constrained layout."""
    return NotebookFigure(figsize=(width, height), layout="constrained")
