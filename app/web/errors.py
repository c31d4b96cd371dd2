"""Every refusal as JSON that says what is wrong and where: {"error": sentence, "loc": [...], ...},
with its status code: the domain's refusals (app.refusal) and the framework's own errors alike.

`loc` is the path inside the request, without FastAPI's leading "body": ["inputs", 3, 0].
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.routing import Route

from app.refusal import (
    Busy,
    Conflict,
    Forbidden,
    Full,
    Invalid,
    NotFound,
    Refusal,
    TooLarge,
    TooMany,
    Unsupported,
)
from app.service.requests import validation_error
from app.web import media
from app.web.encode import JSON
from app.web.headers import SECURITY

log = logging.getLogger(__name__)

FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")  # what Starlette parses


# The one place where a refusal becomes a status code.
# Subclasses before their bases: Busy is a TooMany.
STATUS: dict[type[Refusal], int] = {
    Invalid: 422,
    NotFound: 404,
    Forbidden: 403,
    TooLarge: 413,
    Conflict: 409,
    Unsupported: 415,
    Busy: 503,
    TooMany: 429,
    Full: 507,
}


def status_of(refusal: Refusal) -> int:
    return next(code for kind, code in STATUS.items() if isinstance(refusal, kind))


def response_of(refusal: Refusal) -> JSON:
    """The refusal's JSON, with its status and, for a refusal that ends, Retry-After."""
    headers = {"Retry-After": str(refusal.retry_after)} if isinstance(refusal, TooMany) else None
    return JSON(refusal.body(), status_code=status_of(refusal), headers=headers)


async def _refused(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, Refusal)
    return response_of(exc)


async def _validation_error(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, RequestValidationError)
    return await _refused(request, validation_error(list(exc.errors())))


def unreadable_form(request: Request, detail: str) -> Invalid:
    """Starlette's 400 for a form body it cannot parse (no boundary, a part without a name, a
    broken part), as the 422 the API answers for any body it cannot read."""
    kind = media.media_type(request) or "form"
    if "boundary" in detail.lower():
        return Invalid(
            f"the Content-Type header {kind} names no boundary: {detail} "
            "(let your HTTP client build the multipart body and its header)",
            ["header", "content-type"],
        )
    return Invalid(f"the request body is not valid {kind}: {detail}", [])


async def _http_error(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, HTTPException)
    message = exc.detail if isinstance(exc.detail, str) else "request refused"
    headers = getattr(exc, "headers", None)
    if exc.status_code == 400 and media.media_type(request).startswith(FORMS):
        return response_of(unreadable_form(request, message))
    if exc.status_code == 404:
        message = f"nothing at {request.url.path}"
    elif exc.status_code == 405:
        # Starlette's Allow names the first matching route's methods only; a path served by
        # several routes (GET and POST /api/models) must list them all.
        allowed = sorted(
            {
                m
                for r in request.app.routes
                if isinstance(r, Route) and r.path_regex.match(request.url.path)
                for m in (r.methods or ())
            }
        )
        message = f"{request.method} is not allowed on {request.url.path}; use {', '.join(allowed)}"
        headers = {"Allow": ", ".join(allowed)}
    return JSON({"error": message, "loc": []}, status_code=exc.status_code, headers=headers)


async def _unexpected(request: Request, exc: Exception) -> JSON:
    # Never meant to happen: logged with its traceback, answered in the same JSON shape.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    # Starlette answers this outside every middleware, SecurityHeaders too: the headers go here.
    return JSON(
        {"error": "an internal error occurred; it has been logged", "loc": []},
        status_code=500,
        headers={name.decode(): value.decode() for name, value in SECURITY},
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(Refusal, _refused)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
