"""``POST /recommend``: a recommender's top-k for one user, through the prediction service.

Request (JSON object; only these fields)::

    {"user": "42", "k": 10, "exclude_seen": true, "segment": "FR"}

``user`` (text or integer) is required; ``k`` (1 .. :data:`MAX_K`, default 10), ``exclude_seen``
(default true) and ``segment`` (text or null: the segment of a user the model never saw) are
optional. An unknown field, a wrong type or ``k`` out of range is a 4xx with a one-line message.

Response: the items, their scores, the path that produced them (``collaborative``,
``fallback:segment``, ``fallback:global``) and the model's name and version. Every request is
logged in the service's prediction log, one row per item shown (``user``, ``item``, ``rank``,
``path``, ``segment``; the score as the prediction).

The model is a registered version tagged ``nbprod.task = recommendation`` (the recommender gate
registers it so): :func:`load_version` loads it as a :class:`LoadedRecommender`, which the service
swaps in as it swaps a tabular model (one reference, so a request is served entirely by one version).
"""

from __future__ import annotations

import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from nbprod.serving.validation import RequestError

#: The ``nbprod.task`` tag value of a registered recommender.
RECOMMENDATION = "recommendation"
#: The fields a request may hold.
FIELDS = ("user", "k", "exclude_seen", "segment")
#: The largest ``k`` (the fallback keeps :data:`nbprod.recommender.fallback.KEEP` items per list).
MAX_K = 500
DEFAULT_K = 10
#: The columns of a recommendation in the prediction log.
LOG_COLUMNS = ("user", "item", "rank", "path", "segment")


@dataclass(frozen=True)
class RecommendRequest:
    """One validated request."""

    user: str
    k: int = DEFAULT_K
    exclude_seen: bool = True
    segment: str | None = None


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse(payload: Any, max_k: int = MAX_K) -> RecommendRequest:
    """The request in ``payload`` (decoded JSON); :class:`RequestError` (400/422) naming what is wrong."""
    if not isinstance(payload, dict):
        raise RequestError(400, "bad_shape", f"the body must be a JSON object with a user, got {type(payload).__name__}")
    unknown = sorted(set(payload) - set(FIELDS))
    if unknown:
        raise RequestError(422, "unknown_field", f"unknown field(s) {unknown}; allowed: {', '.join(FIELDS)}")
    if "user" not in payload:
        raise RequestError(422, "missing_field", "the field 'user' is required")
    user, k = payload["user"], payload.get("k", DEFAULT_K)
    if not (isinstance(user, str) or _is_integer(user)) or (isinstance(user, str) and not user.strip()):
        raise RequestError(422, "wrong_type", f"'user' must be a non-empty text or an integer, got {user!r}")
    if not _is_integer(k) or not 1 <= k <= max_k:
        raise RequestError(422, "out_of_range", f"'k' must be an integer from 1 to {max_k}, got {k!r}")
    exclude_seen = payload.get("exclude_seen", True)
    if not isinstance(exclude_seen, bool):
        raise RequestError(422, "wrong_type", f"'exclude_seen' must be true or false, got {exclude_seen!r}")
    segment = payload.get("segment")
    if segment is not None and not isinstance(segment, str):
        raise RequestError(422, "wrong_type", f"'segment' must be a text or null, got {segment!r}")
    return RecommendRequest(str(user), int(k), exclude_seen, segment)


class WrongEndpoint:
    """The validator of a recommender: ``POST /predict`` is not its endpoint."""

    known: frozenset = frozenset()

    def check(self, records: Any) -> Any:
        raise RequestError(404, "wrong_endpoint", "the served model is a recommender: use POST /recommend")


@dataclass
class LoadedRecommender:
    """A registered recommender version ready to answer (the fields ``/ready`` shows, as a tabular model's)."""

    name: str
    version: str
    recommender: Any
    run_id: str | None = None
    loaded_at: float = field(default_factory=time.time)
    task: str = RECOMMENDATION
    threshold: float | None = None
    labels: Any = None
    validator: WrongEndpoint = field(default_factory=WrongEndpoint)

    def recommend(self, request: RecommendRequest) -> Any:
        return self.recommender.recommend(request.user, request.k, request.exclude_seen, request.segment)


def is_recommender(tags: Mapping[str, str] | None) -> bool:
    """Whether a registered version's tags say it is a recommender."""
    from nbprod.tracking.tags import TASK

    return (tags or {}).get(TASK) == RECOMMENDATION


def load_version(name: str, version: str, run_id: str | None = None) -> LoadedRecommender:
    """Load a registered recommender (MLflow's URIs already point at its store) and warm it up."""
    from nbprod.recommender.pyfunc import load_recommender

    loaded = LoadedRecommender(name, str(version), load_recommender(f"models:/{name}/{version}"), run_id)
    loaded.recommend(RecommendRequest("nbprod-warm-up"))
    return loaded


def response(loaded: LoadedRecommender, request: RecommendRequest, found: Any, request_id: str) -> dict[str, Any]:
    """The JSON answer."""
    return {"request_id": request_id, "model": {"name": loaded.name, "version": loaded.version},
            "user": request.user, "items": found.items, "scores": found.scores, "path": found.path}


#: The ranks as the prediction log stores them (text, as every logged input column), made once.
RANKS = tuple(str(rank) for rank in range(1, MAX_K + 1))


def log_entry(request: RecommendRequest, found: Any) -> tuple[dict[str, list], list[float]]:
    """``(columns, scores)``: the prediction log's rows of one answer, one per item shown (the ranks
    already text: the log's writing thread converts whole columns, not row by row)."""
    shown = len(found.items)
    return ({"user": [request.user] * shown, "item": found.items, "rank": RANKS[:shown],
             "path": [found.path] * shown, "segment": [request.segment] * shown}, found.scores)


def check_token(token: bytes | None, headers: Mapping[bytes, bytes]) -> None:
    """The bearer token, when the service has one (as ``POST /predict`` checks it)."""
    if token is None:
        return
    given = headers.get(b"authorization", b"")
    if not (given[:7].lower() == b"bearer " and hmac.compare_digest(given[7:].strip(), token)):
        raise RequestError(401, "unauthorized", "missing or wrong bearer token (send 'Authorization: Bearer <token>')")


async def handle(service: Any, headers: Mapping[bytes, bytes], receive: Any, request_id: str, arrived: float) -> bytes:
    """Answer one ``POST /recommend`` for ``service`` (a :class:`~nbprod.serving.app.PredictionService`)."""
    check_token(service.token, headers)
    loaded = service.model
    if loaded is None:
        raise RequestError(503, "not_ready", "no model loaded yet; see GET /ready")
    if not isinstance(loaded, LoadedRecommender):
        raise RequestError(404, "wrong_endpoint", "the served model is not a recommender: use POST /predict")
    body = await service.read_body(headers, receive)
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise RequestError(400, "malformed_json", f"body is not valid JSON: {error}") from None
    request = parse(payload, min(MAX_K, service.config.max_rows))
    found = loaded.recommend(request)
    if service.log is not None and found.items:
        columns, scores = log_entry(request, found)
        if not service.log.append(LOG_COLUMNS, columns, scores, None, loaded.name, loaded.version, request_id,
                                  arrived):
            raise RequestError(503, "log_full", "the prediction log is full (its writes fail: disk full?); "
                                                "no recommendation is served unlogged (serve.log_policy)")
    service.metrics.predictions += 1
    return json.dumps(response(loaded, request, found, request_id), separators=(",", ":")).encode()
