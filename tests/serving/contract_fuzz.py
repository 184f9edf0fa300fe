"""Hypothesis over a model's feature contract: random requests of valid and invalid values per column type,
sent to a real prediction service; shared by ``test_served_bad_input.py`` (~1,000 records) and
``benchmarks/bench_bad_input.py`` (thousands).

Each value is drawn knowing whether the contract takes it (mostly valid: a request of several records
is then often valid as a whole). Every answer must be below 500; a request whose records are all valid
must be a 200 whose probabilities equal the pipeline's own (``model.predict_proba`` on a pandas frame
of the same rows, typed the way the training frame was: floats, text, date-times read by pandas in
UTC); any other request must be a 422.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections import Counter
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis import strategies as st

from nbprod.serving.validation import DATETIME_MAX, DATETIME_MIN

#: Drops the column from the record.
DROP = "\x00drop\x00"
#: A record has an invalid value with a probability of (number of columns) / INVALID_ONE_IN, at most
#: 1 / INVALID_SHARE_MAX: on a wide contract (the default champion has 22 columns) most records stay valid,
#: so that many requests are valid as a whole and their answers are compared with the pipeline's.
INVALID_ONE_IN = 24
INVALID_SHARE_MAX = 3


def numeric_values(nullable: bool) -> tuple[st.SearchStrategy, st.SearchStrategy]:
    """(valid, invalid) values of a numeric column."""
    valid = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**1023), 2**1023),
                      st.just(-0.0))
    invalid = st.one_of(st.integers(2**1024, 2**1100), st.integers(-(2**1100), -(2**1024)),
                        st.sampled_from([math.inf, -math.inf]), st.booleans(), st.text(max_size=8),
                        st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                             max_size=1),
                        st.just(DROP))
    missing = st.sampled_from([None, math.nan])
    return (st.one_of(valid, missing), invalid) if nullable else (valid, st.one_of(invalid, missing))


def categorical_values(categories: tuple, nullable: bool, max_text_chars: int
                       ) -> tuple[st.SearchStrategy, st.SearchStrategy]:
    """(valid, invalid) values of a categorical column: known and unseen text, numbers and booleans are
    valid; text over ``max_text_chars``, lone surrogates, arrays and objects are not."""
    known = st.sampled_from(categories) if categories else st.text(max_size=3)
    valid = st.one_of(known, known, st.text(max_size=12), st.integers(-(2**53), 2**53), st.booleans(),
                      st.integers(-1000, 1000).map(float), st.integers(max_text_chars - 3, max_text_chars).map("c".__mul__))
    invalid = st.one_of(st.integers(max_text_chars + 1, max_text_chars + 40).map("t".__mul__),
                        st.sampled_from(["\ud800", "x\udfffy", "\udbff\udbff"]),
                        st.lists(st.text(max_size=3), max_size=2), st.dictionaries(st.text(max_size=3),
                                                                                   st.text(max_size=3), max_size=1),
                        st.just(DROP))
    missing = st.sampled_from([None, math.nan])
    return (st.one_of(valid, missing), invalid) if nullable else (valid, st.one_of(invalid, missing))


@st.composite
def datetime_texts(draw: Any, low: Any, high: Any) -> str:
    """ISO 8601 text of a date-time between ``low`` and ``high`` (naive UTC), naive or with an offset."""
    stamp = draw(st.datetimes(low, high))
    offset = draw(st.one_of(st.none(), st.integers(-14 * 60, 14 * 60).map(lambda minutes: timedelta(minutes=minutes))))
    separator = draw(st.sampled_from(["T", " "]))
    if offset is None:
        return stamp.isoformat(separator)
    local = stamp.replace(tzinfo=timezone.utc).astimezone(timezone(offset))
    text = local.isoformat(separator)
    return text[:-6] + "Z" if offset == timedelta(0) and draw(st.booleans()) else text


def datetime_values(nullable: bool) -> tuple[st.SearchStrategy, st.SearchStrategy]:
    """(valid, invalid) values of a datetime column: ISO 8601 text inside pandas' range is valid;
    text outside it, clock words, wrong dates, numbers and booleans are not."""
    valid = st.one_of(datetime_texts(DATETIME_MIN, DATETIME_MAX),
                      st.sampled_from([DATETIME_MIN.isoformat(), DATETIME_MAX.isoformat()]))
    low_end = DATETIME_MIN - timedelta(microseconds=1)
    invalid = st.one_of(st.datetimes(max_value=low_end).map(lambda stamp: stamp.isoformat()),
                        st.datetimes(min_value=DATETIME_MAX + timedelta(microseconds=1)).map(lambda s: s.isoformat()),
                        st.sampled_from(["now", "today", "", " ", "2013-13-01", "2013-02-30", "soon",
                                         "9999-12-31T23:59:59-01:00", "2013-01-01T10:00:00+25:00"]),
                        st.integers(), st.booleans(), st.floats(allow_nan=False), st.just(DROP))
    missing = st.sampled_from([None, math.nan])
    return (st.one_of(valid, missing), invalid) if nullable else (valid, st.one_of(invalid, missing))


def column_strategies(contract: Any, max_text_chars: int) -> dict[str, tuple]:
    """(valid, invalid) strategies of each contract column."""
    out = {}
    for spec in contract.columns:
        if spec.kind == "numeric":
            out[spec.name] = numeric_values(spec.nullable)
        elif spec.kind == "categorical":
            out[spec.name] = categorical_values(spec.categories, spec.nullable, max_text_chars)
        else:
            out[spec.name] = datetime_values(spec.nullable)
    return out


@st.composite
def records(draw: Any, columns: dict[str, tuple], names: frozenset) -> tuple[dict, bool]:
    """One record and whether the contract takes it (unknown extra keys are taken, and ignored).
    At most one column is drawn invalid: about one record in ``INVALID_ONE_IN / columns``, at most one in
    ``INVALID_SHARE_MAX``."""
    wrong = draw(st.integers(0, max(INVALID_ONE_IN, INVALID_SHARE_MAX * len(columns)) - 1))
    record = {}
    for position, (name, (good, bad)) in enumerate(columns.items()):
        value = draw(bad if position == wrong else good)
        if value != DROP:
            record[name] = value
    if draw(st.integers(0, 7)) == 0:
        record.update(draw(st.dictionaries(st.text(max_size=6).filter(lambda key: key not in names), st.integers(),
                                           min_size=1, max_size=2)))
    return record, wrong >= len(columns)


def pipeline_probabilities(model: Any, rows: list[dict]) -> Any:
    """The pipeline's own ``predict_proba`` of ``rows`` through a pandas frame typed as the training frame."""
    import numpy as np
    import pandas as pd

    data: dict[str, Any] = {}
    for spec in model.contract.columns:
        values = [row.get(spec.name) for row in rows]
        if spec.kind == "numeric":
            data[spec.name] = np.array([math.nan if value is None else float(value) for value in values])
        elif spec.kind == "categorical":
            data[spec.name] = pd.Series(values, dtype=object)
        else:
            data[spec.name] = pd.to_datetime(pd.Series(values, dtype=object), utc=True,
                                             format="ISO8601").dt.tz_localize(None)
    return model.model.predict_proba(pd.DataFrame(data))


