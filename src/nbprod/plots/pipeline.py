"""Figures for the notebooks and dashboards. Each function returns a :class:`~nbprod.plots.figure.NotebookFigure`."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from nbprod.plots.figure import new_figure


def _figure(width: float = 7, height: float = 4, ncols: int = 1) -> tuple[Figure, object]:
    figure = new_figure(width, height)
    return figure, figure.subplots(1, ncols)


def bar(values: pd.Series, title: str, xlabel: str = "") -> Figure:
    """A horizontal bar chart of a series."""
    figure, axis = _figure(7, max(2.5, 0.25 * len(values)))
    axis.barh([str(index) for index in values.index][::-1], values.to_numpy()[::-1], color="#4C72B0")
    axis.set_title(title)
    axis.set_xlabel(xlabel)
    return figure


def line(values: pd.Series, title: str, ylabel: str = "") -> Figure:
    """A line over time."""
    figure, axis = _figure()
    axis.plot(values.index, values.to_numpy(), marker=".", color="#4C72B0")
    axis.set_title(title)
    axis.set_ylabel(ylabel)
    return figure


def histograms(frame: pd.DataFrame, columns: Sequence[str], bins: int = 30) -> Figure:
    """One histogram per numeric column, in a grid."""
    ncols = 4
    nrows = max(1, -(-len(columns) // ncols))
    figure = new_figure(12, 2.4 * nrows)
    axes = np.atleast_1d(figure.subplots(nrows, ncols)).ravel()
    for axis, column in zip(axes, columns):
        axis.hist(frame[column].dropna(), bins=bins, color="#4C72B0")
        axis.set_title(column, fontsize=9)
    for axis in axes[len(columns):]:
        axis.set_visible(False)
    return figure


def heatmap(matrix: pd.DataFrame, title: str) -> Figure:
    """A correlation-style heatmap with labels."""
    figure, axis = _figure(8, 6.5)
    image = axis.imshow(matrix.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    axis.set_xticks(range(len(matrix.columns)), matrix.columns, rotation=90, fontsize=7)
    axis.set_yticks(range(len(matrix.index)), matrix.index, fontsize=7)
    axis.set_title(title)
    figure.colorbar(image, ax=axis, shrink=0.8)
    return figure


def roc_pr_curves(y_true: np.ndarray, scores: Mapping[str, np.ndarray]) -> Figure:
    """ROC and precision-recall curves of several models on the same holdout."""
    figure, (roc_axis, pr_axis) = _figure(11, 4.2, ncols=2)
    for name, score in scores.items():
        fpr, tpr, _ = skm.roc_curve(y_true, score)
        precision, recall, _ = skm.precision_recall_curve(y_true, score)
        roc_axis.plot(fpr, tpr, label=f"{name} (AUC {skm.roc_auc_score(y_true, score):.3f})")
        pr_axis.plot(recall, precision, label=name)
    roc_axis.plot([0, 1], [0, 1], "k--", linewidth=0.8)
    roc_axis.set(title="ROC", xlabel="false positive rate", ylabel="true positive rate")
    pr_axis.set(title="Precision-recall", xlabel="recall", ylabel="precision")
    roc_axis.legend(fontsize=7)
    return figure


def confusion(y_true: np.ndarray, predicted: np.ndarray, title: str, classes: Sequence[Any] | None = None,
              names: Sequence[str] | None = None) -> Figure:
    """A confusion matrix with counts.

    ``classes``: the class values in order (default: those present), so a class that
    never occurs still gets its row and column; ``names``: their labels on the axes.
    """
    figure, axis = _figure(4.5, 4)
    skm.ConfusionMatrixDisplay.from_predictions(y_true, predicted, labels=classes, display_labels=names, ax=axis,
                                                colorbar=False, values_format=",d")
    axis.set_title(title)
    return figure


def calibration(y_true: np.ndarray, scores: Mapping[str, np.ndarray], bins: int = 10) -> Figure:
    """Reliability curves: predicted probability against the observed rate."""
    figure, axis = _figure(5.5, 4.5)
    for name, score in scores.items():
        observed, predicted = calibration_curve(y_true, score, n_bins=bins, strategy="quantile")
        axis.plot(predicted, observed, marker="o", label=name)
    axis.plot([0, 1], [0, 1], "k--", linewidth=0.8)
    axis.set(title="Calibration", xlabel="predicted probability", ylabel="observed rate")
    axis.legend(fontsize=7)
    return figure


def residuals(y_true: np.ndarray, predicted: np.ndarray, title: str) -> Figure:
    """Residuals against predictions, and predicted against actual."""
    figure, (left, right) = _figure(11, 4.2, ncols=2)
    left.scatter(predicted, y_true - predicted, s=6, alpha=0.5)
    left.axhline(0, color="k", linewidth=0.8)
    left.set(title=f"{title}: residuals", xlabel="predicted", ylabel="actual - predicted")
    right.scatter(y_true, predicted, s=6, alpha=0.5)
    low, high = float(np.min(y_true)), float(np.max(y_true))
    right.plot([low, high], [low, high], "k--", linewidth=0.8)
    right.set(title=f"{title}: predicted vs actual", xlabel="actual", ylabel="predicted")
    return figure
