"""Monitoring: drift per time window against the training data, the retrain decision, continuous training.

* :mod:`~nbprod.monitoring.windows` slices rows into windows (``monitor.window``);
* :mod:`~nbprod.monitoring.check` runs the drift check per window with a detector fitted once;
* :mod:`~nbprod.monitoring.trigger` is the pure k-of-n / performance-floor decision;
* :mod:`~nbprod.monitoring.history` reads and writes ``drift_history.json`` atomically;
* :mod:`~nbprod.monitoring.retrain` starts the pipeline on the refreshed data window;
* :mod:`~nbprod.monitoring.monitor` is one pass of all that (``nbprod monitor``);
* :mod:`~nbprod.monitoring.cluster` reads and checks a partitioned log's windows on a Dask cluster
  (``nbprod monitor --engine dask``);
* :mod:`~nbprod.monitoring.replay` replays the later months through the service (``nbprod replay``).

Nothing heavy is imported here.
"""
