"""The overload guard's bounds in memory: requests in flight and the body bytes they may hold."""

from __future__ import annotations

import pytest

from nbprod.serving.guards import Admission, Unavailable, body_bytes


def test_requests_beyond_the_count_are_refused_and_leaving_lets_the_next_in():
    admission = Admission(2, 10_000)
    admission.enter(10)
    admission.enter(10)
    with pytest.raises(Unavailable) as refused:
        admission.enter(10)
    assert refused.value.status == 503 and "serve.max_in_flight" in refused.value.message
    admission.leave(10)
    admission.enter(10)
    assert (admission.in_flight, admission.bytes, admission.refused) == (2, 20, 1)


def test_body_bytes_beyond_the_bound_are_refused_but_a_request_alone_always_gets_in():
    admission = Admission(100, 1_000)
    admission.enter(5_000)  # alone: in, whatever its size
    with pytest.raises(Unavailable) as refused:
        admission.enter(1)
    assert "serve.max_in_flight_mb" in refused.value.message and refused.value.retry_after >= 1
    admission.leave(5_000)
    admission.enter(600)
    admission.enter(400)
    with pytest.raises(Unavailable):
        admission.enter(1)
    assert (admission.in_flight, admission.bytes) == (2, 1_000)


@pytest.mark.parametrize(("headers", "held"), [
    ({b"content-length": b"123"}, 123),
    ({b"content-length": b"99999999"}, 4096),  # over the body limit: the read stops there (413)
    ({}, 4096),                                # chunked: the most it may send
    ({b"content-length": b"-1"}, 4096),        # not a length
])
def test_a_request_holds_its_content_length_at_most_the_body_limit(headers, held):
    assert body_bytes(headers, 4096) == held
