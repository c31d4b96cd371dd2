"""At most GATESCOPE_UPLOADS_AT_ONCE uploads are read at a time: each holds its file several times
over while it is read and checked, so twenty at once would cost gigabytes. The others wait, their
bodies unread, for GATESCOPE_UPLOADS_WAIT_SECONDS at most."""

from __future__ import annotations

import json
from types import SimpleNamespace

import anyio

from app.web.middleware import UploadGate
from app.web.ratelimit import RateLimit, StoreQuota
from tests.web.test_compute import run_alone


def upload_scope(app: object) -> dict:
    headers = [(b"content-type", b"multipart/form-data; boundary=x")]
    return {
        "type": "http",
        "method": "POST",
        "path": "/api/models",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "app": app,
        "query_string": b"",
    }


async def receive() -> dict:
    return {"type": "http.request", "body": b"", "more_body": False}


def gate_and_app(wait_seconds: float) -> tuple[UploadGate, object, anyio.Event, list[str], RateLimit]:
    limit = RateLimit(30, 100, "uploads", "GATESCOPE_UPLOADS_PER_MINUTE")
    quota = StoreQuota(1 << 30, 100)
    app = SimpleNamespace(state=SimpleNamespace(upload_limit=limit, store_quota=quota))
    release = anyio.Event()
    read: list[str] = []

    async def inner(scope, receive, send) -> None:
        read.append("read")
        await release.wait()

    return (
        UploadGate(inner, "/api/models", at_once=1, wait_seconds=wait_seconds, largest=1 << 20),
        app,
        release,
        read,
        limit,
    )


def answers_kept() -> tuple[list[dict], object]:
    answers: list[dict] = []

    async def send(message: dict) -> None:
        answers.append(message)

    return answers, send


def test_an_upload_past_the_most_read_at_once_waits_its_turn() -> None:
    answers, send = answers_kept()

    async def main() -> None:
        gate, app, release, read, _ = gate_and_app(wait_seconds=10)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(gate, upload_scope(app), receive, send)
            tasks.start_soon(gate, upload_scope(app), receive, send)
            await anyio.sleep(0.1)
            assert read == ["read"]  # one at a time: the second waits, unread
            release.set()
        assert read == ["read", "read"] and answers == []

    run_alone(main)


def test_an_upload_whose_turn_does_not_come_in_time_is_refused_and_costs_no_rate() -> None:
    answers, send = answers_kept()

    async def main() -> None:
        gate, app, release, read, limit = gate_and_app(wait_seconds=0.2)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(gate, upload_scope(app), receive, send)
            await anyio.sleep(0.05)
            await gate(upload_scope(app), receive, send)  # waits 0.2 s, then refused
            release.set()
        assert read == ["read"]
        assert limit.buckets["127.0.0.1"][0] == 29  # only the one read took a token

    run_alone(main)
    start, body = answers[0], json.loads(answers[1]["body"])
    assert start["status"] == 503 and (b"retry-after", b"1") in start["headers"]
    assert "(GATESCOPE_UPLOADS_AT_ONCE), and no turn came within 0.2 s" in body["error"]


def test_an_upload_counts_its_declared_length_and_is_refused_unread_past_the_day_s_bytes() -> None:
    answers, send = answers_kept()
    gate, app, release, read, _ = gate_and_app(wait_seconds=1)
    quota = app.state.store_quota = StoreQuota(3000, 100)  # type: ignore[attr-defined]
    release.set()

    def declaring(length: bytes | None) -> dict:
        scope = upload_scope(app)
        scope["headers"] = scope["headers"] + ([(b"content-length", length)] if length else [])
        return scope

    async def main() -> None:
        await gate(declaring(b"1000"), receive, send)  # 1,000 of 3,000
        await gate(declaring(b"99999999"), receive, send)  # counted as the most a body may take: 1 MiB
        await gate(declaring(None), receive, send)  # so is one without a length: refused, unread

    run_alone(main)
    assert read == ["read"]
    assert round(quota.bytes.buckets["127.0.0.1"][0]) == 2000  # (and what refilled as it ran)
    assert [json.loads(a["body"])["error"] for a in answers if a["type"] == "http.response.body"] == [
        "this upload takes 1,048,576 bytes, more than one address may send to be kept in a day, 3,000 "
        "(GATESCOPE_STORE_BYTES_PER_CLIENT)"
    ] * 2
