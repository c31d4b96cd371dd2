"""Rate limits per client address on creating links and uploading models: 429 with Retry-After
beyond them, each address on its own, in bounded memory."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from safetensors.numpy import save as save_numpy
from starlette.requests import Request

from app.refusal import TooMany
from app.web.ratelimit import RateLimit, StoreQuota, client_address
from tests.models.test_uploads import stored_count
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
    c.app.state.link_limit.counts.clock = Clock()  # the Retry-After below, however slow the requests
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
    c.app.state.upload_limit.counts.clock = Clock()
    weights = save_numpy({"weight_ih_l0": np.zeros((8, 2)), "weight_hh_l0": np.zeros((8, 2))})
    files = {"weights": ("w.safetensors", weights)}
    assert c.post("/api/models", files=files, data={"vocab": "ab"}).status_code == 200
    r = c.post("/api/models", files=files, data={"vocab": "ab"})
    body = assert_refused(r, 429, ["too many uploads", "GATESCOPE_UPLOADS_PER_MINUTE"], [])
    assert body["retry_after"] == 60 and r.headers["retry-after"] == "60"


# --- the bytes one address may send to be kept ------------------------------------------------


def test_a_quota_lets_a_day_s_bytes_through_then_refills_over_the_day() -> None:
    clock = Clock()
    quota = StoreQuota(100, 10, clock)
    quota.take("10.0.0.1", 40, "this upload")
    quota.take("10.0.0.1", 40, "this upload")
    with pytest.raises(TooMany) as refused:
        quota.take("10.0.0.1", 40, "this upload")
    # 20 bytes left, 20 more needed, at 100 bytes a day: 86,400 / 5 s
    assert refused.value.retry_after == 17_280 and refused.value.extra["limit"] == 100
    assert refused.value.message == (
        "this upload (40 bytes) is more than the 20 bytes 10.0.0.1 may still send to be kept today, "
        "of 100 a day (GATESCOPE_STORE_BYTES_PER_CLIENT); it fits again in 5 hours"
    )
    quota.take("10.0.0.2", 100, "this link")  # another address has its own
    clock.now += 17_280
    quota.take("10.0.0.1", 40, "this upload")  # the refusal took nothing: exactly enough again
    with pytest.raises(TooMany):
        quota.take("10.0.0.1", 1, "this upload")


def test_what_is_larger_than_a_day_s_quota_is_refused_in_its_own_words() -> None:
    quota = StoreQuota(100, 10, Clock())
    with pytest.raises(TooMany) as refused:
        quota.take("10.0.0.1", 101, "this upload")
    assert refused.value.message == (
        "this upload takes 101 bytes, more than one address may send to be kept in a day, 100 "
        "(GATESCOPE_STORE_BYTES_PER_CLIENT)"
    )
    quota.take("10.0.0.1", 100, "this upload")  # and it took nothing


def upload(c: TestClient, n: int):  # type: ignore[no-untyped-def]
    weights = save_numpy({"weight_ih_l0": np.full((8, 2), float(n)), "weight_hh_l0": np.zeros((8, 2))})
    return c.post("/api/models", files={"weights": ("w.safetensors", weights)}, data={"vocab": "ab"})


def test_uploads_past_an_address_s_daily_bytes_are_refused_from_their_length_and_never_read(
    make_client,
) -> None:
    one = len(upload(TestClient(make_client().app), 0).request.content)  # an upload's body, as sent
    c = make_client(store_bytes_per_client=2 * one + one // 2)
    assert upload(c, 1).status_code == 200 and upload(c, 2).status_code == 200
    r = upload(c, 3)
    body = assert_refused(
        r, 429, ["bytes testclient may still send to be kept today", "GATESCOPE_STORE_BYTES_PER_CLIENT"], []
    )
    assert body["limit"] == 2 * one + one // 2 and int(r.headers["retry-after"]) > 3600
    assert stored_count(c) == 2
    other = TestClient(c.app, client=("192.0.2.7", 40000))
    assert upload(other, 3).status_code == 200 and stored_count(c) == 3


def test_links_count_their_state_against_the_same_bytes(make_client) -> None:
    c = make_client(store_bytes_per_client=120)
    state = {"model": "counter", "text": "ab.ba"}  # 37 bytes of JSON as TestClient sends it
    for n in range(3):
        assert c.post("/api/links", json={**state, "t": n}).status_code == 200
    r = c.post("/api/links", json={**state, "t": 3})
    assert_refused(r, 429, ["GATESCOPE_STORE_BYTES_PER_CLIENT", "this link ("], [])
    assert c.post("/api/run", json=state).status_code == 200  # runs keep nothing: never counted


@pytest.mark.parametrize(
    ("peer", "counted_as"),
    [
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("192.0.2.7", "192.0.2.7"),
        ("testclient", "testclient"),
    ],
)
def test_an_ipv6_address_counts_as_its_64(peer: str, counted_as: str) -> None:
    scope = {"type": "http", "client": (peer, 1), "headers": [], "method": "GET", "path": "/"}
    assert client_address(Request(scope)) == counted_as


def test_a_host_s_other_ipv6_addresses_share_its_limit(make_client) -> None:
    c = make_client(links_per_minute=1)
    first = TestClient(c.app, client=("2001:db8::1", 40000))
    second = TestClient(c.app, client=("2001:db8::2", 40000))
    elsewhere = TestClient(c.app, client=("2001:db8:0:1::2", 40000))
    assert first.post("/api/links", json={"model": "counter", "text": "a"}).status_code == 200
    r = second.post("/api/links", json={"model": "counter", "text": "b"})
    assert_refused(r, 429, ["too many new links from 2001:db8::/64"], [])
    assert elsewhere.post("/api/links", json={"model": "counter", "text": "b"}).status_code == 200