def post(url: str, body: bytes, timeout: float = 30.0) -> tuple[int, Any]:
    """``(status, parsed JSON or text)`` of a POST of a JSON body."""
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def fuzz(url: str, model: Any, max_examples: int, max_text_chars: int, home: Path, max_records: int = 6) -> Counter:
    """Send ``max_examples`` random requests of 1 to ``max_records`` records to ``url`` (``/predict``) and
    check each answer; return the counts (``records``, ``requests``, ``valid_requests``, ``status_<code>``,
    ``compared_rows``). AssertionError on the first wrong answer (a wrong status: after Hypothesis shrinks
    it; a wrong prediction: the rows of all 200s are compared with the pipeline at the end, in one call).
    Hypothesis keeps its caches under ``home`` (a temporary folder), not in the working directory."""
    set_hypothesis_home_dir(home)
    try:
        return _fuzz(url, model, max_examples, max_text_chars, max_records)
    finally:
        set_hypothesis_home_dir(None)


def _fuzz(url: str, model: Any, max_examples: int, max_text_chars: int, max_records: int) -> Counter:
    import numpy as np
    from threadpoolctl import threadpool_limits

    columns = column_strategies(model.contract, max_text_chars)
    counts: Counter = Counter()
    answered: list[tuple[dict, list]] = []
    request = st.lists(records(columns, frozenset(model.contract.names)), min_size=1, max_size=max_records)

    @settings(max_examples=max_examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(request)
    def one(drawn: list[tuple[dict, bool]]) -> None:
        rows = [record for record, _ in drawn]
        valid = all(ok for _, ok in drawn)
        status, body = post(url, json.dumps(rows).encode("utf-8"))
        counts.update({"requests": 1, "records": len(rows), f"status_{status}": 1, "valid_requests": int(valid)})
        assert status < 500, (rows, body)
        assert status == (200 if valid else 422), (rows, body)
        if status == 200:
            answered.extend(zip(rows, body["probabilities"]))

    one()
    with threadpool_limits(1):  # a few hundred rows: threads cost more than they save on a busy machine
        expected = pipeline_probabilities(model, [row for row, _ in answered])
    got = np.asarray([probabilities for _, probabilities in answered])
    wrong = ~np.isclose(got, expected, rtol=1e-9, atol=1e-12).all(axis=1)
    assert not wrong.any(), f"{int(wrong.sum())} rows differ, first: {answered[int(np.argmax(wrong))]}"
    counts["compared_rows"] = len(answered)
    return counts
