"""Load-test your own ``nbprod serve`` deployment with Locust (``pip install -e '.[bench]'``).

    locust -f benchmarks/locustfile.py --host http://127.0.0.1:8765 \\
           --users 8 --spawn-rate 8 --run-time 1m --headless

Environment variables:

- ``NBPROD_RECORDS``: a JSON file with a list of records to send (default: a few NYC flights
  rows matching the default pipeline's inputs -- replace them with rows of your own data);
- ``NBPROD_BATCH``: records per request (default 1); a request takes consecutive records;
- ``NBPROD_TOKEN``: sent as ``Authorization: Bearer ...`` when set (as the service expects);
- ``NBPROD_HEALTH_WEIGHT``: relative weight of ``GET /ready`` checks (default 0: off).

Failures are requests whose status is not 200 or whose body lacks ``predictions``.
Use ``FastHttpUser`` (geventhttpclient) so the load generator is not the bottleneck; on
the same machine as the service, give the service the spare cores.
"""

from __future__ import annotations

import itertools
import json
import os
import uuid

from locust import FastHttpUser, between, task

DEFAULT_RECORDS = [
    {"carrier": "UA", "origin": "EWR", "dest": "IAH", "distance": 1400.0, "sched_dep_time": 515.0,
     "time_hour": "2013-01-01T10:00:00"},
    {"carrier": "AA", "origin": "JFK", "dest": "MIA", "distance": 1089.0, "sched_dep_time": 540.0,
     "time_hour": "2013-01-01T10:00:00"},
    {"carrier": "B6", "origin": "JFK", "dest": "BQN", "distance": 1576.0, "sched_dep_time": 545.0,
     "time_hour": "2013-01-01T10:00:00"},
    {"carrier": "DL", "origin": "LGA", "dest": "ATL", "distance": 762.0, "sched_dep_time": 600.0,
     "time_hour": "2013-01-01T11:00:00"},
]


def _records() -> list[dict]:
    path = os.environ.get("NBPROD_RECORDS")
    if not path:
        return DEFAULT_RECORDS
    with open(path) as handle:
        records = json.load(handle)
    if not isinstance(records, list) or not records:
        raise SystemExit(f"{path} must hold a non-empty JSON list of records")
    return records


RECORDS = _records()
BATCH = max(1, int(os.environ.get("NBPROD_BATCH", "1")))
BODIES = [json.dumps(RECORDS[i: i + BATCH] if BATCH > 1 else RECORDS[i]).encode()
          for i in range(0, max(1, len(RECORDS) - BATCH + 1))] or [json.dumps(RECORDS[:BATCH]).encode()]
HEADERS = {"Content-Type": "application/json"}
if os.environ.get("NBPROD_TOKEN"):
    HEADERS["Authorization"] = f"Bearer {os.environ['NBPROD_TOKEN']}"


class PredictionUser(FastHttpUser):
    """One client posting to ``/predict`` back to back (closed loop)."""

    wait_time = between(0, 0)

    def on_start(self) -> None:
        self.bodies = itertools.cycle(BODIES)

    @task(100)
    def predict(self) -> None:
        headers = {**HEADERS, "X-Request-ID": uuid.uuid4().hex}
        name = "/predict" if BATCH == 1 else f"/predict [{BATCH} rows]"
        with self.client.post("/predict", data=next(self.bodies), headers=headers, name=name,
                              catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}: {(response.text or str(response.error))[:200]}")
            elif b'"predictions"' not in (response.content or b""):
                response.failure("no predictions in the response")

    @task(int(os.environ.get("NBPROD_HEALTH_WEIGHT", "0")))
    def ready(self) -> None:
        self.client.get("/ready", name="/ready")
