"""A loaded classifier's class labels as one object, for everything after the pipeline (service, batch
scoring, prediction log, monitoring, dashboards).

Built on :mod:`nbprod.model.classes` (raw labels in ``model.classes_`` order; a binary model
scores its positive class, the tag ``nbprod.positive_class``; a multiclass one predicts the
most probable class). Labels read back from a CSV, a Parquet log or JSON are compared by
their text (:func:`label_text`): ``1``, ``1.0`` and ``"1"`` are the same label.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from nbprod.model.classes import default_positive, positive_index, to_label
from nbprod.tracking.tags import POSITIVE_CLASS as POSITIVE_CLASS_TAG

#: Tasks whose models predict classes.
CLASSIFICATION_TASKS = ("classification", "binary", "multiclass")


def is_classification(task: str | None) -> bool:
    """Whether ``task`` names a classification task (binary or multiclass)."""
    return task in CLASSIFICATION_TASKS


def native(value: Any) -> Any:
    """A label as a plain Python value (``numpy.int64(1)`` -> ``1``), for JSON."""
    return to_label(value)


def label_text(value: Any) -> str | None:
    """The text a label is compared by: ``1``/``1.0``/``"1"`` -> ``"1"``, ``True`` -> ``"True"``; None when missing."""
    value = native(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def labels_text(values: Iterable[Any]) -> np.ndarray:
    """:func:`label_text` of each value, as an object array (None where missing)."""
    texts = [label_text(value) for value in values]
    result = np.empty(len(texts), dtype=object)
    result[:] = texts
    return result


def decode_tag(text: str | None) -> Any:
    """A JSON-encoded tag value (a bare word that is not JSON is taken as text); None when absent."""
    if text is None or text == "":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


@dataclass(frozen=True)
class ClassLabels:
    """A classifier's classes (in ``predict_proba`` column order) and, for a binary one, the positive class.

    Parameters
    ----------
    classes : tuple
        The labels as plain Python values, in the model's order.
    positive : optional
        The positive class (binary models); None for a multiclass model.
    """

    classes: tuple
    positive: Any = None

    @classmethod
    def of(cls, classes: Sequence[Any], positive_class: Any = None) -> "ClassLabels":
        """The labels of a model's ``classes_``; binary without a positive class: the second class."""
        classes = tuple(native(c) for c in classes)
        if len(classes) < 2:
            raise ValueError(f"a classifier needs at least two classes, got {list(classes)}")
        if len(classes) > 2:
            return cls(classes, None)
        if positive_class is None:
            return cls(classes, default_positive(classes))
        return cls(classes, classes[positive_index(classes, positive_class)])

    @classmethod
    def from_tags(cls, classes: Sequence[Any], *tag_sets: Mapping[str, str] | None) -> "ClassLabels":
        """The labels of a model whose positive class is the ``nbprod.positive_class`` tag of the first
        of ``tag_sets`` (e.g. the version's, then its run's) that has one."""
        for tags in tag_sets:
            positive = decode_tag((tags or {}).get(POSITIVE_CLASS_TAG))
            if positive is not None:
                return cls.of(classes, positive)
        return cls.of(classes)

    @classmethod
    def from_model(cls, model: Any, positive_class: Any = None) -> "ClassLabels":
        """The labels of a fitted classifier (a pipeline's ``classes_``)."""
        return cls.of(model.classes_, positive_class)

    @property
    def binary(self) -> bool:
        return len(self.classes) == 2

    @property
    def texts(self) -> tuple[str, ...]:
        """The classes as text (see :func:`label_text`)."""
        return tuple(label_text(c) for c in self.classes)

    @property
    def positive_index(self) -> int | None:
        """The positive class's column (binary), None for a multiclass model."""
        return None if self.positive is None else positive_index(self.classes, self.positive)

    def array(self) -> np.ndarray:
        """The classes as a numpy array of their own type (int64, bool, text), for fancy indexing."""
        return np.asarray(self.classes)

    def predict(self, probabilities: np.ndarray, threshold: float) -> np.ndarray:
        """The predicted labels: binary, the positive class where its probability is at least
        ``threshold`` (else the other); multiclass, the most probable class."""
        probabilities = np.asarray(probabilities, dtype=float)
        if self.binary:
            index = self.positive_index
            chosen = np.where(probabilities[:, index] >= threshold, index, 1 - index)
        else:
            chosen = np.argmax(probabilities, axis=1)
        return self.array()[chosen]

    def positive_scores(self, probabilities: np.ndarray) -> np.ndarray:
        """The positive class's probability column (binary models)."""
        if not self.binary:
            raise ValueError(f"a multiclass model ({len(self.classes)} classes) has no positive class")
        return np.asarray(probabilities, dtype=float)[:, self.positive_index]

    def to_dict(self) -> dict[str, Any]:
        """``{"classes": [...], "positive_class": ...}`` (the latter only for a binary model), JSON-ready."""
        described: dict[str, Any] = {"classes": list(self.classes)}
        if self.binary:
            described["positive_class"] = self.positive
        return described

    def to_json(self) -> str:
        """The classes as a JSON list (e.g. the prediction log's ``classes`` column)."""
        return json.dumps(list(self.classes))
