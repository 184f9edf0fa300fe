"""The dashboards' pictures. Each function returns a matplotlib Figure (no pyplot state)."""

from __future__ import annotations

import textwrap
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from nbprod.plots.figure import new_figure

BLUE, ORANGE, GREEN, RED, GREY = "#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8C8C8C"


def _figure(width: float, height: float, nrows: int = 1, ncols: int = 1, **kwargs) -> tuple[Figure, object]:
    figure = new_figure(width, height)
    return figure, figure.subplots(nrows, ncols, **kwargs)


def metric_bars(values: Mapping[str, float], metric_label: str, greater_is_better: bool,
                highlight: str | None = None) -> Figure:
    """One horizontal bar per model for the deciding metric; ``highlight`` (the champion) in orange."""
    labels = list(values)
    numbers = np.array([values[label] for label in labels], dtype=float)
    figure, axis = _figure(8, max(2.2, 0.45 * len(labels) + 1.0))
    colors = [ORANGE if label == highlight else (GREY if label == "naive baseline" else BLUE) for label in labels]
    positions = np.arange(len(labels))[::-1]
    axis.barh(positions, numbers, color=colors)
    axis.set_yticks(positions, labels, fontsize=9)
    for position, number in zip(positions, numbers):
        if np.isfinite(number):
            axis.text(number, position, f" {number:.3f}", va="center", fontsize=9)
    finite = numbers[np.isfinite(numbers)]
    if finite.size:
        axis.set_xlim(0, max(finite.max() * 1.15, 1e-9))
    better = "higher is better" if greater_is_better else "lower is better"
    axis.set_title(f"{metric_label} on the test rows ({better})", fontsize=11)
    axis.spines[["top", "right"]].set_visible(False)
    return figure


def version_timeline(versions: pd.DataFrame, metric_label: str) -> Figure:
    """Each registered version's gate metric, marked promoted / rejected / serving.

    Each version was measured on the test rows of its own build (a different period
    for each), so the points are not joined: they are not a trend.
    """
    figure, axis = _figure(9, 3.4)
    if versions.empty:
        axis.text(0.5, 0.5, "no registered versions yet", ha="center", va="center", transform=axis.transAxes)
        axis.axis("off")
        return figure
    x = versions["version"].to_numpy()
    y = versions["metric_value"].to_numpy(dtype=float)
    for decision, color, marker, label in (("promoted", GREEN, "o", "promoted by the gate"),
                                           ("rejected", RED, "X", "rejected by the gate"),
                                           ("", GREY, "s", "not judged")):
        mask = (versions["decision"] == decision).to_numpy()
        if mask.any():
            axis.scatter(x[mask], y[mask], s=70, color=color, marker=marker, label=label, zorder=3)
    serving = versions["serving"].to_numpy(dtype=bool)
    if serving.any():
        axis.scatter(x[serving], y[serving], s=320, facecolors="none", edgecolors=ORANGE, linewidths=2.5,
                     label="serving now", zorder=4)
    for version, value, created in zip(x, y, versions["created"]):
        if np.isfinite(value):
            stamp = pd.Timestamp(created)
            when = "" if pd.isna(stamp) else f"\n{stamp:%d %b}"
            axis.annotate(f"v{version}{when}", (version, value), textcoords="offset points", xytext=(0, 9),
                          ha="center", fontsize=8)
    axis.set_xticks(x, [f"v{v}" for v in x])
    finite = y[np.isfinite(y)]
    if finite.size:
        span = max(finite.max() - finite.min(), 0.02)
        axis.set_ylim(finite.min() - 0.35 * span, finite.max() + 0.6 * span)
    axis.set_xlim(x.min() - 0.6, x.max() + 0.6)
    axis.set_ylabel(metric_label)
    axis.set_title("Registered versions and the gate's decisions\n"
                   "(each measured on its own build's test period: not comparable as a trend)", fontsize=10)
    axis.legend(fontsize=8, loc="lower left", ncols=4, frameon=False)
    axis.spines[["top", "right"]].set_visible(False)
    return figure


