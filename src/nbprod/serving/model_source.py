"""The model to serve: ``models:/NAME@ALIAS`` loaded from the MLflow registry, and watched.

:func:`load_version` loads one registered version as a :class:`LoadedModel` (the
scikit-learn pipeline itself, its feature contract, task and decision threshold)
and warms it up with a few predictions, so a broken model is never switched to.
:class:`AliasWatcher` polls where the alias points every ``reload_seconds`` and hands
a newly loaded version to a callback; the service swaps one reference, so a request
is served entirely by the old or entirely by the new model.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from nbprod.model.contract import FeatureContract
from nbprod.model.labels import ClassLabels, is_classification
from nbprod.serving.validation import RecordValidator
from nbprod.tracking import set_uri
from nbprod.tracking.tags import TASK, THRESHOLD

log = logging.getLogger("nbprod.serving")

THRESHOLD_TAG = THRESHOLD
#: Up to this many rows a call walks the compiled trees (all trees at once, no per-tree call); beyond it
#: scikit-learn's per-tree loop is faster (measured on the default champion, 200 trees, depth 15, one thread:
#: 256 rows 3.7 against 6.0 ms, 1,024 rows 14.9 against 13.5 ms).
COMPILED_MAX_ROWS = 512
#: Up to this many rows a compiled call runs on the event loop (about 1 ms on the default champion); larger
#: batches go to the model thread.
INLINE_MAX_ROWS = 64
TASK_TAG = TASK


@dataclass
class LoadedModel:
    """A registered model version ready to predict."""

    name: str
    version: str
    model: Any
    task: str
    threshold: float
    contract: FeatureContract
    run_id: str | None = None
    loaded_at: float = field(default_factory=time.time)
    labels: ClassLabels | None = None

    def __post_init__(self) -> None:
        self.validator = RecordValidator(self.contract)
        if self.classification and self.labels is None:
            self.labels = ClassLabels.from_model(self.model)
        self.encoded = encoded_predictor(self.model, self.task)

    @property
    def classification(self) -> bool:
        return is_classification(self.task)

    @property
    def inline_rows(self) -> int:
        """Up to this many rows a call may run on the service's event loop (0: never): the compiled trees'
        walk, numpy steps of a time bounded by the rows (about 1 ms for 64 rows on the default champion),
        that cannot hang; any other model runs in the model thread, watched by the stall guard."""
        return INLINE_MAX_ROWS if self.encoded is not None and getattr(self.encoded, "compiled", False) else 0

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def predict(self, frame) -> tuple[Any, Any]:
        """``(predictions, probabilities)`` for a frame of raw input columns.

        Classification: predictions are the class labels (binary: the positive class where
        its probability is at least ``threshold``; multiclass: the most probable class) and
        probabilities the ``(n, classes)`` array in ``labels.classes`` order; regression:
        predictions and ``None``.
        """
        method = self.model.predict_proba if self.classification else self.model.predict
        return self._answer(method(frame))

    def predict_columns(self, columns: Mapping[str, list]) -> tuple[Any, Any]:
        """:meth:`predict` for validated columns; without pandas when the model takes category codes."""
        if self.encoded is not None:
            return self._answer(self.encoded(columns))
        from nbprod.serving.validation import frame_from_columns

        return self.predict(frame_from_columns(self.contract, columns))

    def _answer(self, output: Any) -> tuple[Any, Any]:
        import numpy as np

        if self.classification:
            probabilities = np.asarray(output, dtype=float)
            return self.labels.predict(probabilities, self.threshold), probabilities
        return np.asarray(output, dtype=float), None


def encoded_predictor(model: Any, task: str) -> Callable[[Mapping[str, list]], Any] | None:
    """Validated columns -> model output through the category codes, for a FeatureBuilder followed
    by a CategoryCodesBoosting model (no data frame on the way, the trees compiled by
    :mod:`nbprod.model.compiled`); None for any other model."""
    from nbprod.model.features import FeatureBuilder
    from nbprod.model.models import CategoryCodesBoosting

    steps = [step for _, step in getattr(model, "steps", [])]
    if len(steps) != 2 or not isinstance(steps[0], FeatureBuilder) or not isinstance(steps[1], CategoryCodesBoosting):
        return None
    from nbprod.model.compiled import compile_boosting

    builder, estimator = steps[0], steps[1].estimator_
    compiled = compile_boosting(estimator) or estimator
    method_name = "predict_proba" if is_classification(task) else "predict"
    fast, batched = getattr(compiled, method_name), getattr(estimator, method_name)

    def predict(columns: Mapping[str, list]) -> Any:
        features = builder.encode_columns(columns)
        return (fast if features.shape[0] <= COMPILED_MAX_ROWS else batched)(features)

    predict.compiled = compiled is not estimator  # type: ignore[attr-defined]
    return predict


def example_columns(contract: FeatureContract, rows: int = 1) -> dict[str, list]:
    """Plausible validated columns (first category, lower bound, a fixed date), then a row of missing values."""
    from datetime import datetime

    columns: dict[str, list] = {}
    for spec in contract.columns:
        if spec.kind == "numeric":
            value: Any = float(spec.minimum) if spec.minimum is not None else 0.0
        elif spec.kind == "categorical":
            value = spec.categories[0] if spec.categories else None
        else:
            value = datetime(2020, 1, 1, 12)
        columns[spec.name] = [value] * rows + [float("nan") if spec.kind == "numeric" else None]
    return columns


def warm_up(loaded: LoadedModel) -> None:
    """Predict examples through both paths; the encoded one is dropped (and logged) if it disagrees."""
    from nbprod.serving.validation import frame_from_columns

    for rows in (1, 8):
        columns = example_columns(loaded.contract, rows)
        reference = loaded.predict(frame_from_columns(loaded.contract, columns))
        if loaded.encoded is None:
            continue
        encoded = loaded.predict_columns(columns)
        if not agree(reference, encoded, loaded.classification):
            log.warning("%s: the category-codes path disagrees with the pipeline; serving through the pipeline",
                        loaded.uri)
            loaded.encoded = None


def agree(reference: tuple[Any, Any], encoded: tuple[Any, Any], classification: bool) -> bool:
    """Whether two ``(predictions, probabilities)`` answers are the same: equal class labels and close
    probabilities (classification), close values (regression)."""
    import numpy as np

    (predictions, probabilities), (predictions_, probabilities_) = reference, encoded
    if classification:
        return (np.array_equal(np.asarray(predictions), np.asarray(predictions_))
                and np.allclose(probabilities, probabilities_, equal_nan=True))
    return bool(np.allclose(predictions, predictions_, equal_nan=True))


def version_labels(model: Any, version_tags: Mapping[str, str], run_tags: Mapping[str, str] | None) -> ClassLabels:
    """The classes of a registered classifier and its positive class (the version's tag, else its run's)."""
    return ClassLabels.from_tags(model.classes_, version_tags, run_tags)


def client_for(tracking_uri: str) -> Any:
    """An MlflowClient on ``tracking_uri`` for both tracking and the registry."""
    from nbprod import tracking

    return tracking.client_for(tracking_uri)


def load_version(tracking_uri: str, name: str, version: str, client: Any = None) -> LoadedModel:
    """Load, inspect and warm up one registered version from the store at ``tracking_uri``.

    MLflow resolves ``models:/`` URIs through its global tracking and registry URIs,
    so they are pointed at ``tracking_uri`` (the process serves one store).
    """
    from nbprod.model.features import feature_contract
    from nbprod.model import DEFAULT_THRESHOLD
    from nbprod.registry.digest import load_verified

    set_uri(tracking_uri)
    client = client or client_for(tracking_uri)
    details = client.get_model_version(name, version)
    from nbprod.serving import recommend

    if recommend.is_recommender(details.tags):  # a recommender project's model: POST /recommend
        return recommend.load_version(name, str(version), details.run_id)
    tags = details.tags or {}
    model = load_verified(client, name, version, tags)  # refused when its files changed since registration
    task = tags.get(TASK_TAG) or ("classification" if hasattr(model, "predict_proba") else "regression")
    threshold = tags.get(THRESHOLD_TAG)
    run = None
    if details.run_id:
        try:
            run = client.get_run(details.run_id).data
        except Exception:  # the run may have been deleted; the defaults apply
            run = None
    if threshold is None and run is not None:
        threshold = run.params.get("threshold")
    labels = version_labels(model, tags, run.tags if run is not None else None) if is_classification(task) else None
    loaded = LoadedModel(name, str(version), model, task, float(threshold) if threshold is not None else DEFAULT_THRESHOLD,
                         feature_contract(model), details.run_id, labels=labels)
    warm_up(loaded)
    return loaded


class AliasWatcher(threading.Thread):
    """Background thread: load the version ``alias`` points to, again whenever it moves.

    ``on_load(model)`` is called with each newly loaded version; ``on_error(error)``
    when resolving or loading fails (the current model keeps serving). A version that
    failed to load is tried again after ``interval`` seconds, twice as long after each
    further failure, at most ``backoff_max`` seconds (:class:`Backoff`); the alias is
    still resolved every ``interval``, so moving it to another version is seen at once.
    ``last_error`` is a short reason for ``/ready`` (no paths, no traceback: those go to
    the service log, once per version).
    """

    def __init__(self, tracking_uri: str, name: str, alias: str, interval: float,
                 on_load: Callable[[LoadedModel], None], on_error: Callable[[BaseException], None],
                 backoff_max: float) -> None:
        super().__init__(name="nbprod-alias-watcher", daemon=True)
        self.tracking_uri = tracking_uri
        self.model_name = name
        self.alias = alias
        self.interval = interval
        self.on_load = on_load
        self.on_error = on_error
        self.stopping = threading.Event()
        self.current_version: str | None = None
        self.failed_version: str | None = None
        self.last_error: str | None = None
        self.backoff = Backoff(interval, backoff_max)
        self.load_failures = 0

    def run(self) -> None:
        client = client_for(self.tracking_uri)
        while not self.stopping.is_set():
            self.poll(client)
            self.stopping.wait(self.interval)

    def poll(self, client: Any) -> None:
        """Resolve the alias once and load the version if it is new (and not backing off)."""
        try:
            version = str(client.get_model_version_by_alias(self.model_name, self.alias).version)
        except Exception as error:  # registry unreachable, alias not set yet
            self.last_error = f"cannot resolve models:/{self.model_name}@{self.alias}: {short_reason(error)}"
            self.on_error(error)
            return
        if version == self.current_version:
            self.last_error = None
            return
        if not self.backoff.due(version):
            return
        try:
            loaded = load_version(self.tracking_uri, self.model_name, version, client)
        except Exception as error:
            self.load_failed(version, error)
            return
        self.backoff.succeeded(version)
        self.current_version = version
        self.last_error = None
        self.on_load(loaded)

    def load_failed(self, version: str, error: BaseException) -> None:
        """Count, log (with the traceback the first time only) and back off a version that failed to load."""
        failures = self.backoff.failed(version)
        self.load_failures += 1
        wait = self.backoff.wait(version)
        self.last_error = (f"version {version} failed to load {failures} time(s) ({short_reason(error)}); "
                           f"next attempt in {wait:.0f} s")
        if failures == 1:
            log.exception("loading %s version %s failed", self.model_name, version)
        else:
            log.warning("loading %s version %s failed again (%d times): %s", self.model_name, version, failures,
                        error)
        self.failed_version = version
        self.on_error(error)

    def failure_note(self) -> str | None:
        """The short reason why the alias's version is not the one served, or None."""
        return self.last_error

    def stop(self) -> None:
        self.stopping.set()


