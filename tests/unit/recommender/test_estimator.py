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


def reference_top_k(scores, k: int):
    """The ``k`` highest finite scores by a full sort (equal scores: the lower position first)."""
    import numpy as np

    order = np.lexsort((np.arange(len(scores)), -scores))
    return order[np.isfinite(scores[order])][:k]


def test_top_k_is_a_full_sort_cut_at_k_with_ties_in_position_order():
    import numpy as np

    random = np.random.default_rng(7)
    for size, k in [(5, 10), (300, 1), (2000, 10), (2000, 3), (9000, 10), (9000, 500), (700, 50)]:
        scores = np.round(random.normal(size=size), 1).astype(np.float32)  # rounded: many ties
        scores[random.choice(size, size // 3, replace=False)] = -np.inf
        assert top_k(scores, k).tolist() == reference_top_k(scores, k).tolist(), (size, k)
    assert top_k(np.full(1000, -np.inf, dtype=np.float32), 3).tolist() == []


def wide_interactions(users: int = 120, items: int = 3000, per_user: int = 25):
    """Random interactions over a long-tailed catalogue (about 1,000 items seen: :func:`top_k` cuts it in
    blocks for k = 3, sorts it whole for k = 10)."""
    import numpy as np

    random = np.random.default_rng(3)
    weights = 1 / np.arange(1, items + 1)  # a long tail
    rows = [(f"u{user}", f"i{item}") for user in range(users)
            for item in random.choice(items, per_user, replace=False, p=weights / weights.sum())]
    return pd.DataFrame(rows, columns=["user", "item"]).assign(weight=1.0)


def test_each_answer_is_the_top_of_the_whole_catalogue_scored_at_once():
    """The serving path (lookups, one user's scores, blocks) answers exactly as scoring every item of the
    user's row with the model's batch ``scores`` and sorting the whole catalogue."""
    import numpy as np

    frame = wide_interactions()
    for kind, params in [("als", {"factors": 8, "iterations": 3}), ("bpr", {"factors": 8, "iterations": 3}),
                         ("item_knn", {"neighbours": 20})]:
        model = Recommender(kind, params).fit(frame)
        for row, user in enumerate(model.users_[:40]):
            history = model.seen_[row]
            scores = model.model_.scores(history, np.array([row]))[0] + model.tie_break_
            for k, exclude in [(10, True), (3, True), (3, False)]:
                expected = scores.copy()
                if exclude:
                    expected[history.indices] = -np.inf
                chosen = reference_top_k(expected, k)
                found = model.recommend(user, k=k, exclude_seen=exclude)
                assert found.items == [str(item) for item in model.items_[chosen]], (kind, user)
                assert found.scores == [float(value) for value in expected[chosen]], (kind, user)


def test_a_pickled_recommender_ships_no_lookup_and_answers_the_same(interactions):
    import pickle

    model = Recommender("als", {"factors": 4, "iterations": 3}, segment="country", min_segment_users=5)
    model.fit(interactions)
    before = [model.recommend(user, k=5) for user in ("u0", "u3", "stranger")]
    assert "_lookup" in model.__dict__ and "_cache" in model.fallback_.__dict__
    copy = pickle.loads(pickle.dumps(model))
    assert "_lookup" not in copy.__dict__ and "_cache" not in copy.fallback_.__dict__
    assert [copy.recommend(user, k=5) for user in ("u0", "u3", "stranger")] == before
    assert copy.recommend("stranger", segment="south", k=4) == model.recommend("stranger", segment="south", k=4)


def test_a_logged_recommender_carries_its_digest_and_a_tampered_copy_is_refused(interactions, tmp_path):
    import pytest

    from nbprod.pipeline.reproduce import load_run_recommender
    from nbprod.registry.digest import ArtifactRefused
    from nbprod.tracking.tags import ARTIFACT_DIGEST

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = mlflow.create_experiment("recommender", artifact_location=(tmp_path / "artifacts").as_uri())
    model = Recommender("popularity", {}).fit(interactions)
    with mlflow.start_run(experiment_id=experiment) as run:
        pyfunc.log_model(model)
    client = mlflow.MlflowClient()
    assert client.get_run(run.info.run_id).data.tags[ARTIFACT_DIGEST].startswith("sha256:")
    assert load_run_recommender(client, run.info.run_id).recommend("u0", k=3).items == model.recommend("u0", k=3).items
    pickle = next(path for path in (tmp_path / "artifacts").rglob("*") if path.is_file() and path.name != "MLmodel"
                  and "artifacts" in path.parent.name)
    pickle.write_bytes(pickle.read_bytes() + b"\0")
    with pytest.raises(ArtifactRefused, match="do not match the digest"):
        load_run_recommender(client, run.info.run_id)
