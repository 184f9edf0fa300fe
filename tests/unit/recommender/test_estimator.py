import mlflow.pyfunc
import pandas as pd

from nbprod.recommender import fallback, pyfunc
from nbprod.recommender.estimator import Recommender, top_k


def test_fit_returns_the_estimator_and_stores_its_arguments_unchanged(interactions):
    params = {"neighbours": 5}
    model = Recommender("item_knn", params, segment="country")
    assert model.fit(interactions) is model
    assert model.params is params and model.kind == "item_knn"


def test_a_known_user_gets_k_items_they_have_not_seen_from_the_collaborative_part(interactions):
    model = Recommender("item_knn", {"neighbours": 5}).fit(interactions)
    seen = set(interactions.loc[interactions["user"] == "u0", "item"])
    found = model.recommend("u0", k=4)
    assert found.path == fallback.COLLABORATIVE and len(found.items) == 4
    assert not seen & set(found.items)
    assert found.scores == sorted(found.scores, reverse=True)
    assert seen & set(model.recommend("u0", k=16, exclude_seen=False).items)


def test_an_item_the_model_never_saw_is_never_recommended_by_the_collaborative_part(interactions):
    model = Recommender("als", {"factors": 4, "iterations": 3}).fit(interactions)
    for user in interactions["user"].unique():
        found = model.recommend(user, k=16)
        assert set(found.items) <= set(interactions["item"])


def test_ids_are_matched_as_text(interactions):
    numbered = interactions.assign(user=interactions["user"].str[1:])
    model = Recommender("item_knn", {"neighbours": 5}).fit(numbered)
    assert model.recommend(0).path == fallback.COLLABORATIVE


def test_top_k_leaves_out_excluded_items():
    import numpy as np

    assert top_k(np.array([0.1, -np.inf, 0.5, 0.3]), 10).tolist() == [2, 3, 0]


def test_the_pyfunc_model_answers_requests_with_items_and_their_path(interactions, tmp_path):
    model = Recommender("item_knn", {"neighbours": 5}, segment="country", min_segment_users=5).fit(interactions)
    pyfunc.save_model(model, tmp_path / "model")
    loaded = mlflow.pyfunc.load_model(str(tmp_path / "model"))
    answer = loaded.predict(pd.DataFrame({"user": ["u0", "stranger", "other"], "k": [3, 2, 2],
                                          "segment": [None, "south", None]}))
    assert list(answer.columns) == list(pyfunc.OUTPUT_COLUMNS)
    by_user = {user: rows for user, rows in answer.groupby("user")}
    assert by_user["u0"]["rank"].tolist() == [1, 2, 3]
    assert set(by_user["u0"]["path"]) == {fallback.COLLABORATIVE}
    assert set(by_user["stranger"]["path"]) == {fallback.SEGMENT}
    assert set(by_user["other"]["path"]) == {fallback.GLOBAL}
    assert pyfunc.load_recommender(str(tmp_path / "model")).recommend("u0", k=3).items == \
        by_user["u0"]["item"].tolist()
