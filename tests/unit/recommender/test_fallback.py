import pandas as pd

from nbprod.recommender import fallback
from nbprod.recommender.estimator import Recommender

from .synthetic import TASTES


def test_an_unseen_user_gets_the_top_of_their_segment(interactions):
    model = fallback.SegmentPopularity("country", min_segment_users=5).fit(interactions)
    items, scores, path = model.recommend("south", k=5)
    assert path == fallback.SEGMENT
    assert set(items) <= set(TASTES["south"])
    assert scores == sorted(scores, reverse=True)


def test_an_unknown_missing_or_too_small_segment_gets_the_global_top(interactions):
    small = pd.concat([interactions, pd.DataFrame({"user": ["lone"], "item": ["n0"], "time": [pd.Timestamp("2020-05-01")],
                                                    "weight": [1.0], "country": ["east"]})])
    model = fallback.SegmentPopularity("country", min_segment_users=5).fit(small)
    expected = model.global_.index[:5].tolist()
    for segment in ("east", "atlantis", None, float("nan")):
        items, _, path = model.recommend(segment, k=5)
        assert (items, path) == (expected, fallback.GLOBAL)


def test_without_a_segment_attribute_everyone_gets_the_global_top(interactions):
    model = fallback.SegmentPopularity(None).fit(interactions.drop(columns=["country"]))
    assert model.recommend("north", k=3)[2] == fallback.GLOBAL


def test_an_item_enters_the_fallback_after_its_minimum_of_interactions(interactions):
    newcomer = pd.DataFrame({"user": ["u0", "u1"], "item": ["new", "new"], "time": pd.Timestamp("2020-06-01"),
                             "weight": 1.0, "country": ["north", "south"]})
    both = pd.concat([interactions, newcomer])
    assert "new" not in fallback.SegmentPopularity(min_item_interactions=3).fit(both).global_.index
    assert "new" in fallback.SegmentPopularity(min_item_interactions=2).fit(both).global_.index


def test_excluded_items_are_skipped_and_the_segment_list_is_filled_from_the_global_one(interactions):
    model = fallback.SegmentPopularity("country", min_segment_users=5).fit(interactions)
    items, _, _ = model.recommend("north", k=12, exclude=TASTES["north"][:2])
    assert not set(items) & set(TASTES["north"][:2])
    assert len(items) == 12 and set(TASTES["south"]) & set(items)


def test_every_recommendation_names_its_path(interactions):
    model = Recommender("als", {"factors": 4, "iterations": 3}, segment="country", min_segment_users=5)
    model.fit(interactions)
    assert model.recommend("u0").path == fallback.COLLABORATIVE
    assert model.recommend("stranger").path == fallback.GLOBAL
    assert model.recommend("stranger", segment="south").path == fallback.SEGMENT
    assert Recommender("popularity", segment="country", min_segment_users=5).fit(interactions) \
        .recommend("u0").path == fallback.SEGMENT
