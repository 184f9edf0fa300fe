import math

import pandas as pd
import pytest

from nbprod.recommender import evaluation, split
from nbprod.recommender.estimator import Recommender


def test_a_perfect_list_scores_one_and_an_empty_hit_list_zero():
    perfect = evaluation.user_metrics(["a", "b"], {"a", "b"}, k=2)
    assert perfect == {name: 1.0 for name in evaluation.METRICS}
    assert evaluation.user_metrics(["x", "y"], {"a"}, k=2) == {name: 0.0 for name in evaluation.METRICS}


def test_one_hit_in_second_place_follows_the_definitions():
    found = evaluation.user_metrics(["x", "a", "y"], {"a", "b"}, k=3)
    assert found["precision"] == pytest.approx(1 / 3)
    assert found["recall"] == pytest.approx(1 / 2)
    assert found["ndcg"] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert found["map"] == pytest.approx((1 / 2) / 2)


def test_coverage_and_popularity_bias_of_lists():
    history = pd.DataFrame({"user": ["a", "b", "c", "a"], "item": ["hit", "hit", "hit", "rare"]})
    percentiles = evaluation.popularity_percentiles(history)
    assert evaluation.catalogue_figures([["hit"], ["hit"]], percentiles) == {"coverage": 0.5, "popularity_bias": 1.0}
    assert evaluation.catalogue_figures([["rare"]], percentiles)["popularity_bias"] < 1.0


def test_known_and_cold_start_users_are_scored_apart_and_against_the_baseline(interactions):
    at = split.cuts(interactions, None, None, 0.5, 0.7)
    parts = split.split_frame(interactions, at)
    history = pd.concat([parts["train"], parts["valid"]])
    later = pd.concat([parts["test"], history[history["user"] == "u0"].assign(item="n7", time=at.test_start)])
    segmented = Recommender("popularity", segment="country", min_segment_users=5).fit(history)
    results = {name: evaluation.evaluate(model, history, later, 3, "country") for name, model in
               {"segment": segmented, "baseline": Recommender("popularity").fit(history)}.items()}
    groups = results["segment"]["groups"]
    status = split.user_status(history, later)
    assert groups["cold"]["users"] == (status == split.COLD).sum() > 0
    assert groups["known"]["users"] + groups["cold"]["users"] == groups["all"]["users"]
    assert groups["cold"]["paths"] == {"fallback:segment": groups["cold"]["users"]}
    assert groups["cold"]["ndcg@3"] > results["baseline"]["groups"]["cold"]["ndcg@3"]
    table = evaluation.against_baseline(results, "baseline")
    assert (table.loc[table["candidate"] == "baseline", "ndcg@3 vs baseline"] == 0).all()


def test_the_holdout_is_named_beside_evaluation_json_and_read_back_wherever_its_folder_moved(tmp_path):
    """A worker builds in a folder of its own: the paths it records hold once the products are fetched elsewhere."""
    built = tmp_path / "worker" / "products"
    result = {"groups": {"all": {"ndcg@10": 0.5}}}
    index = {"pop": {"model_uri": "runs:/r/model", "run_id": "r", "kind": "popularity", "params": {}, "valid": result}}
    document = evaluation.document(10, "ndcg@10", None, index, {"pop": result}, result,
                                   str(built / "data" / "history.parquet"), str(built / "data" / "test.parquet"),
                                   record_file=str(built / "evaluation.json"))
    assert document["holdout"] == {"history": "data/history.parquet", "test": "data/test.parquet"}
    moved = tmp_path / "project" / "products" / "evaluation.json"
    assert evaluation.holdout_files(document, moved) == {"history": str(moved.parent / "data" / "history.parquet"),
                                                         "test": str(moved.parent / "data" / "test.parquet")}
    older = {"holdout": {"history": "/elsewhere/history.parquet", "test": "/elsewhere/test.parquet"}}
    assert evaluation.holdout_files(older, moved) == older["holdout"]  # whole paths, as an older nbprod wrote them
    outside = evaluation.document(10, "ndcg@10", None, index, {"pop": result}, result, "/data/h.parquet",
                                  "/data/t.parquet", record_file=str(built / "evaluation.json"))
    assert outside["holdout"] == {"history": "/data/h.parquet", "test": "/data/t.parquet"}  # not in its folder
