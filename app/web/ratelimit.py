"""Limits per client address, in memory, per process: a token bucket for each address. Requests a
minute (RateLimit), and the bytes one address may send to be kept a day (StoreQuota).

The address is the connection's peer (request.client.host): behind a reverse proxy it is the
proxy's, unless uvicorn runs with --proxy-headers (and --forwarded-allow-ips) to read X-Forwarded-For.
An IPv6 address counts as its /64: one host is usually given a whole /64, so each of its addresses
must not start with a bucket of its own.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.requests import Request

from app.refusal import TooMany

DAY = 86_400.0


class Buckets:
    """`capacity` at once, refilled at `per_second`. It remembers at most `addresses` buckets,
    forgetting the least recently seen beyond: its memory stays bounded however many addresses
    come (a forgotten address starts again with a full bucket)."""

    def __init__(self, capacity: float, per_second: float, addresses: int, clock: Callable[[], float]):
        self.capacity, self.per_second = capacity, per_second
        self.addresses = addresses
        self.clock = clock
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # address -> tokens, when

    def take(self, address: str, cost: float) -> float:
        """Take `cost` from the address's bucket: 0.0, or (taking nothing) the seconds until it could."""
        now = self.clock()
        tokens, then = self.buckets.pop(address, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - then) * self.per_second)
        wait = 0.0 if tokens >= cost else (cost - tokens) / self.per_second
        self.buckets[address] = (tokens - cost if not wait else tokens, now)
        while len(self.buckets) > self.addresses:
            self.buckets.popitem(last=False)
        return wait


class RateLimit:
    """`per_minute` at once, then one more every 60 / per_minute seconds."""

    def __init__(
        self,
        per_minute: int,
        addresses: int,
        what: str,
        variable: str,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.capacity = float(per_minute)
        self.what, self.variable = what, variable
        self.counts = Buckets(self.capacity, per_minute / 60, addresses, clock)

    @property
    def buckets(self) -> OrderedDict[str, tuple[float, float]]:
        return self.counts.buckets

    def take(self, address: str) -> None:
        """Count one request from this address, or refuse it with TooMany (429, Retry-After)."""
        wait = self.counts.take(address, 1)
        if wait:
            seconds = max(1, math.ceil(wait))
            raise TooMany(
                f"too many {self.what} from {address}: the limit is {self.capacity:g} a minute "
                f"({self.variable}); try again in {seconds} s",
                [],
                retry_after=seconds,
                limit=int(self.capacity),
            )


class StoreQuota:
    """Bytes one address may send to be kept (uploads as sent, links' states, saved trainings'
    weights): `per_day` at once, refilled over a day. Counted before the work, kept or not: what
    is refused cost the server its reading too. The store's own limit bounds the disk; this keeps
    one address from filling it for everyone."""

    VARIABLE = "GATESCOPE_STORE_BYTES_PER_CLIENT"

    def __init__(self, per_day: int, addresses: int, clock: Callable[[], float] = time.monotonic):
        self.per_day = per_day
        self.bytes = Buckets(float(per_day), per_day / DAY, addresses, clock)

    def take(self, address: str, size: int, what: str) -> None:
        """Count `size` bytes of `what` from this address, or refuse them with TooMany."""
        wait = self.bytes.take(address, size)
        if not wait:
            return
        if size > self.per_day:
            raise TooMany(
                f"{what} takes {size:,} bytes, more than one address may send to be kept in a day, "
                f"{self.per_day:,} ({self.VARIABLE})",
                [],
                retry_after=math.ceil(DAY),
                limit=self.per_day,
            )
        seconds = max(1, math.ceil(wait))
        left = max(0, round(size - wait * self.bytes.per_second))
        raise TooMany(
            f"{what} ({size:,} bytes) is more than the {left:,} bytes {address} may still send to be "
            f"kept today, of {self.per_day:,} a day ({self.VARIABLE}); it fits again in {_span(seconds)}",
            [],
            retry_after=seconds,
            limit=self.per_day,
        )


def _span(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{round(seconds / 60)} minutes"
    return f"{round(seconds / 3600)} hours"


def client_address(request: Request) -> str:
    """The address the limits count by: the peer's, an IPv6 address as its /64."""
    if not request.client:
        return "an unknown address"
    host = request.client.host
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host  # a test client's name, or a Unix socket's path
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return host
