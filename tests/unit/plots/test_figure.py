"""nbprod.plots.figure: figures that show as PNG in a kernel without pyplot or an inline backend."""

from __future__ import annotations

import pandas as pd
from IPython.core.formatters import PNGFormatter

from nbprod.plots import pipeline as plots
from nbprod.plots.figure import figure_png, new_figure

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_a_plot_renders_as_png_through_ipythons_formatter():
    figure = plots.bar(pd.Series({"a": 1.0, "b": 2.0}), "title")
    png = PNGFormatter()(figure)
    assert png[:8] == PNG_MAGIC and len(png) > 1000


def test_figure_png_honours_the_dpi():
    figure = new_figure(3, 2)
    figure.subplots().plot([0, 1], [1, 0])
    small, large = figure_png(figure, dpi=20), figure_png(figure, dpi=100)
    assert small[:8] == large[:8] == PNG_MAGIC and len(small) < len(large)
