"""The compute queue: bounded, with a deadline for the wait, dropping work whose client has gone;
and the reads that compute nothing, which never wait behind it."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from app.refusal import Busy
from app.service import run
from app.service.store import Store
from app.web.compute import ComputeQueue
from tests.servers import start_uvicorn, stop
from tests.web.test_api import assert_refused

GENEROUS = 10  # seconds: what "at once" must beat by far, on a loaded machine


def never_disconnects() -> Callable[[], Any]:
    async def receive() -> dict[str, Any]:
        await anyio.sleep_forever()
        raise AssertionError

    return receive


def run_alone(main: Callable[[], Awaitable[None]]) -> None:
    """anyio.run in a thread of its own: the browser tests' Playwright keeps an event loop running
    in the main thread for the whole session."""
    failed: list[BaseException] = []

    def target() -> None:
        try:
            anyio.run(main)
        except BaseException as e:  # re-raised in the test's own thread
            failed.append(e)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]


# --- the queue itself -----------------------------------------------------------------------


def test_a_full_queue_refuses_at_once_with_retry_after() -> None:
    async def main() -> None:
        queue = ComputeQueue(slots=1, max_queued=1, deadline_seconds=60)
        release = threading.Event()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(queue.run, release.wait, never_disconnects())
            tasks.start_soon(queue.run, lambda: None, never_disconnects())
            await anyio.sleep(0.2)  # one computing, one waiting
            # refused while the first still computes: had it waited for the slot, it would wait for ever
            with anyio.fail_after(GENEROUS), pytest.raises(Busy) as refused:
                await queue.run(lambda: pytest.fail("a refused computation ran"), never_disconnects())
            release.set()
        assert "GATESCOPE_MAX_QUEUED" in refused.value.message
        assert refused.value.retry_after >= 1 and refused.value.loc == []

    run_alone(main)


def test_work_still_waiting_at_its_deadline_is_never_started() -> None:
    ran: list[str] = []

    async def main() -> None:
        queue = ComputeQueue(slots=1, max_queued=16, deadline_seconds=0.2)
        release = threading.Event()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(queue.run, release.wait, never_disconnects())
            await anyio.sleep(0.05)
            with pytest.raises(Busy) as refused:
                await queue.run(lambda: ran.append("late"), never_disconnects())
            release.set()
        assert "0.2 s (GATESCOPE_COMPUTE_DEADLINE_SECONDS)" in refused.value.message
        assert await queue.run(lambda: "free again", never_disconnects()) == "free again"

    run_alone(main)
    assert ran == []


def test_work_that_would_wait_past_its_deadline_is_refused_at_once() -> None:
    async def main() -> None:
        queue = ComputeQueue(slots=1, max_queued=16, deadline_seconds=1)
        release = threading.Event()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(queue.run, release.wait, never_disconnects())
            await anyio.sleep(0.05)
            queue.seconds_each = 3.0  # as if the last computations took 3 s each
            with anyio.fail_after(GENEROUS), pytest.raises(Busy) as refused:
                await queue.run(lambda: pytest.fail("a refused computation ran"), never_disconnects())
            release.set()
        assert "about 3.0 s" in refused.value.message  # the words of the refusal before any wait
        assert "1 s (GATESCOPE_COMPUTE_DEADLINE_SECONDS)" in refused.value.message
        assert refused.value.retry_after == 3

    run_alone(main)


def test_work_whose_client_left_while_it_waited_is_never_started() -> None:
    ran: list[str] = []

    async def main() -> None:
        queue = ComputeQueue(slots=1, max_queued=16, deadline_seconds=60)
        release, gone = threading.Event(), anyio.Event()

        async def receive() -> dict[str, Any]:
            await gone.wait()
            return {"type": "http.disconnect"}

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(queue.run, release.wait, never_disconnects())
            await anyio.sleep(0.05)
            gone.set()
            with pytest.raises(Busy):
                await queue.run(lambda: ran.append("gone"), receive)
            assert queue.waiting == 0
            release.set()

    run_alone(main)
    assert ran == []


# --- through the app ------------------------------------------------------------------------


class Held:
    """POST /api/run with text "hold" keeps its compute slot until `release` is set; every other
    run is recorded in `computed` and computed as usual."""

    def __init__(self) -> None:
        self.started, self.release = threading.Event(), threading.Event()
        self.computed: list[str] = []
        self.holders: list[Callable[[float], Any]] = []

    def hold_the_slot(self, client: Any) -> None:
        run = {"model": "counter", "text": "hold"}
        self.holders.append(in_background(lambda: client.post("/api/run", json=run)))
        assert self.started.wait(GENEROUS)


@pytest.fixture
def held(make_client: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Held]:
    # After make_client: torn down first, so that the held run ends before its client closes.
    h = Held()
    real = run.execute

    def execute(req: Any, *args: Any) -> Any:
        if req.text == "hold":
            h.started.set()
            h.release.wait(60)
        else:
            h.computed.append(req.text)
        return real(req, *args)

    monkeypatch.setattr(run, "execute", execute)
    yield h
    h.release.set()
    for holder in h.holders:
        assert holder(GENEROUS).status_code == 200


def in_background(fn: Callable[[], Any]) -> Callable[[float], Any]:
    """Start fn in a thread; the returned function waits for its result at most `seconds`."""
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    thread.start()

    def result(seconds: float) -> Any:
        thread.join(seconds)
        assert out, f"no answer within {seconds} s"
        return out[0]

    return result


def test_beyond_the_queue_a_run_is_answered_503_with_retry_after(make_client, held) -> None:
    c = make_client(max_queued=0)
    held.hold_the_slot(c)
    r = in_background(lambda: c.post("/api/run", json={"model": "counter", "text": "ab"}))(GENEROUS)
    assert_refused(r, 503, ["busy", "GATESCOPE_MAX_QUEUED"], [])
    assert int(r.headers["retry-after"]) >= 1
    assert held.computed == []


def test_a_run_that_waited_past_its_deadline_is_answered_503_and_never_computed(make_client, held) -> None:
    c = make_client(compute_deadline_seconds=0.3)
    held.hold_the_slot(c)
    r = in_background(lambda: c.post("/api/run", json={"model": "counter", "text": "ab"}))(GENEROUS)
    assert_refused(r, 503, ["0.3 s", "GATESCOPE_COMPUTE_DEADLINE_SECONDS"], [])
    assert "retry-after" in r.headers
    assert held.computed == []


def test_an_analysis_does_not_wait_behind_a_run(make_client, held) -> None:
    c = make_client(compute_deadline_seconds=0.3)
    held.hold_the_slot(c)
    body = {"model": "python-chars", "text": "x = 1\n"}
    r = in_background(lambda: c.post("/api/analyze", json=body))(GENEROUS)
    assert r.status_code == 200, r.text
    assert r.json()["steps"] == 6


def test_analyses_queue_apart_and_wait_as_long_as_their_own_deadline_says(
    make_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An analysis takes seconds: it has a queue of its own, so runs go on while one computes,
    and a second analysis waits for its turn at most GATESCOPE_ANALYZE_DEADLINE_SECONDS."""
    from app.service import analyze

    started, release = threading.Event(), threading.Event()
    real = analyze.analyze

    def held_analysis(req: Any, *args: Any) -> Any:
        if req.text == "hold\n":
            started.set()
            release.wait(60)
        return real(req, *args)

    monkeypatch.setattr(analyze, "analyze", held_analysis)
    c = make_client(analyze_deadline_seconds=0.3)
    holder = in_background(lambda: c.post("/api/analyze", json={"model": "python-chars", "text": "hold\n"}))
    try:
        assert started.wait(GENEROUS)
        second = in_background(lambda: c.post("/api/analyze", json={"model": "python-chars", "text": "x\n"}))
        assert_refused(second(GENEROUS), 503, ["0.3 s", "GATESCOPE_ANALYZE_DEADLINE_SECONDS"], [])
        r = in_background(lambda: c.post("/api/run", json={"model": "counter", "text": "ab"}))(GENEROUS)
        assert r.status_code == 200, r.text  # runs are not behind the analysis
    finally:
        release.set()
    assert holder(GENEROUS).status_code == 200


