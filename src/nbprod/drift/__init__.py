"""Data, prediction and performance drift between a reference and windows.

>>> detector = DriftDetector().fit(train_features)        # doctest: +SKIP
>>> result = detector.compare(last_week)                  # doctest: +SKIP
>>> result.drifted, result.share, result.to_frame()       # doctest: +SKIP

See :class:`DriftDetector` for the rules, :mod:`nbprod.drift.results` for the
result fields and statuses, :mod:`nbprod.drift.stats` for the statistics and
:mod:`nbprod.drift.binning` for the approximation used on large windows and
:mod:`nbprod.drift.noise` for the noise floor that keeps small windows from false alarms.
"""

from nbprod.drift.detector import DEFAULT_THRESHOLDS, DriftDetector, infer_kind, prediction_drift
from nbprod.drift.performance import performance_drift, window_metric
from nbprod.drift.results import ColumnDrift, DatasetDrift, PerformanceDrift

__all__ = [
    "DEFAULT_THRESHOLDS", "ColumnDrift", "DatasetDrift", "DriftDetector", "PerformanceDrift",
    "infer_kind", "performance_drift", "prediction_drift", "window_metric",
]
