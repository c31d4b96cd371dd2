"""ASGI middleware about headers: the security headers every response carries, and the limit on
the request's own headers (431), checked by the app itself whatever server runs it."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.web.encode import JSON

# Nothing inline, nothing from another origin: the page is ES modules and a stylesheet from here.
# data: and blob: images are the page's own canvases and exports (and Swagger UI's CSS icons).
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ]
)
SECURITY = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"SAMEORIGIN"),  # frame-ancestors, for browsers that predate it
]


class SecurityHeaders:
    """Adds SECURITY to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in SECURITY if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class HeaderLimit:
    """Refuses requests whose headers (names and values) add up to more than max_bytes, with 431."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = sum(len(name) + len(value) for name, value in scope["headers"])
            if size > self.max_bytes:
                response = JSON(
                    {
                        "error": f"the request's headers are {size} bytes; the limit is "
                        f"{self.max_bytes} (GATESCOPE_MAX_HEADER_BYTES)",
                        "loc": ["header"],
                        "limit": self.max_bytes,
                    },
                    status_code=431,
                    headers={"Connection": "close"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