def test_analyses_are_rate_limited_per_client_address(make_client) -> None:
    c = make_client(analyses_per_minute=2)
    body = {"model": "python-chars", "text": "x = 1\n"}
    assert [c.post("/api/analyze", json=body).status_code for _ in range(2)] == [200, 200]
    r = c.post("/api/analyze", json=body)
    assert_refused(r, 429, ["analyses", "GATESCOPE_ANALYSES_PER_MINUTE"], [])
    assert c.post("/api/run", json={"model": "counter", "text": "ab"}).status_code == 200


def test_reads_that_compute_nothing_answer_while_the_compute_slot_is_held(make_client, held) -> None:
    c = make_client()
    link = c.post("/api/links", json={"model": "counter", "text": "ab. ab"}).json()["id"]
    assert c.get(f"/l/{link}.png").status_code == 200  # drawn now: kept from here on
    held.hold_the_slot(c)
    for path in (
        f"/l/{link}",
        f"/api/links/{link}",
        "/api/models",
        "/api/models/counter",
        f"/l/{link}.png",
        "/l/aaaaaaaaaaaa.png",  # unknown: refused without queueing
        "/healthz",
    ):
        r = in_background(lambda path=path: c.get(path))(GENEROUS)
        assert r.status_code == (404 if "aaaa" in path else 200), (path, r.status_code, r.text[:300])


