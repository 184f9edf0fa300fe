"""Class labels of a classification target: which classes a model knows, which one is positive.

The design every consumer relies on (scikit-learn's convention):

* targets keep their RAW labels (``"Yes"``/``"No"``, ``True``/``False``, ``0``/``1``,
  ``"setosa"``...) in the data and in the models; a fitted classifier's ``classes_``
  holds them, sorted, and ``predict_proba``'s columns follow ``classes_``;
* a binary model is scored by the probability of its positive class,
  ``proba[:, positive_index(classes, positive_class)]``; the decision threshold
  applies to that column;
* a multiclass model (3+ classes) is scored by its whole probability matrix and
  predicts the most probable class;
* the positive class (binary only) and the classes travel with a registered model
  as the tags :data:`nbprod.model.metrics.POSITIVE_CLASS_TAG` and
  :data:`nbprod.model.metrics.CLASSES_TAG`, JSON-encoded (:func:`label_to_json`).

Everything here is a pure function of its arguments.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np
import pandas as pd


def to_label(value: Any) -> Any:
    """A label as a plain Python value (``numpy.int64(1)`` -> ``1``), so it compares and JSON-encodes."""
    return value.item() if isinstance(value, np.generic) else value


def label_array(values: Any) -> np.ndarray:
    """Labels as a numpy array of their natural dtype (int, bool, str), as scikit-learn's metrics want them."""
    return np.asarray([to_label(value) for value in np.asarray(values, dtype=object)])


def classes_of(model: Any) -> list[Any] | None:
    """The classes a fitted classifier predicts, in ``predict_proba`` column order; None for a regressor."""
    classes = getattr(model, "classes_", None)
    return None if classes is None else [to_label(label) for label in classes]


def is_multiclass(classes: Sequence[Any] | None) -> bool:
    """True for three classes or more."""
    return classes is not None and len(classes) > 2


def default_positive(classes: Sequence[Any]) -> Any:
    """The positive class when none is named: the greater label (scikit-learn's ``classes_[1]``, 1 of 0/1)."""
    return to_label(list(classes)[-1])


#: How YAML 1.1 spells booleans: ``--set data.positive_class=Yes`` reaches the settings as True.
YAML_BOOLEANS = {True: ("y", "yes", "true", "on"), False: ("n", "no", "false", "off")}


def match_index(labels: Sequence[Any], wanted: Any) -> int | None:
    """Where ``wanted`` is among ``labels``: the same label, else the only one with its text
    (``"1"`` names ``1``), else (``wanted`` a boolean) the only text YAML reads as it (``"Yes"``)."""
    labels = [to_label(label) for label in labels]
    wanted = to_label(wanted)
    for index, label in enumerate(labels):
        if type(label) is type(wanted) and label == wanted:
            return index
    matches = [index for index, label in enumerate(labels) if str(label) == str(wanted)]
    if not matches and isinstance(wanted, bool):
        matches = [index for index, label in enumerate(labels)
                   if isinstance(label, str) and label.lower() in YAML_BOOLEANS[wanted]]
    return matches[0] if len(matches) == 1 else None


def positive_index(classes: Sequence[Any], positive_class: Any) -> int:
    """The ``predict_proba`` column of ``positive_class`` among ``classes`` (matched as :func:`match_index`).

    Raises ValueError naming the value and the classes when it is not one of them.
    """
    index = match_index(classes, positive_class)
    if index is None:
        labels = [to_label(label) for label in classes]
        raise ValueError(f"positive class {to_label(positive_class)!r} is not one of the target's classes {labels!r}")
    return index


def positive_label(classes: Sequence[Any], positive_class: Any) -> Any:
    """``positive_class`` spelled as the label in ``classes`` (``"1"`` -> ``1``); the default when None."""
    if positive_class is None:
        return default_positive(classes)
    return to_label(list(classes)[positive_index(classes, positive_class)])


