"""The model code: feature contract, features, candidate models, training, evaluation, metrics."""

#: The decision threshold on P(positive class) where none was chosen on validation or recorded with a model
#: (here, not in :mod:`nbprod.model.metrics`, so that light modules use it without importing scikit-learn).
DEFAULT_THRESHOLD = 0.5
