"""The names of every MLflow tag nbprod writes or reads: one vocabulary.

Runs, registered model versions and search filters all spell a tag through
these names, so a reader (the dashboards, ``nbprod promote --list``, the
monitor) finds exactly what a writer (a build, the gate, the monitor) wrote::

    from nbprod.tracking import tags

    mlflow.set_tag(tags.VALIDATION, "passed")
    client.search_runs([experiment_id], tags.equals(tags.TASK, "evaluate"))
"""

from __future__ import annotations

PREFIX = "nbprod."

# -- the run tree of a build ----------------------------------------------------------------------
#: ``"true"`` on a build's parent run.
BUILD = "nbprod.build"
#: The pipeline task of a run (``get``, ``train``, ``evaluate``, ``promote``, ``monitor``, ...).
TASK = "nbprod.task"
#: The build's parent run id, on its task and candidate runs and on the version the build registered
#: (the parent run's params are the build's settings: ``nbprod reproduce <it>`` rebuilds it).
PARENT = "nbprod.parent"
#: The project's git commit.
GIT_COMMIT = "nbprod.git_commit"
#: MLflow's own name for the commit (shown in its UI).
MLFLOW_GIT_COMMIT = "mlflow.source.git.commit"
#: ``"true"`` on a run started by a notebook run by hand (no parent build).
INTERACTIVE = "nbprod.interactive"
#: A candidate model's name (on its run and on the version registered from it).
CANDIDATE = "nbprod.candidate"
#: A candidate's model family (``linear``, ``hist_gradient_boosting``).
KIND = "nbprod.kind"
#: The candidate the evaluate task named best (on the evaluate run).
BEST = "nbprod.best"
#: ``passed`` / ``failed``: the raw data against its schema (on the validate run).
VALIDATION = "nbprod.validation"

# -- a registered model version -------------------------------------------------------------------
#: The run the version was registered from.
RUN_ID = "nbprod.run_id"
#: The digest of the raw data the version's build read (its ``get`` task's MLflow dataset input).
DATA_DIGEST = "nbprod.data_digest"
#: The model URI the version was registered from.
MODEL_URI = "nbprod.model_uri"
#: The target column the model predicts.
TARGET = "nbprod.target"
#: The gate metric's name (its value: :func:`metric`).
METRIC = "nbprod.metric"
#: The decision threshold chosen on validation (binary classification).
THRESHOLD = "nbprod.threshold"
#: A classifier's classes, as a JSON list in ``predict_proba`` column order (see :mod:`nbprod.model.classes`).
CLASSES = "nbprod.classes"
#: A binary classifier's positive class, JSON-encoded (the threshold applies to its probability).
POSITIVE_CLASS = "nbprod.positive_class"
#: ``sha256:<hex>`` over every file of the version's model folder (its relative path and content), recorded
#: at registration and checked before any nbprod process loads the version (see :mod:`nbprod.registry.digest`).
ARTIFACT_DIGEST = "nbprod.artifact_digest"

# -- the promotion gate ----------------------------------------------------------------------------
GATE_DECISION = "nbprod.gate.decision"
GATE_REASONS = "nbprod.gate.reasons"
GATE_AT = "nbprod.gate.at"
GATE_PREVIOUS_CHAMPION = "nbprod.gate.previous_champion"
GATE_RUN_ID = "nbprod.gate.run_id"
GATE_VERSION = "nbprod.gate.version"
GATE_MODEL_NAME = "nbprod.gate.model_name"
BUDGET_SIZE_MB = "nbprod.budget.size_mb"
BUDGET_MEMORY_MB = "nbprod.budget.memory_mb"
BUDGET_P99_MS = "nbprod.budget.p99_ms"

# -- an alias moved by hand (``nbprod promote --version``) -----------------------------------------
MANUAL_USER = "nbprod.manual.user"
MANUAL_REASON = "nbprod.manual.reason"
MANUAL_AT = "nbprod.manual.at"
MANUAL_PREVIOUS_VERSION = "nbprod.manual.previous_version"
MANUAL_ALIAS = "nbprod.manual.alias"

# -- monitoring -----------------------------------------------------------------------------------
MONITOR_DECISION = "nbprod.monitor.decision"
MONITOR_RETRAIN_DUE = "nbprod.monitor.retrain_due"
MONITOR_REASON = "nbprod.monitor.reason"
MONITOR_WINDOW = "nbprod.monitor.window"
MONITOR_TRIGGER = "nbprod.monitor.trigger"
MONITOR_SOURCE = "nbprod.monitor.source"
MONITOR_NO_DATA = "nbprod.monitor.no_data"
MONITOR_RETRAIN_OVERRIDES = "nbprod.monitor.retrain_overrides"
MONITOR_BUILD_OK = "nbprod.monitor.build_ok"
MONITOR_RETRAIN_RUN = "nbprod.monitor.retrain_run"
MONITOR_RUN = "nbprod.monitor.run"
MONITOR_GATE = "nbprod.monitor.gate"
MONITOR_MODEL_VERSION = "nbprod.monitor.model_version"
MONITOR_EVENTS = "nbprod.monitor.events"


def metric(name: str) -> str:
    """The tag holding a metric's value on a registered version: ``nbprod.metric.<name>``."""
    return f"{METRIC}.{name}"


def gate_check(check: str) -> str:
    """The tag holding one gate check's result (``pass``/``fail``): ``nbprod.gate.<check>``."""
    return f"nbprod.gate.{check}"


def equals(tag: str, value: str) -> str:
    """An MLflow search filter: ``tags.`<tag>` = '<value>'``."""
    return f"tags.`{tag}` = '{value}'"
