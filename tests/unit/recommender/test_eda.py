from nbprod.recommender import eda


def test_overview_counts_users_items_and_the_density(interactions):
    found = eda.overview(interactions)
    assert found["users"] == interactions["user"].nunique() and found["items"] == interactions["item"].nunique()
    assert found["density"] == len(interactions.drop_duplicates(["user", "item"])) / (found["users"] * found["items"])


def test_the_long_tail_rises_to_all_interactions(interactions):
    curve = eda.long_tail(interactions)
    assert curve.is_monotonic_increasing and curve.iloc[-1] == 1.0 and curve.index[-1] == 1.0
    assert 0.2 <= eda.head_share(interactions) <= 1.0


def test_over_time_counts_every_interaction_and_each_user_once_as_new(interactions):
    table = eda.over_time(interactions, "M")
    assert table["interactions"].sum() == len(interactions)
    assert table["new users"].sum() == interactions["user"].nunique()
