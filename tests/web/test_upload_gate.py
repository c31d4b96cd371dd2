"""At most GATESCOPE_UPLOADS_AT_ONCE uploads are read at a time: each holds its file several times
over while it is read and checked, so twenty at once would cost gigabytes."""

from __future__ import annotations

import json
from types import SimpleNamespace

import anyio

from app.web.middleware import UploadGate
from app.web.ratelimit import RateLimit
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


def test_an_upload_past_the_most_read_at_once_is_answered_503_at_once_and_costs_no_rate() -> None:
    limit = RateLimit(30, 100, "uploads", "GATESCOPE_UPLOADS_PER_MINUTE")
    app = SimpleNamespace(state=SimpleNamespace(upload_limit=limit))
    release = anyio.Event()
    read: list[str] = []

    async def inner(scope, receive, send) -> None:
        read.append("read")
        await release.wait()

    gate = UploadGate(inner, "/api/models", at_once=1)
    answers: list[dict] = []

    async def send(message: dict) -> None:
        answers.append(message)

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def main() -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(gate, upload_scope(app), receive, send)
            await anyio.sleep(0.05)
            await gate(upload_scope(app), receive, send)  # refused at once, while the first is read
            release.set()

    run_alone(main)
    assert read == ["read"]
    start, body = answers[0], json.loads(answers[1]["body"])
    assert start["status"] == 503 and (b"retry-after", b"1") in start["headers"]
    assert "(GATESCOPE_UPLOADS_AT_ONCE)" in body["error"]
    assert gate.reading == 0
    assert limit.buckets["127.0.0.1"][0] == 29  # the refused one took no token
