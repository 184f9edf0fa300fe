"""Figures for the notebooks and dashboards. Each function returns a :class:`~nbprod.plots.figure.NotebookFigure`."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from nbprod.model.classes import indicator, label_array, predicted_labels
from nbprod.plots.figure import new_figure


def _figure(width: float = 7, height: float = 4, ncols: int = 1) -> tuple[Figure, object]:
    figure = new_figure(width, height)
    return figure, figure.subplots(1, ncols)


def _positive(y_true: Any, positive_class: Any) -> np.ndarray:
    """``y_true`` as 1 (the positive class) or 0; unchanged when ``positive_class`` is None."""
    return np.asarray(y_true) if positive_class is None else indicator(y_true, positive_class)


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


def roc_pr_curves(y_true: np.ndarray, scores: Mapping[str, np.ndarray], positive_class: Any = None) -> Figure:
    """ROC and precision-recall curves of several binary models on the same holdout.

    ``scores``: each model's probability of ``positive_class`` (None: ``y_true`` is 0/1).
    """
    y_true = _positive(y_true, positive_class)
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


def calibration(y_true: np.ndarray, scores: Mapping[str, np.ndarray], positive_class: Any = None,
                bins: int = 10) -> Figure:
    """Reliability curves: predicted probability of ``positive_class`` against its observed rate."""
    y_true = _positive(y_true, positive_class)
    figure, axis = _figure(5.5, 4.5)
    for name, score in scores.items():
        observed, predicted = calibration_curve(y_true, score, n_bins=bins, strategy="quantile")
        axis.plot(predicted, observed, marker="o", label=name)
    axis.plot([0, 1], [0, 1], "k--", linewidth=0.8)
    axis.set(title="Calibration", xlabel="predicted probability", ylabel="observed rate")
    axis.legend(fontsize=7)
    return figure


def roc_one_vs_rest(y_true: Any, proba: np.ndarray, classes: Sequence[Any], title: str) -> Figure:
    """One ROC curve per class of a multiclass model (that class against the rest)."""
    figure, axis = _figure(5.5, 4.5)
    for index, label in enumerate(classes):
        truth = indicator(y_true, label)
        if 0 < truth.sum() < len(truth):
            fpr, tpr, _ = skm.roc_curve(truth, proba[:, index])
            axis.plot(fpr, tpr, label=f"{label} (AUC {skm.roc_auc_score(truth, proba[:, index]):.3f})")
    axis.plot([0, 1], [0, 1], "k--", linewidth=0.8)
    axis.set(title=f"{title}: ROC, one class vs the rest", xlabel="false positive rate", ylabel="true positive rate")
    axis.legend(fontsize=7)
    return figure


def holdout_figures(y_true: Any, scores: Mapping[str, np.ndarray], best: str, threshold: float | None,
                    classes: Sequence[Any], positive_class: Any = None) -> list[Figure]:
    """The evaluate notebook's classification figures.

    Binary: ROC/PR and calibration of every model, the best one's confusion matrix at
    its threshold. Multiclass: the best model's one-vs-rest ROC curves and confusion
    matrix (most probable class), with the class names.
    """
    names = [str(label) for label in classes]
    if len(classes) > 2:
        predicted = predicted_labels(scores[best], classes)
        return [roc_one_vs_rest(y_true, scores[best], classes, best),
                confusion(label_array(y_true), predicted, best, list(classes), names)]
    predicted = predicted_labels(scores[best], classes, positive_class, threshold)
    title = f"{best} at threshold {threshold:.2f} on P({positive_class})"
    return [roc_pr_curves(y_true, scores, positive_class), calibration(y_true, scores, positive_class),
            confusion(label_array(y_true), predicted, title, list(classes), names)]


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
