"""The linear candidates' encoder: scikit-learn's imputer, scaler and one-hot encoder, stacked in place."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

#: Rows stacked at a time: the index arrays of a block are what :func:`stack_rows` adds to its result.
BLOCK_ROWS = 65_536


class LinearEncoder(TransformerMixin, BaseEstimator):
    """Numeric columns median-imputed and standardised, categorical columns one-hot encoded, side by side.

    The values and columns of scikit-learn's ``ColumnTransformer`` of the same steps (numbers first), and its
    choice of output: sparse (CSR) when under ``sparse_threshold`` of the cells are filled, else dense. The
    difference is how the parts are stacked: ``ColumnTransformer`` copies them through a COO matrix (on the
    10x build's 2 million training rows, 1.8 GB of copies beside a 0.5 GB result); here the result's arrays
    are filled in place, a block of rows at a time. The numeric values of every row are stored, zeros
    included, which changes no product or sum a model computes from the matrix.

    Parameters
    ----------
    min_frequency : categories seen fewer times are pooled in one column (``OneHotEncoder``'s).
    sparse_threshold : as ``ColumnTransformer``'s.

    Attributes
    ----------
    numeric_, categorical_ : the input columns of each kind (numbers; pandas categoricals).
    numeric_steps_ : the fitted imputer and scaler (None without numeric columns).
    onehot_ : the fitted one-hot encoder (None without categorical columns).
    sparse_output_ : whether :meth:`transform` gives a CSR matrix.
    """

    def __init__(self, min_frequency: int = 20, sparse_threshold: float = 0.3) -> None:
        self.min_frequency = min_frequency
        self.sparse_threshold = sparse_threshold

    def fit(self, X: pd.DataFrame, y: object = None) -> "LinearEncoder":
        """Fit the imputer and scaler on the numeric columns and the one-hot encoder on the categorical ones."""
        self.numeric_ = list(X.select_dtypes(include="number").columns)
        self.categorical_ = list(X.select_dtypes(include="category").columns)
        self.numeric_steps_ = fit_numeric_steps(X[self.numeric_]) if self.numeric_ else None
        self.onehot_ = (OneHotEncoder(handle_unknown="ignore", min_frequency=self.min_frequency,
                                      sparse_output=True).fit(X[self.categorical_]) if self.categorical_ else None)
        self.sparse_output_ = self.onehot_ is not None and self._density() < self.sparse_threshold
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray | sparse.csr_matrix:
        """The encoded matrix: numeric columns, then one column per kept category."""
        check_is_fitted(self, "sparse_output_")
        numbers = (self.numeric_steps_.transform(numeric_matrix(X[self.numeric_]))
                   if self.numeric_steps_ is not None else np.empty((len(X), 0)))
        if self.onehot_ is None:
            return numbers
        onehot = self.onehot_.transform(X[self.categorical_])
        if not self.sparse_output_:
            return np.hstack([numbers, onehot.toarray()])
        return stack_rows(numbers, sparse.csr_matrix(onehot))

    def _density(self) -> float:
        """The share of filled cells in the training matrix, as ``ColumnTransformer`` counts it: every numeric
        cell, and one category of each categorical column in every training row."""
        width = len(self.numeric_) + len(self.onehot_.get_feature_names_out())
        return (len(self.numeric_) + len(self.categorical_)) / width


def numeric_steps() -> Pipeline:
    """The median imputer and the standard scaler of the numeric columns."""
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler())


def fit_numeric_steps(X: pd.DataFrame) -> Pipeline:
    """:func:`numeric_steps` fitted on ``X``, working in place on the matrix they are given (each
    ``transform`` of :class:`LinearEncoder` gives them its own copy): a pipeline's ``fit`` copies the matrix
    twice more, each copy 280 MB at 10x the default data. The matrix is laid out by column, as scikit-learn
    lays out a frame, so the scaler's sums, and the fitted steps, are the pipeline's to the last bit."""
    imputer, scaler = numeric_steps().named_steps.values()
    imputer.set_params(copy=False)
    scaler.set_params(copy=False)
    matrix = numeric_matrix(X)
    scaler.fit(imputer.fit(matrix).transform(matrix))
    return make_pipeline(imputer, scaler)


def numeric_matrix(X: pd.DataFrame) -> np.ndarray:
    """A new float matrix of ``X``'s values, laid out by column (as pandas lays one out: no second copy)."""
    return np.asfortranarray(X.to_numpy(dtype=np.float64, copy=True))


def stack_rows(numbers: np.ndarray, onehot: sparse.csr_matrix) -> sparse.csr_matrix:
    """``[numbers | onehot]`` as one CSR matrix, its arrays allocated once and filled a block of rows at a time."""
    rows, width = numbers.shape
    indptr = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(np.diff(onehot.indptr) + width, out=indptr[1:])
    index_dtype = np.int32 if max(indptr[-1], width + onehot.shape[1]) < np.iinfo(np.int32).max else np.int64
    data = np.empty(indptr[-1], dtype=np.float64)
    indices = np.empty(indptr[-1], dtype=index_dtype)
    columns = np.arange(width, dtype=index_dtype)
    for start in range(0, rows, BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, rows)
        at = indptr[start:stop, None] + np.arange(width)
        data[at], indices[at] = numbers[start:stop], columns
        first, last = onehot.indptr[start], onehot.indptr[stop]
        owner = np.repeat(np.arange(start, stop), np.diff(onehot.indptr[start:stop + 1]))
        at = indptr[owner] + width + np.arange(first, last) - onehot.indptr[owner]
        data[at], indices[at] = onehot.data[first:last], onehot.indices[first:last] + width
    return sparse.csr_matrix((data, indices, indptr.astype(index_dtype)), shape=(rows, width + onehot.shape[1]))