def importance_bars(values: pd.Series, whose: str = "the model", top: int = 15) -> Figure:
    """The columns ``whose`` (e.g. ``"v3 hgb"``) relies on most (permutation importance)."""
    shown = values.head(top)
    figure, axis = _figure(8, max(2.2, 0.32 * len(shown) + 1.0))
    positions = np.arange(len(shown))[::-1]
    axis.barh(positions, shown.to_numpy(), color=BLUE)
    axis.set_yticks(positions, [str(i) for i in shown.index], fontsize=9)
    axis.set_xlabel("drop in score when the column is shuffled (bigger = relied on more)")
    axis.set_title(textwrap.fill(f"What {whose} relies on most (top {len(shown)} columns)", 70), fontsize=11)
    axis.spines[["top", "right"]].set_visible(False)
    return figure


# -- drift -------------------------------------------------------------------------------------


def drift_bars(columns: pd.DataFrame, top: int = 25) -> Figure:
    """Each feature's drift statistic against its threshold.

    ``columns``: :func:`nbprod.dashboards.drift_data.columns_frame` rows (those without
    a statistic, e.g. no values in the window, are left out). Distance
    methods (Wasserstein, Jensen-Shannon, PSI) show the statistic with the threshold
    as a black tick (drift: bar past the tick); p-value tests (KS, chi-square) are
    drawn in a second panel as the p-value on a log scale (drift: bar below the tick).
    """
    measured = columns[columns["method"].astype(bool) & columns["statistic"].notna()]
    shown = measured.head(top)
    distance = shown[~shown["pvalue_method"]]
    tests = shown[shown["pvalue_method"]]
    panels = [(frame, kind) for frame, kind in ((distance, "distance"), (tests, "test")) if not frame.empty]
    if not panels:
        figure, axis = _figure(8, 1.6)
        axis.text(0.5, 0.5, "no feature could be compared", ha="center", va="center", transform=axis.transAxes)
        axis.axis("off")
        return figure
    heights = [max(1.6, 0.3 * len(frame) + 1.0) for frame, _ in panels]
    figure = new_figure(8.5, sum(heights))
    axes = np.atleast_1d(figure.subplots(len(panels), 1, height_ratios=heights))
    for axis, (frame, kind) in zip(axes, panels):
        positions = np.arange(len(frame))[::-1]
        value = frame["statistic"] if kind == "distance" else frame["p_value"].clip(lower=1e-300)
        colors = [RED if drifted else BLUE for drifted in frame["drifted"].fillna(False)]
        labels = [f"{c} ({m})" for c, m in zip(frame["column"], frame["method"])]
        axis.barh(positions, value.to_numpy(dtype=float), color=colors)
        axis.scatter(frame["threshold"].to_numpy(dtype=float), positions, marker="|", s=300, color="black",
                     linewidths=2, zorder=3, label="threshold")
        axis.set_yticks(positions, labels, fontsize=8.5)
        if kind == "distance":
            axis.set_title("Drift statistic per feature (red: past its threshold)", fontsize=11)
            axis.set_xlabel("distance between the reference and this window (0 = identical)")
        else:
            axis.set_xscale("log")
            axis.invert_xaxis()
            axis.set_title("Statistical tests (red: p-value below its threshold)", fontsize=11)
            axis.set_xlabel("p-value (log scale; smaller = stronger evidence of change)")
        axis.legend(fontsize=8, loc="lower right", frameon=False)
        axis.spines[["top", "right"]].set_visible(False)
    return figure