def short_reason(error: BaseException) -> str:
    """What went wrong, without paths or tracebacks: the error's type (and MLflow's error code)."""
    code = getattr(error, "error_code", None)
    return f"{type(error).__name__}{f' {code}' if isinstance(code, str) else ''}"


class Backoff:
    """When to try loading a version again: after ``first`` seconds, doubling after each failure, at most
    ``longest``; a version never tried, or loaded, is due at once."""

    def __init__(self, first: float, longest: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.first = first
        self.longest = max(longest, first)
        self.clock = clock
        self.failures: dict[str, int] = {}
        self.next_try: dict[str, float] = {}

    def wait(self, version: str) -> float:
        """Seconds to wait after the latest failure of ``version``."""
        failures = self.failures.get(version, 0)
        return 0.0 if not failures else min(self.longest, self.first * 2 ** (failures - 1))

    def failed(self, version: str) -> int:
        """Record a failure of ``version``; its number of failures."""
        self.failures[version] = self.failures.get(version, 0) + 1
        self.next_try[version] = self.clock() + self.wait(version)
        return self.failures[version]

    def due(self, version: str) -> bool:
        return self.clock() >= self.next_try.get(version, float("-inf"))

    def succeeded(self, version: str) -> None:
        self.failures.pop(version, None)
        self.next_try.pop(version, None)
