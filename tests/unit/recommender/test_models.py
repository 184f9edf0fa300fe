import numpy as np
import pandas as pd
import pytest

from nbprod.recommender import models


def test_the_interaction_matrix_adds_up_repeats_and_keeps_the_ids(interactions):
    doubled = pd.concat([interactions, interactions.head(1)])
    found = models.interaction_matrix(doubled)
    assert found.matrix.shape == (interactions["user"].nunique(), interactions["item"].nunique())
    row, column = found.users.get_loc(doubled["user"].iloc[0]), found.items.get_loc(doubled["item"].iloc[0])
    assert found.matrix[row, column] == 2.0


def test_item_knn_keeps_at_most_its_neighbours_per_item_and_dense_keeps_the_whole_catalogue(interactions):
    matrix = models.interaction_matrix(interactions).matrix
    sparse_model = models.ItemKNN(neighbours=3).fit(matrix)
    assert np.diff(sparse_model.similarity_.indptr).max() <= 3
    dense = models.ItemKNN(neighbours=None).fit(matrix)
    items = matrix.shape[1]
    assert dense.similarity_.shape == (items, items)
    assert models.footprint_bytes(dense) == items * items * 4
    assert models.footprint_bytes(sparse_model) < models.footprint_bytes(dense)


def test_item_knn_scores_items_seen_with_the_users_items_above_the_others():
    frame = pd.DataFrame({"user": ["a", "a", "b", "b", "c", "d"], "item": ["x", "y", "x", "y", "z", "w"],
                          "weight": 1.0})
    found = models.interaction_matrix(frame)
    model = models.ItemKNN(neighbours=10).fit(found.matrix)
    row = np.zeros((1, len(found.items)), dtype=np.float32)
    row[0, found.items.get_loc("x")] = 1
    scores = model.scores(row, np.array([0]))[0]
    assert scores[found.items.get_loc("y")] > 0
    assert scores[found.items.get_loc("z")] == scores[found.items.get_loc("w")] == 0


@pytest.mark.parametrize("kind", ["als", "bpr"])
def test_matrix_factorisation_keeps_only_its_factors(interactions, kind):
    found = models.interaction_matrix(interactions)
    model = models.make_model(kind, {"factors": 4, "iterations": 3}, threads=1, seed=0).fit(found.matrix)
    assert model.user_factors_.shape[0] == len(found.users)
    assert model.item_factors_.shape[0] == len(found.items)
    assert model.scores(found.matrix[[0]], np.array([0])).shape == (1, len(found.items))
    assert not [name for name in vars(model) if name.endswith("_") and not isinstance(vars(model)[name], np.ndarray)]


def test_the_grid_expands_to_every_combination_and_names_them():
    grid = [{"name": "pop", "kind": "popularity"},
            {"name": "als", "kind": "als", "params": {"factors": [8, 16], "iterations": 5}}]
    names = [candidate.name for candidate in models.expand_grid(grid)]
    assert names == ["pop", "als[factors=8-iterations=5]", "als[factors=16-iterations=5]"]


def test_a_bad_candidate_names_the_setting_and_what_is_allowed():
    with pytest.raises(models.CandidateError, match="train.candidates: 'x' has unknown kind 'svd'; allowed"):
        models.expand_grid([{"name": "x", "kind": "svd"}])
    with pytest.raises(models.CandidateError, match="does not take these params"):
        models.make_model("item_knn", {"factors": 3})
