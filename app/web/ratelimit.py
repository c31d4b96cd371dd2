"""Rate limits per client address, in memory, per process: a token bucket for each address.

The address is the connection's peer (request.client.host): behind a reverse proxy it is the
proxy's, unless uvicorn runs with --proxy-headers (and --forwarded-allow-ips) to read X-Forwarded-For.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.requests import Request

from app.refusal import TooMany


class RateLimit:
    """`per_minute` at once, then one more every 60 / per_minute seconds. It remembers at most
    `addresses` buckets, forgetting the least recently seen beyond: its memory stays bounded
    however many addresses come (a forgotten address starts again with a full bucket)."""

    def __init__(
        self,
        per_minute: int,
        addresses: int,
        what: str,
        variable: str,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.capacity = float(per_minute)
        self.per_second = per_minute / 60
        self.addresses = addresses
        self.what, self.variable = what, variable
        self.clock = clock
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # address -> tokens, when

    def take(self, address: str) -> None:
        """Count one request from this address, or refuse it with TooMany (429, Retry-After)."""
        now = self.clock()
        tokens, then = self.buckets.pop(address, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - then) * self.per_second)
        if tokens < 1:
            self.buckets[address] = (tokens, now)
            wait = max(1, math.ceil((1 - tokens) / self.per_second))
            raise TooMany(
                f"too many {self.what} from {address}: the limit is {self.capacity:g} a minute "
                f"({self.variable}); try again in {wait} s",
                [],
                retry_after=wait,
                limit=int(self.capacity),
            )
        self.buckets[address] = (tokens - 1, now)
        while len(self.buckets) > self.addresses:
            self.buckets.popitem(last=False)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "an unknown address"
