"""Model registry and promotion gate.

The ``promote`` pipeline task (:mod:`nbprod.registry.task`) registers the best
candidate of a build and moves the champion alias to it only when the gate
(:mod:`nbprod.registry.gate`) passes on measured evidence:

* the candidate beats the current champion, both scored on the same holdout in
  the same run (the first model must beat the naive baseline);
* it fits the deployment budget, measured by :mod:`nbprod.registry.budget`
  (artifact size, peak memory and single-row p99 latency in a fresh subprocess);
* its feature contract is compatible with the champion's
  (:func:`nbprod.registry.gate.schema_check`).

The evidence is written by :mod:`nbprod.registry.evidence`; MLflow is only
reached through :mod:`nbprod.registry.client`. Nothing heavy is imported here.
"""