def positive_scores(model: Any, X: pd.DataFrame, positive_class: Any = None) -> np.ndarray:
    """The probability of the positive class for each row of ``X`` (a binary classifier).

    ``positive_class`` None means :func:`default_positive` (the greater label).
    """
    classes = classes_of(model)
    if classes is None or is_multiclass(classes):
        raise ValueError(f"positive_scores needs a binary classifier; the model's classes are {classes!r}")
    index = positive_index(classes, positive_label(classes, positive_class))
    return np.asarray(model.predict_proba(X), dtype=float)[:, index]


def predicted_labels(proba: np.ndarray, classes: Sequence[Any], positive_class: Any = None,
                     threshold: float = 0.5) -> np.ndarray:
    """Labels from probabilities: the most probable class, or (binary) positive when ``proba`` >= ``threshold``.

    ``proba`` is the ``(n, k)`` matrix in ``classes`` order, or (binary) the positive
    class's column alone.
    """
    labels = label_array(classes)
    proba = np.asarray(proba, dtype=float)
    if proba.ndim == 2 and len(labels) > 2:
        return labels[np.argmax(proba, axis=1)]
    index = positive_index(labels, positive_label(labels, positive_class))
    scores = proba[:, index] if proba.ndim == 2 else proba
    return np.where(scores >= threshold, labels[index], labels[1 - index])


def indicator(y: Any, positive_class: Any) -> np.ndarray:
    """1 where ``y`` is the positive class, else 0 (the label matched as :func:`positive_index` does)."""
    values = pd.Series(np.asarray(y, dtype=object)).map(to_label)
    present = sorted_labels(values.dropna().unique())
    index = match_index(present, positive_class)
    if index is None:
        return np.zeros(len(values), dtype="int64")
    wanted = present[index]
    return values.map(lambda label: type(label) is type(wanted) and label == wanted).to_numpy(dtype="int64")


def class_counts(y: Any) -> pd.Series:
    """How many rows of each label (missing values left out), labels sorted."""
    values = pd.Series(np.asarray(y, dtype=object)).dropna().map(to_label)
    counts = dict(values.value_counts().items())
    order = sorted_labels(counts)  # by label, not .loc: a list of booleans would be taken for a mask
    return pd.Series([counts[label] for label in order], index=pd.Index(order, dtype=object), dtype="int64")


def sorted_labels(labels: Any) -> list[Any]:
    """Labels in scikit-learn's order (sorted; by text when the labels are of mixed types)."""
    labels = [to_label(label) for label in labels]
    try:
        return sorted(set(labels))
    except TypeError:
        return sorted(set(labels), key=str)


def infer_positive_class(y: Any) -> Any:
    """The minority class of ``y`` (ties: the greater label, so 1 of a balanced 0/1 target)."""
    counts = class_counts(y)
    if counts.empty:
        raise ValueError("no labels to infer a positive class from")
    fewest = counts.min()
    return [label for label, count in counts.items() if count == fewest][-1]


def resolve_positive_class(y: Any, positive_class: Any = None) -> Any:
    """The positive class of a binary target: ``positive_class`` (checked to be a label of ``y``), else inferred.

    Returns None for a target with more than two classes (no positive class then);
    raises ValueError when ``positive_class`` is not a label of ``y``, or is named for
    a multiclass target.
    """
    classes = list(class_counts(y).index)
    if len(classes) > 2:
        if positive_class is not None:
            raise ValueError(f"data.positive_class {to_label(positive_class)!r} applies to binary targets only; "
                             f"the target has {len(classes)} classes {classes!r} (set it to null)")
        return None
    if positive_class is None:
        return infer_positive_class(y)
    try:
        return positive_label(classes, positive_class)
    except ValueError:
        raise ValueError(f"data.positive_class {to_label(positive_class)!r} is not one of the target's "
                         f"classes {classes!r}") from None


def label_to_json(label: Any) -> str:
    """A label as JSON text (the form of the ``nbprod.positive_class`` tag)."""
    return json.dumps(to_label(label))


def classes_to_json(classes: Sequence[Any]) -> str:
    """Classes as a JSON list (the form of the ``nbprod.classes`` tag)."""
    return json.dumps([to_label(label) for label in classes])


def label_from_json(text: str | None) -> Any:
    """Inverse of :func:`label_to_json` and :func:`classes_to_json`; None stays None."""
    return None if text is None else json.loads(text)
