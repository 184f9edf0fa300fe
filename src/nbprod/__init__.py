"""nbprod: notebooks as the unit of production.

Ploomber DAGs of Papermill-executed notebooks, MLflow tracking and registry,
a prediction service, drift monitoring and Voila dashboards.
"""

__version__ = "0.1.0"
