"""ASGI middleware that refuses requests before the app reads their bodies: bodies over the size
limit, and uploads of the wrong type, from another site's page, or past the rate limit."""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.refusal import Busy, Refusal
from app.web import media
from app.web.encode import JSON
from app.web.errors import response_of
from app.web.ratelimit import client_address


class UploadGate:
    """POST `path` (uploads): its Content-Type, Sec-Fetch-Site and the client's limits are
    checked on the headers alone, before a byte of the (up to 20 MB) form is read or parsed; and
    at most `at_once` uploads are read at a time (each holds its file a few times over while it
    is read and checked). One that finds no turn within `wait_seconds` is refused with 503; while
    it waits, its body stays unread in the socket."""

    def __init__(self, app: ASGIApp, path: str, at_once: int, wait_seconds: float, largest: int):
        self.app = app
        self.path = path
        self.largest = largest  # the most an upload's body may take: what one without a length counts
        self.turns = anyio.CapacityLimiter(at_once)
        self.wait_seconds = wait_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            media.require_multipart(request)
            await self._turn()
        except Refusal as refusal:
            await response_of(refusal)(scope, receive, send)
            return
        try:
            over = self._over_the_rate(request)  # counted once its turn has come
            await (response_of(over) if over else self.app)(scope, receive, send)
        finally:
            self.turns.release()

    def _over_the_rate(self, request: Request) -> Refusal | None:
        """The address's uploads a minute, then the bytes it may send to be kept (StoreQuota)."""
        declared = request.headers.get("content-length", "")
        size = min(int(declared), self.largest) if declared.isdigit() else self.largest
        address = client_address(request)
        try:
            request.app.state.upload_limit.take(address)
            request.app.state.store_quota.take(address, size, "this upload")
        except Refusal as refusal:
            return refusal
        return None

    async def _turn(self) -> None:
        with anyio.move_on_after(self.wait_seconds):
            await self.turns.acquire()
            return
        raise Busy(
            f"the server is reading {self.turns.borrowed_tokens} uploads, the most it reads at once "
            f"(GATESCOPE_UPLOADS_AT_ONCE), and no turn came within {self.wait_seconds:g} s; try again "
            "in a few seconds",
            [],
            retry_after=max(1, round(self.wait_seconds)),
        )


class BodyLimit:
    """max_bytes for every path but those given a larger limit (uploads, analyses), each with the
    setting that raises it."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: dict[str, tuple[int, str]] | None = None):
        self.app = app
        self.default = max_bytes
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, _ = self.larger.get(scope["path"], (self.default, ""))
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and not declared.isdigit():
            await JSON(
                {
                    "error": f"the Content-Length header {declared.decode('latin-1')!r} is not a number",
                    "loc": ["header", "content-length"],
                },
                status_code=400,
                headers={"Connection": "close"},
            )(scope, receive, send)
            return
        if declared is not None and int(declared) > limit:
            await self._refuse(scope, receive, send, declared.decode("latin-1"), limit)
            return
        # Buffer the body (at most max_bytes), then hand the app a receive that replays it.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(scope, receive, send, f"more than {limit}", limit)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = [b"".join(chunks)]  # handed over once, then not held here: an upload is 20 MB
        chunks.clear()

        async def replay() -> Message:
            if body:
                return {"type": "http.request", "body": body.pop(), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: str, limit: int) -> None:
        _, variable = self.larger.get(scope["path"], (limit, "GATESCOPE_MAX_BODY_BYTES"))
        response = JSON(
            {
                "error": f"the request body is {size} bytes; the limit is {limit} ({variable})",
                "loc": [],
                "limit": limit,
            },
            status_code=413,
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