def _categories(reference: pd.Series, current: pd.Series, top: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    ref = reference.astype(object).where(reference.notna(), "(missing)").astype(str).value_counts(normalize=True)
    cur = current.astype(object).where(current.notna(), "(missing)").astype(str).value_counts(normalize=True)
    order = (ref.add(cur, fill_value=0).sort_values(ascending=False)).index[:top]
    return [str(c) for c in order], ref.reindex(order, fill_value=0).to_numpy(), cur.reindex(order, fill_value=0).to_numpy()


def distributions(reference: pd.DataFrame, current: pd.DataFrame, columns: Sequence[str],
                  kinds: Mapping[str, str], window_label: str = "this window", ncols: int = 2,
                  bins: int = 30, top_categories: int = 10) -> Figure:
    """Reference (grey) against window (orange) for each column: density histograms for numbers,
    shares of the most frequent categories for categories."""
    columns = [c for c in columns if c in reference.columns and c in current.columns]
    if not columns:
        figure, axis = _figure(8, 1.6)
        axis.text(0.5, 0.5, "no drifting feature to show", ha="center", va="center", transform=axis.transAxes)
        axis.axis("off")
        return figure
    ncols = min(ncols, len(columns))
    nrows = -(-len(columns) // ncols)
    figure = new_figure(5.2 * ncols, 3.1 * nrows)
    axes = np.atleast_1d(figure.subplots(nrows, ncols)).ravel()
    for axis, column in zip(axes, columns):
        if kinds.get(column) == "numeric":
            ref = pd.to_numeric(reference[column], errors="coerce").dropna().to_numpy(dtype=float)
            cur = pd.to_numeric(current[column], errors="coerce").dropna().to_numpy(dtype=float)
            both = np.concatenate([ref, cur])
            if both.size and np.isfinite(both).any():
                low, high = np.nanpercentile(both, [0.5, 99.5])
                edges = np.linspace(low, high if high > low else low + 1, bins + 1)
                axis.hist(ref, bins=edges, density=True, color=GREY, alpha=0.6, label="reference")
                axis.hist(cur, bins=edges, density=True, histtype="step", linewidth=2, color=ORANGE,
                          label=window_label)
            axis.set_yticks([])
        else:
            names, ref, cur = _categories(reference[column], current[column], top_categories)
            positions = np.arange(len(names))
            axis.bar(positions - 0.2, ref, width=0.4, color=GREY, label="reference")
            axis.bar(positions + 0.2, cur, width=0.4, color=ORANGE, label=window_label)
            axis.set_xticks(positions, [n[:14] for n in names], rotation=45, ha="right", fontsize=8)
            axis.yaxis.set_major_formatter(lambda value, _: f"{100 * value:.0f}%")
        axis.set_title(column, fontsize=10)
        axis.spines[["top", "right"]].set_visible(False)
    axes[0].legend(fontsize=8, frameon=False)
    for axis in axes[len(columns):]:
        axis.set_visible(False)
    return figure


def prediction_shares(shares: pd.DataFrame, window_label: str = "this window") -> Figure:
    """The share of each predicted class: reference (grey) against the window (orange).

    ``shares``: :func:`nbprod.dashboards.drift_data.prediction_shares` (rows: classes).
    """
    figure, axis = _figure(max(5.0, 0.7 * len(shares) + 2.5), 3.2)
    positions = np.arange(len(shares))
    axis.bar(positions - 0.2, shares["reference"].to_numpy(dtype=float), width=0.4, color=GREY, label="reference")
    axis.bar(positions + 0.2, shares["window"].to_numpy(dtype=float), width=0.4, color=ORANGE, label=window_label)
    axis.set_xticks(positions, [str(name)[:14] for name in shares.index], rotation=45 if len(shares) > 6 else 0,
                    ha="right" if len(shares) > 6 else "center", fontsize=9)
    axis.yaxis.set_major_formatter(lambda value, _: f"{100 * value:.0f}%")
    axis.set_title("Share of each predicted class", fontsize=11)
    axis.legend(fontsize=8, frameon=False)
    axis.spines[["top", "right"]].set_visible(False)
    return figure


EVENT_STYLE = {
    "retrain": (BLUE, "retrained"),
    "promoted": (GREEN, "new model promoted"),
    "rejected": (RED, "retrained model rejected"),
    "no_action": (GREY, "checked, no action"),
}


def drift_over_time(windows: pd.DataFrame, events: pd.DataFrame, drift_share: float | None) -> Figure:
    """Share of drifted features window by window (and the model metric when known), with events marked.

    ``windows``: :func:`nbprod.dashboards.drift_data.windows_frame` (windows that do
    not vote, too small to judge, in grey); ``events``:
    :func:`nbprod.dashboards.drift_data.events_frame`. Windows and events are placed
    at the end of their window, when the result was known.
    """
    has_performance = "performance_value" in windows and windows["performance_value"].notna().any()
    nrows = 2 if has_performance else 1
    figure, axes = _figure(11, 3.2 * nrows, nrows=nrows, ncols=1, sharex=True, squeeze=False)
    axes = axes.ravel()
    x = pd.to_datetime(windows["end"])
    axis = axes[0]
    axis.plot(x, 100 * windows["share"], marker="o", color=BLUE, label="features drifted")
    votes = windows["votes"].astype(bool).to_numpy()
    drifted = windows["drifted"].fillna(False).astype(bool).to_numpy() & votes
    if drifted.any():
        axis.scatter(x[drifted], 100 * windows["share"][drifted], s=90, color=RED, zorder=3,
                     label="window flagged as drifting")
    if not votes.all():
        axis.scatter(x[~votes], 100 * windows["share"][~votes], s=90, color=GREY, zorder=4,
                     label="too few rows to judge")
    if drift_share is not None and np.isfinite(drift_share):
        axis.axhline(100 * drift_share, color=RED, linestyle="--", linewidth=1,
                     label=f"alarm level ({100 * drift_share:.0f}% of features)")
    axis.set_ylabel("% of features drifted")
    axis.set_ylim(0, 105)
    axis.set_title("Drift window by window", fontsize=11)
    if has_performance:
        perf = axes[1]
        from nbprod.dashboards.model_data import METRIC_LABELS

        metric = str(windows["performance_metric"].dropna().iloc[0])
        metric = METRIC_LABELS.get(metric, metric)
        perf.plot(x, windows["performance_value"], marker="o", color=ORANGE, label=f"{metric} on the window")
        reference = windows["performance_reference"].dropna()
        if not reference.empty:
            perf.plot(x, windows["performance_reference"], linestyle="--", color=GREY,
                      label=f"{metric} expected (reference)")
        perf.set_ylabel(metric)
        perf.set_title("Model quality on each window (when the outcome is known)", fontsize=11)
    seen: set[str] = set()
    for _, event in events.iterrows():
        color, label = EVENT_STYLE.get(event["kind"], (GREY, str(event["kind"])))
        if event["kind"] == "no_action" or pd.isna(event["at"]):
            continue
        for axis_ in axes:
            axis_.axvline(event["at"], color=color, linestyle=":", linewidth=2,
                          label=None if label in seen or axis_ is not axes[0] else label)
        version = event.get("model_version")
        if isinstance(version, str) and version and event["kind"] == "promoted":
            axes[0].annotate(f"v{version}", (event["at"], 100), textcoords="offset points", xytext=(3, -12),
                             fontsize=8, color=color)
        seen.add(label)
    for axis_ in axes:
        axis_.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        axis_.spines[["top", "right"]].set_visible(False)
    axes[-1].set_xlabel("end of window")
    figure.autofmt_xdate()
    return figure


# -- model -------------------------------------------------------------------------------------


def class_names(target: str) -> tuple[str, str]:
    """The two outcomes in words: ``("not late", "late")`` for the target ``late``."""
    return f"not {target}", target


def outcome_names(target: str, classes: Sequence | None = None, positive_class=None) -> list[str]:
    """What to call each class on a chart, in ``classes`` order: a 0/1 or true/false target's outcomes
    in words (``not late``, ``late``), any other labels as they are (``No``, ``Yes``; ``setosa``...)."""
    from nbprod.model.labels import label_text

    if classes is None:
        return list(class_names(target))
    texts = [label_text(label) for label in classes]
    if len(texts) == 2 and set(texts) in ({"0", "1"}, {"False", "True"}):
        positive = label_text(positive_class) if positive_class is not None else texts[1]
        return [target if text == positive else f"not {target}" for text in texts]
    return texts


def confusion(y_true: np.ndarray, predicted: np.ndarray, name: str, threshold: float | None, target: str,
              classes: Sequence | None = None, positive_class=None) -> Figure:
    """:func:`nbprod.plots.pipeline.confusion` with the classes named (see :func:`outcome_names`) and a
    title that fits. ``classes``: the model's labels in order (default 0/1); ``threshold``: the binary
    decision threshold (None: a multiclass model, the most probable class)."""
    from nbprod.plots import pipeline as plots

    title = textwrap.fill(name if threshold is None else f"{name} (threshold {threshold:.2f})", 40)
    shown = [0, 1] if classes is None else list(classes)
    figure = plots.confusion(y_true, predicted, title, classes=shown,
                             names=outcome_names(target, classes, positive_class))
    if len(shown) > 3:
        size = max(4.5, 0.55 * len(shown) + 2.5)
        figure.set_size_inches(size, size * 0.9)
        figure.axes[0].tick_params(axis="x", labelrotation=45)
    figure.axes[0].set(xlabel="predicted", ylabel="what really happened")
    return figure