# --- a real server, real sockets --------------------------------------------------------------

HEAVY = json.dumps({"model": "random-h512-l4-s0", "text": "a" * 146}).encode()


def send(port: int, method: str, path: str, body: bytes = b"") -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    s.sendall(f"{head}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    return s


def answer(s: socket.socket) -> tuple[int, bytes]:
    """The status and body of the answer, read to the end (the server closes the connection)."""
    chunks = []
    while chunk := s.recv(1 << 20):
        chunks.append(chunk)
    s.close()
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_a_preview_whose_client_left_while_it_waited_is_never_drawn(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {
        "GATESCOPE_DATA_DIR": str(data),
        "GATESCOPE_COMPUTE_SLOTS": "1",
        "GATESCOPE_COMPUTE_DEADLINE_SECONDS": "120",
    }
    proc, url = start_uvicorn(env)
    port = int(url.rsplit(":", 1)[1])
    try:
        made = send(port, "POST", "/api/links", json.dumps({"model": "counter", "text": "ab."}).encode())
        link = json.loads(answer(made)[1])["id"]
        # Eight maximal runs keep the one slot busy for a second or more; their clients wait.
        heavy = [send(port, "POST", "/api/run", HEAVY) for _ in range(8)]
        time.sleep(0.3)
        gone = send(port, "GET", f"/l/{link}.png")
        time.sleep(0.3)  # read by the server, waiting for the slot
        gone.close()
        assert [answer(s)[0] for s in heavy] == [200] * 8  # the slot is free again
        tiny = json.dumps({"model": "counter", "text": "a"}).encode()
        assert answer(send(port, "POST", "/api/run", tiny))[0] == 200
        store = Store(data)
        assert store.get_preview(link) is None, "the preview was drawn for a client that had gone"
        # and a client that stays gets it, drawn now
        assert answer(send(port, "GET", f"/l/{link}.png"))[0] == 200
        assert store.get_preview(link) is not None
        store.close()
    finally:
        stop(proc)


def test_refused_work_does_not_make_the_work_ahead_look_quick() -> None:
    async def main() -> None:
        queue = ComputeQueue(slots=1, max_queued=16, deadline_seconds=1)
        await queue.run(lambda: time.sleep(0.3), never_disconnects())
        measured = queue.seconds_each
        for _ in range(20):
            with pytest.raises(ValueError):
                await queue.run(lambda: int("not a number"), never_disconnects())
        assert queue.seconds_each == measured

    run_alone(main)


def test_a_models_info_waits_for_the_compute_queue_only_when_its_weights_must_be_drawn(client) -> None:
    queued: list[str] = []
    queue = client.app.state.compute
    original = queue.run

    async def recording(work, receive):
        queued.append("queued")
        return await original(work, receive)

    queue.run = recording
    assert client.get("/api/models/counter").json()["hidden_size"] == 4
    assert queued == []  # in memory: a read
    assert client.get("/api/models/random-h32-l2-s5").json()["hidden_size"] == 32
    assert queued == ["queued"]
