"""``nbprod new``: a project of its own for a user's table.

- :mod:`nbprod.scaffold.template`: where the project template lives (the reference project's own
  notebooks, ``pipeline.yaml``, ``env.yaml``, ``binder/`` and deployment kit, carried inside the package);
- :mod:`nbprod.scaffold.infer`: what a table holds (task, classes, time column, column kinds,
  columns to drop, split points, schema), pure functions;
- :mod:`nbprod.scaffold.render`: the files that differ per project, generated from one template;
- :mod:`nbprod.scaffold.deploykit`: the deployment kit (image, Kubernetes, monitoring, CI), the
  reference project's files with the project's names;
- :mod:`nbprod.scaffold.validate`, :mod:`nbprod.scaffold.kustomize`: the offline checks of a
  deployment kit, run by this repository's tests and by every new project's ``make test``;
- :mod:`nbprod.scaffold.origin`: where the running nbprod was installed from (PEP 610);
- :mod:`nbprod.scaffold.command`: the command.
"""
