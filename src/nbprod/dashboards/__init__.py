"""Voila dashboards for stakeholders: the model report and the drift report.

The notebooks in ``notebooks/dashboards/`` hold the narrative, the widgets and
calls; everything they compute lives here, in small functions with tests:

* :mod:`nbprod.dashboards.context`: which project, settings, MLflow store and
  folders a dashboard reads (resolved like :func:`nbprod.notebook.interactive_parameters`);
* :mod:`nbprod.dashboards.model_data`: builds, candidates, registered versions
  and gate decisions from MLflow, scored on the build's test split;
* :mod:`nbprod.dashboards.drift_data`: ``{reports}/monitoring/drift_history.json``
  and the rows of a monitoring window;
* :mod:`nbprod.plots.dashboards` and :mod:`nbprod.dashboards.ui`: pictures,
  tables, headlines and the window/version pickers;
* :mod:`nbprod.dashboards.snapshot`: static HTML snapshots (code hidden);
* :mod:`nbprod.dashboards.command` (``nbprod dashboard``) and
  :mod:`nbprod.dashboards.task` (the Ploomber task writing the snapshots).

Nothing heavy is imported here.
"""

#: The dashboard notebooks, by name (``notebooks/dashboards/<name>.ipynb``).
DASHBOARDS = ("model_report", "drift_report")
