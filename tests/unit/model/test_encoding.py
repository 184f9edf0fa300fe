"""nbprod.model.encoding: the linear candidates' encoder equals scikit-learn's ColumnTransformer of its steps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import OneHotEncoder

from nbprod.model import encoding
from nbprod.model.encoding import LinearEncoder, numeric_steps


def column_transformer() -> ColumnTransformer:
    """What the linear candidates used before: the same steps, stacked by scikit-learn."""
    return ColumnTransformer([
        ("num", numeric_steps(), make_column_selector(dtype_include="number")),
        ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=20, sparse_output=True),
         make_column_selector(dtype_include="category")),
    ])


def table(rows: int, seed: int, categories: int = 40) -> pd.DataFrame:
    """Numbers with gaps and an exact zero after scaling; categories with gaps, rare ones and (seed > 0) new ones."""
    rng = np.random.default_rng(seed)
    names = [f"c{i}" for i in range(categories + 2 * seed)]
    frame = pd.DataFrame({
        "x": rng.normal(size=rows), "z": np.tile([0.0, 1.0, 2.0], rows // 3 + 1)[:rows],  # mean 1: scaled to 0
        "city": pd.Categorical(rng.choice(names, rows, p=None), categories=names),
        "port": pd.Categorical(rng.choice(["a", "b", "c"], rows), categories=["a", "b", "c"]),
    })
    frame.loc[::7, "x"] = np.nan
    frame.loc[::11, "city"] = np.nan
    return frame


@pytest.mark.parametrize("columns", [["x", "z", "city", "port"], ["x", "z"], ["city", "port"], ["x", "port"]])
def test_the_same_matrix_as_the_column_transformer(columns, monkeypatch):
    monkeypatch.setattr(encoding, "BLOCK_ROWS", 97)  # several blocks, the last one short
    train, new = table(3_000, seed=0)[columns], table(500, seed=1)[columns]
    before = new.copy()
    ours, theirs = LinearEncoder().fit(train), column_transformer().fit(train)
    assert ours.sparse_output_ == theirs.sparse_output_
    for frame in (train, new, new.head(1)):
        mine, reference = ours.transform(frame), theirs.transform(frame)
        assert sparse.issparse(mine) == sparse.issparse(reference)
        if sparse.issparse(mine):
            assert mine.format == "csr" and mine.has_sorted_indices and mine.indices.dtype == np.int32
            mine, reference = mine.toarray(), reference.toarray()
        np.testing.assert_array_equal(mine, reference)
    pd.testing.assert_frame_equal(new, before)  # the steps work in place on the encoder's own copy


@pytest.mark.parametrize("columns", [["x", "z", "city", "port"], ["x", "z"]])
def test_models_fitted_on_it_are_the_column_transformers_models(columns):
    train = table(3_000, seed=0)
    y = (train["x"].fillna(0) + (train["port"] == "a") > 0.3).astype(int)
    train = train[columns]
    ours, theirs = LinearEncoder().fit_transform(train), column_transformer().fit_transform(train)
    if "city" in columns:
        assert sparse.issparse(ours) and sparse.issparse(theirs) and ours.nnz > theirs.nnz  # zeros kept
    else:
        assert ours.flags["F_CONTIGUOUS"] and theirs.flags["F_CONTIGUOUS"]  # the same layout: the same sums
    for model in (LogisticRegression(max_iter=1000), Ridge(alpha=0.5, solver="sparse_cg")):
        target = y if isinstance(model, LogisticRegression) else train["z"]
        np.testing.assert_array_equal(model.fit(ours, target).coef_, model.fit(theirs, target).coef_)
