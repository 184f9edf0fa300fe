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


def test_holdout_figures_binary_text_labels_and_multiclass():
    import numpy as np

    y = np.array(["No", "Yes", "Yes", "No", "Yes"])
    binary = plots.holdout_figures(y, {"m": np.array([0.2, 0.7, 0.6, 0.4, 0.9])}, "m", 0.5, ["No", "Yes"], "Yes")
    assert len(binary) == 3
    assert binary[2].axes[0].get_title() == "m at threshold 0.50 on P(Yes)"
    assert [label.get_text() for label in binary[2].axes[0].get_xticklabels()] == ["No", "Yes"]
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.5, 0.3, 0.2]])
    multi = plots.holdout_figures(np.array(["a", "b", "c", "b"]), {"m": proba}, "m", None, ["a", "b", "c"])
    assert len(multi) == 2 and len(multi[0].axes[0].get_lines()) == 4  # a curve per class and the diagonal
    assert [label.get_text() for label in multi[1].axes[0].get_yticklabels()] == ["a", "b", "c"]
    assert all(figure_png(figure)[:8] == PNG_MAGIC for figure in (*binary, *multi))
