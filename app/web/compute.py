"""Where CPU work waits for a compute slot, and where reads that compute nothing go instead.

Runs are CPU-bound Python: several at once only contend for the GIL, so they take turns in a few
compute slots (GATESCOPE_COMPUTE_SLOTS) while the event loop keeps answering. The queue for a slot
is bounded (GATESCOPE_MAX_QUEUED: beyond it, 503 at once), a computation waits at most
GATESCOPE_COMPUTE_DEADLINE_SECONDS for its slot (refused at once if the work ahead would likely
take longer, by a running mean of how long computations take), and one whose client has closed the connection
while it waited is never started.

Work that has started runs to its end: a thread cannot be stopped safely from outside, and the
engine stays free of web code (no cancellation checks inside its loop). The deadline therefore
bounds the wait, not the computation; the limits (app.service.limits) bound the computation.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import TypeVar

import anyio
from anyio import CapacityLimiter, to_thread
from starlette.types import Receive

from app.refusal import Busy

T = TypeVar("T")
log = logging.getLogger(__name__)


async def disconnected(receive: Receive) -> None:
    """Return when the client has closed the connection. Call it once the body has been read:
    servers then answer `receive` only with http.disconnect (uvicorn: when the socket closes)."""
    while (await receive())["type"] != "http.disconnect":
        await anyio.sleep(0.05)  # a server that answers with empty body messages must not spin


class ComputeQueue:
    """A bounded, first-come queue for `slots` threads, with a deadline for the wait."""

    def __init__(self, slots: int, max_queued: int, deadline_seconds: float):
        self.slots = CapacityLimiter(slots)
        # Threads for the work itself, apart from anyio's default pool that sync routes share: a
        # computation holding a slot never waits for a thread.
        self.threads = CapacityLimiter(slots)
        self.max_queued = max_queued
        self.deadline = deadline_seconds
        # A running mean of how long one computation takes: for Retry-After, and to refuse at
        # once what would wait past its deadline. It starts low so that a first burst is let in.
        self.seconds_each = 0.05

    @property
    def waiting(self) -> int:
        """Computations waiting for a slot (anyio's own count: exact, since nothing awaits between
        the check in run() and joining the limiter's queue)."""
        return self.slots.statistics().tasks_waiting

    def expected_wait(self) -> float:
        """Seconds until the work queued and running now has likely drained."""
        ahead = self.waiting + self.slots.borrowed_tokens
        return self.seconds_each * ahead / self.slots.total_tokens

    def retry_after(self) -> int:
        return max(1, math.ceil(self.expected_wait()))

    async def run(
        self, work: Callable[[], T], receive: Receive, deadline: float | None = None, variable: str = ""
    ) -> T:
        """`work()` in a worker thread once a slot is free; Busy if the queue is full, if the
        deadline passes first, or if the client goes away first (then nobody reads the answer).
        `deadline`, `variable`: a wait other than the queue's own, for work that is slow anyway
        (an analysis), and the setting that sets it."""
        wait_at_most = self.deadline if deadline is None else deadline
        variable = variable or "GATESCOPE_COMPUTE_DEADLINE_SECONDS"
        if self.slots.available_tokens == 0 and self.waiting >= self.max_queued:
            wait = self.retry_after()
            raise Busy(
                f"the server is busy: {self.waiting} computations are waiting already, the most it "
                f"queues (GATESCOPE_MAX_QUEUED); try again in {wait} s",
                [],
                retry_after=wait,
            )
        if self.slots.available_tokens == 0 and self.expected_wait() > wait_at_most:
            wait = self.retry_after()
            raise Busy(
                f"the server is busy: the work ahead would take about {self.expected_wait():.1f} s, "
                f"longer than a computation may wait for a slot, {wait_at_most:g} s "
                f"({variable}); try again in {wait} s",
                [],
                retry_after=wait,
            )
        outcome = await self._slot(receive, wait_at_most)
        if outcome == "gone":
            log.info("dropped a computation whose client closed the connection while it waited")
            raise Busy("the client closed the connection before its computation started", [], retry_after=1)
        if outcome == "late":
            wait = self.retry_after()
            raise Busy(
                f"the server is busy: no compute slot came free within {wait_at_most:g} s "
                f"({variable}); try again in {wait} s",
                [],
                retry_after=wait,
            )
        start = time.perf_counter()
        try:
            result = await to_thread.run_sync(work, limiter=self.threads)
        finally:
            self.slots.release()
        # Only what was computed counts: a burst of cheap refusals (a 422 raised at once) must not
        # make the work ahead look quick.
        self.seconds_each = 0.8 * self.seconds_each + 0.2 * (time.perf_counter() - start)
        return result

    async def _slot(self, receive: Receive, deadline: float) -> str:
        """'slot' (held: release it), 'late' or 'gone', whichever comes first."""
        outcome = "late"
        async with anyio.create_task_group() as tasks:

            async def watch() -> None:
                nonlocal outcome
                await disconnected(receive)
                outcome = "gone"
                tasks.cancel_scope.cancel()

            tasks.start_soon(watch)
            with anyio.move_on_after(deadline):
                await self.slots.acquire()
                outcome = "slot"  # no await from here to the cancel: the watcher cannot overwrite it
            tasks.cancel_scope.cancel()
        return outcome


async def read(limiter: CapacityLimiter, work: Callable[[], T]) -> T:
    """A store read in a thread of its own pool (GATESCOPE_READ_SLOTS): never behind computation."""
    return await to_thread.run_sync(work, limiter=limiter)
