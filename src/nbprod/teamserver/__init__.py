"""A team tracking server for a trial: PostgreSQL + an S3-compatible object store + MLflow, on loopback.

``nbprod team-server --data DIR`` starts the three (see :mod:`nbprod.teamserver.command`); the layout of
``DIR`` and the command lines are in :mod:`nbprod.teamserver.stack`, the start/stop supervision in
:mod:`nbprod.teamserver.processes`.
"""
