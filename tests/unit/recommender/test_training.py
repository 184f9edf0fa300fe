from nbprod.recommender import models, split, training

FALLBACK = {"segment": "country", "min_segment_users": 3, "min_item_interactions": 1}


def test_the_grid_is_scored_on_validation_and_each_family_keeps_its_best(interactions):
    at = split.cuts(interactions, None, None, 0.6, 0.8)
    parts = split.split_frame(interactions, at)
    grid = models.expand_grid([{"name": "pop", "kind": "popularity"},
                               {"name": "knn", "kind": "item_knn", "params": {"neighbours": [2, 8]}}])
    results = training.fit_grid(grid, parts["train"], parts["valid"], 3, FALLBACK, n_jobs=2)
    assert set(results) == {candidate.name for candidate in grid}
    for result in results.values():  # every validation user is new: the segment fallback serves them
        assert result["groups"]["cold"]["paths"] == {"fallback:segment": result["groups"]["cold"]["users"]}
    best = training.best_per_family(grid, results, "ndcg@3")
    assert set(best) == {"pop", "knn"} and best["knn"].name.startswith("knn[")
    scores = {name: results[name]["groups"]["all"]["ndcg@3"] for name in results if name.startswith("knn")}
    assert results[best["knn"].name]["groups"]["all"]["ndcg@3"] == max(scores.values())
    table = training.validation_table(results, 3)
    assert list(table.index) == list(results) and "cold ndcg@3" in table.columns


def test_a_candidate_is_made_with_the_fallback_settings():
    candidate = models.Candidate("als[factors=4]", "als", {"factors": 4})
    model = training.make_recommender(candidate, FALLBACK, threads=1, seed=3)
    assert (model.kind, model.segment, model.min_segment_users, model.seed) == ("als", "country", 3, 3)
    assert training.family(candidate.name) == "als"
