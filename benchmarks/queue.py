"""Reads behind heavy runs: how long a read that computes nothing, and a tiny run, wait while
50 maximal runs are in flight on a real uvicorn (one worker, 127.0.0.1, a free port).

A maximal run is random-h512-l4-s0 at the most steps GATESCOPE_MAX_VALUES allows (146: 146 × 512
× 4 layers × 6 arrays ≤ 1,800,000 numbers), about 0.25 s of engine and a 20 MB answer each.

(a) 50 clients post a maximal run each and read their answers; 1 s later, the reads below are
    timed, all at once, each from its own thread: /l/<id>, /api/links/<id>, /api/models,
    /api/models/counter, the link's preview (drawn before the load, so cached), /healthz, and a tiny
    run ({"model": "counter", "text": "a"}), whose status is shown too (200, or 503 when the
    queue is full).
(b) 50 clients post a maximal run each and close their sockets 1 s later without reading; then a
    tiny run is timed: work whose client has gone should not hold it up.

Bounded: every socket has a 120 s timeout and the server is stopped by its pid at the end.
Run: .venv/bin/python -m benchmarks.queue
"""

from __future__ import annotations

import json
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

from tests.servers import start_uvicorn, stop

HEAVY = json.dumps({"model": "random-h512-l4-s0", "text": "a" * 146}).encode()
TINY = json.dumps({"model": "counter", "text": "a"}).encode()
N = 50
TIMEOUT = 120


def request(url: str, body: bytes | None = None) -> tuple[int, float]:
    """(status, seconds) of one request, reading the whole answer."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=TIMEOUT) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        e.read()
        status = e.code
    return status, time.perf_counter() - start


def raw_post(host: str, port: int, path: str, body: bytes) -> socket.socket:
    s = socket.create_connection((host, port), timeout=TIMEOUT)
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    s.sendall(f"{head}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    return s


def with_heavy_load(
    url: str, reads: dict[str, tuple[str, bytes | None]]
) -> tuple[dict[str, tuple[int, float]], Counter]:
    statuses: Counter = Counter()

    def heavy() -> None:
        statuses[request(f"{url}/api/run", HEAVY)[0]] += 1

    threads = [threading.Thread(target=heavy) for _ in range(N)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    timed: dict[str, tuple[int, float]] = {}

    def read(name: str, path: str, body: bytes | None) -> None:
        timed[name] = request(f"{url}{path}", body)

    # all at once, so that each meets the same queue (one after another, the first would drain it)
    readers = [threading.Thread(target=read, args=(n, *r)) for n, r in reads.items()]
    for t in readers:
        t.start()
    for t in readers:
        t.join(TIMEOUT)
    for t in threads:
        t.join(TIMEOUT)
    return timed, statuses


def with_clients_gone(url: str) -> tuple[int, float]:
    host, port = url.removeprefix("http://").split(":")
    sockets = [raw_post(host, int(port), "/api/run", HEAVY) for _ in range(N)]
    time.sleep(1.0)
    for s in sockets:
        s.close()
    return request(f"{url}/api/run", TINY)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gatescope-queue-") as data:
        proc, url = start_uvicorn({"GATESCOPE_DATA_DIR": data})
        try:
            made = urllib.request.Request(
                f"{url}/api/links",
                json.dumps({"model": "counter", "text": "ab. ab"}).encode(),
                {"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(made, timeout=TIMEOUT) as r:
                lid = json.load(r)["id"]
            request(f"{url}/l/{lid}.png")  # drawn once: cached from here on
            reads = {
                "/l/<id>": (f"/l/{lid}", None),
                "/api/links/<id>": (f"/api/links/{lid}", None),
                "/api/models": ("/api/models", None),
                "/api/models/counter": ("/api/models/counter", None),
                "/l/<id>.png (cached)": (f"/l/{lid}.png", None),
                "/healthz": ("/healthz", None),
                "tiny run": ("/api/run", TINY),
            }
            timed, statuses = with_heavy_load(url, reads)
            print(f"(a) {N} maximal runs in flight; their answers: {dict(statuses)}")
            print("| request | seconds | status |\n|---|---|---|")
            for name in reads:
                status, seconds = timed[name]
                print(f"| {name} | {seconds:.3f} | {status} |")
            status, seconds = with_clients_gone(url)
            print(f"(b) tiny run behind {N} runs whose clients left after 1 s: {seconds:.3f} s, {status}")
        finally:
            stop(proc)


if __name__ == "__main__":
    main()
