"""Rate limits per client address on creating links and uploading models: 429 with Retry-After
beyond them, each address on its own, in bounded memory."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from safetensors.numpy import save as save_numpy

from app.refusal import TooMany
from app.web.ratelimit import RateLimit
from tests.web.test_api import assert_refused


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_lets_a_minute_s_worth_through_then_refills_one_every_60_over_n_seconds() -> None:
    clock = Clock()
    limit = RateLimit(6, 100, "new links", "GATESCOPE_LINKS_PER_MINUTE", clock)
    for _ in range(6):
        limit.take("10.0.0.1")
    with pytest.raises(TooMany) as refused:
        limit.take("10.0.0.1")
    assert refused.value.retry_after == 10  # one more every 10 s
    assert "GATESCOPE_LINKS_PER_MINUTE" in refused.value.message and "10.0.0.1" in refused.value.message
    limit.take("10.0.0.2")  # another address has its own bucket
    clock.now += 10
    limit.take("10.0.0.1")
    with pytest.raises(TooMany):
        limit.take("10.0.0.1")


def test_the_limiter_remembers_a_bounded_number_of_addresses() -> None:
    limit = RateLimit(1, 1000, "uploads", "GATESCOPE_UPLOADS_PER_MINUTE", Clock())
    for n in range(100_000):
        limit.take(f"10.{n >> 16}.{(n >> 8) & 255}.{n & 255}")
    assert len(limit.buckets) == 1000
    with pytest.raises(TooMany):  # the most recent are those remembered
        limit.take("10.1.134.159")


def test_links_beyond_the_rate_are_answered_429_with_retry_after(make_client) -> None:
    c = make_client(links_per_minute=2)
    for n in range(2):
        assert c.post("/api/links", json={"model": "counter", "text": f"ab{n}"}).status_code == 200
    r = c.post("/api/links", json={"model": "counter", "text": "ab2"})
    body = assert_refused(r, 429, ["too many new links", "GATESCOPE_LINKS_PER_MINUTE", "testclient"], [])
    assert body["limit"] == 2 and body["retry_after"] == 30
    assert r.headers["retry-after"] == "30"
    # Reads, runs and another address are not limited by it
    assert c.post("/api/run", json={"model": "counter", "text": "a"}).status_code == 200
    other = TestClient(c.app, client=("192.0.2.7", 40000))
    assert other.post("/api/links", json={"model": "counter", "text": "ab3"}).status_code == 200


def test_uploads_beyond_the_rate_are_answered_429_with_retry_after(make_client) -> None:
    c = make_client(uploads_per_minute=1)
    weights = save_numpy({"weight_ih_l0": np.zeros((8, 2)), "weight_hh_l0": np.zeros((8, 2))})
    files = {"weights": ("w.safetensors", weights)}
    assert c.post("/api/models", files=files, data={"vocab": "ab"}).status_code == 200
    r = c.post("/api/models", files=files, data={"vocab": "ab"})
    body = assert_refused(r, 429, ["too many uploads", "GATESCOPE_UPLOADS_PER_MINUTE"], [])
    assert body["retry_after"] == 60 and r.headers["retry-after"] == "60"
