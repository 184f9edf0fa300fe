"""Serving the champion model: HTTP prediction service, prediction log and batch scoring.

Modules (import what you need; nothing heavy is imported here):

- :mod:`nbprod.serving.validation` -- input checks against a model's feature contract,
  per JSON record (service) and per frame chunk (batch scoring), with the same rules.
- :mod:`nbprod.serving.model_source` -- loading ``models:/NAME@ALIAS`` and watching the alias.
- :mod:`nbprod.serving.prediction_log` -- buffered Parquet prediction log and its reader.
- :mod:`nbprod.serving.metrics` -- Prometheus text exposition.
- :mod:`nbprod.serving.app` -- the ASGI application (micro-batching, reload, auth).
- :mod:`nbprod.serving.protocols` -- MLflow's scoring protocol, the Open Inference Protocol (KServe v2)
  and CSV: request bodies -> records, answers -> each protocol's shapes.
- :mod:`nbprod.serving.openapi` -- ``/openapi.json`` and ``/docs`` from the loaded model's contract.
- :mod:`nbprod.serving.batch` -- chunked batch scoring of CSV/Parquet files.
"""

#: The micro-batcher's tuning: options of ``nbprod serve`` (``--max-batch-rows``, ``--batch-wait-ms``), not settings.
MAX_BATCH_ROWS = 2048
BATCH_WAIT_MS = 2.0
