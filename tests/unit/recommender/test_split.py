import pandas as pd
import pytest

from nbprod.recommender import split
from nbprod.recommender.estimator import Recommender


def test_the_cuts_come_from_dates_or_quantiles_and_every_period_has_rows(interactions):
    at = split.cuts(interactions, None, "2020-02-01", 0.5, 0.9)
    assert at.valid_start == interactions["time"].quantile(0.5)
    assert at.test_start == pd.Timestamp("2020-02-01")
    parts = split.split_frame(interactions, at)
    assert sum(len(part) for part in parts.values()) == len(interactions)
    assert parts["train"]["time"].max() < at.valid_start <= parts["valid"]["time"].min()
    assert parts["valid"]["time"].max() < at.test_start <= parts["test"]["time"].min()


def test_a_split_out_of_order_or_with_an_empty_period_is_refused_with_the_setting(interactions):
    with pytest.raises(split.SplitError, match="split.valid_start .* must be before split.test_start"):
        split.cuts(interactions, "2020-02-01", "2020-01-15", 0.5, 0.9)
    with pytest.raises(split.SplitError, match="test period of the split is empty"):
        split.cuts(interactions, None, "2030-01-01", 0.5, 0.9)
    with pytest.raises(split.SplitError, match="split.test_start must be a date"):
        split.cuts(interactions, None, "soon", 0.5, 0.9)


def test_users_and_items_first_seen_after_the_cut_are_cold_start(interactions):
    history = interactions[interactions["time"] < "2020-01-20"]
    later = pd.concat([interactions[interactions["time"] >= "2020-01-20"],
                       pd.DataFrame({"user": ["u0"], "item": ["brand-new"], "time": [pd.Timestamp("2020-03-01")],
                                     "weight": [1.0], "country": ["north"]})])
    status = split.user_status(history, later)
    assert status["u0"] == split.KNOWN
    assert (status.drop("u0") == split.COLD).all()
    assert split.cold_items(history, later) == {"brand-new"}
    assert split.summary(history, later)["known_users"] == 1


def test_relevant_items_leave_out_what_the_user_had_already(interactions):
    history = interactions[interactions["user"] == "u0"].head(3)
    later = interactions[interactions["user"] == "u0"]
    assert split.relevant_items(history, later)["u0"] == set(later["item"]) - set(history["item"])


def test_nothing_after_the_cut_reaches_what_the_model_learns(interactions):
    at = split.cuts(interactions, None, None, 0.5, 0.8)
    parts = split.split_frame(interactions, at)
    future_only = {"future-hit"}
    later = pd.concat([parts["test"]] + [parts["test"].assign(item="future-hit")] * 3)
    model = Recommender("item_knn", {"neighbours": 5}).fit(parts["train"])
    assert set(model.items_) == set(parts["train"]["item"])
    assert set(model.users_) == set(parts["train"]["user"])
    assert not future_only & set(model.fallback_.global_.index)
    expected = parts["train"].groupby("item")["user"].nunique() / parts["train"]["user"].nunique()
    pd.testing.assert_series_equal(model.fallback_.global_.sort_index(), expected.sort_index(), check_names=False)
    for user in later["user"].unique():
        assert "future-hit" not in model.recommend(user, k=20).items
