"""The model code: feature contract, features, candidate models, training, evaluation, metrics."""
