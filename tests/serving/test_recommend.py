"""``POST /recommend`` (:mod:`nbprod.serving.recommend`), through the service's ASGI application in process:
a fitted recommender as the loaded model, the real prediction log in tmp_path."""

from __future__ import annotations

import asyncio
import json

import pandas as pd
import pytest

from nbprod.recommender.estimator import Recommender
from nbprod.serving import recommend
from nbprod.serving.app import PredictionService, ServeConfig
from nbprod.serving.metrics import Metrics
from test_alerts import default_guard
from nbprod.serving.prediction_log import PredictionLogWriter
from nbprod.serving.validation import RequestError


def interactions() -> pd.DataFrame:
    rows = [(f"u{user}", f"{'n' if user % 2 else 's'}{item}", "north" if user % 2 else "south")
            for user in range(30) for item in range(user % 5, user % 5 + 4)]
    frame = pd.DataFrame(rows, columns=["user", "item", "country"])
    return frame.assign(weight=1.0, time=pd.Timestamp("2024-01-01"))


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """A service whose model is a recommender (version 3), logging to a folder of its own."""
    folder = tmp_path_factory.mktemp("recommend")
    config = ServeConfig(model_name="movies", alias="champion", tracking_uri="sqlite:///unused.db", host="127.0.0.1",
                         port=0, token=None, max_body_bytes=1 << 20, max_rows=100, max_text_chars=1000,
                         reload_seconds=5.0, log_folder=folder / "log", log_flush_rows=1000, log_flush_seconds=60.0,
                         alerts=None, log_max_rows=None, log_policy="refuse", guard=default_guard())
    app = PredictionService(config)
    model = Recommender("item_knn", {"neighbours": 5}, segment="country", min_segment_users=3).fit(interactions())
    app.model = recommend.LoadedRecommender("movies", "3", model)
    app.log = PredictionLogWriter(config.log_folder, config.log_flush_rows, config.log_flush_seconds)
    app.metrics = Metrics("movies")
    yield app
    app.log.close()


def call(app, body, method: str = "POST", path: str = "/recommend") -> tuple[int, dict]:
    """One request through the ASGI application: (status, JSON body)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path,
             "headers": [(b"content-type", b"application/json"), (b"host", b"127.0.0.1:0")]}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], json.loads(sent[1]["body"])


def test_a_known_user_gets_collaborative_items_and_the_model_version(service):
    status, body = call(service, {"user": "u1", "k": 3})
    assert status == 200
    assert body["path"] == "collaborative" and len(body["items"]) == len(body["scores"]) == 3
    assert body["model"] == {"name": "movies", "version": "3"}


def test_a_new_user_gets_the_fallback_of_their_segment_or_the_global_top(service):
    assert call(service, {"user": "new", "segment": "north"})[1]["path"] == "fallback:segment"
    assert call(service, {"user": 12345})[1]["path"] == "fallback:global"
    seen = call(service, {"user": "u1", "k": 20, "exclude_seen": False})[1]["items"]
    assert {"n1", "n2"} <= set(seen)


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"user": "u1", "kk": 3}, 422, "unknown field(s) ['kk']"),
    ({"user": "u1", "k": 0}, 422, "'k' must be an integer from 1 to 100"),
    ({"user": "u1", "k": "10"}, 422, "'k' must be an integer"),
    ({"user": ["u1"]}, 422, "'user' must be a non-empty text or an integer"),
    ({"user": "u1", "exclude_seen": "yes"}, 422, "'exclude_seen' must be true or false"),
    ({"k": 3}, 422, "the field 'user' is required"),
    ([{"user": "u1"}], 400, "must be a JSON object"),
    (b"{not json", 400, "not valid JSON"),
])
def test_bad_input_is_a_4xx_that_says_what_is_wrong(service, body, status, words):
    found, answer = call(service, body)
    assert found == status and words in answer["error"]["message"]


def test_predict_on_a_recommender_points_at_recommend(service):
    status, answer = call(service, {"user": "u1"}, path="/predict")
    assert status == 404 and "POST /recommend" in answer["error"]["message"]
    assert call(service, {"user": "u1"}, method="GET")[0] == 405


def test_every_request_is_logged_with_the_items_shown_and_their_path(service):
    _, body = call(service, {"user": "u2", "k": 12})
    _, other = call(service, {"user": "newcomer", "k": 2, "segment": "north"})
    service.log.flush()
    logged = pd.concat(pd.read_parquet(path) for path in sorted(service.config.log_folder.glob("*.parquet")))
    rows = logged[logged["request_id"] == body["request_id"]].sort_values("row")
    assert len(body["items"]) == 12 and rows["item"].tolist() == body["items"]
    assert rows["rank"].tolist() == [str(rank) for rank in range(1, 13)]  # text, as every logged input column
    assert set(rows["path"]) == {"collaborative"} and set(rows["user"]) == {"u2"}
    assert rows["prediction"].tolist() == body["scores"] and rows["segment"].isna().all()
    assert set(rows["model_version"]) == {"3"} and set(rows["model_name"]) == {"movies"}
    rows = logged[logged["request_id"] == other["request_id"]].sort_values("row")
    assert rows["item"].tolist() == other["items"] and set(rows["segment"]) == {"north"}
    assert set(rows["path"]) == {"fallback:segment"} and rows["client_request_id"].isna().all()


def test_parse_keeps_the_defaults():
    assert recommend.parse({"user": 7}) == recommend.RecommendRequest("7", 10, True, None)
    with pytest.raises(RequestError, match="from 1 to 5"):
        recommend.parse({"user": "a", "k": 6}, max_k=5)
