"""Every refusal as JSON that says what is wrong and where: {"error": sentence, "loc": [...], ...}.

`loc` is the path inside the request, without FastAPI's leading "body": ["inputs", 3, 0].
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.routing import Route

from app.encode import JSON

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A request we refuse: status, a sentence for people, where in the request, and extra facts."""

    def __init__(self, status: int, message: str, loc: list[str | int] | None = None, **extra: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.loc = loc or []
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "loc": self.loc, **self.extra}


def where(loc: Sequence[str | int]) -> str:
    """('inputs', 3, 0) -> 'inputs[3][0]'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the request body"


def _message(err: dict[str, Any], loc: list[str | int]) -> str:
    if not loc and err["type"] in ("model_attributes_type", "dict_type", "model_type"):
        return "the request body must be a JSON object, such as {\"model\": \"counter\", \"text\": \"ab.\"}"
    if err["type"] == "extra_forbidden":
        return f"{where(loc)}: unexpected key (not part of this request)"
    return f"{where(loc)}: {err['msg']}"


def validation_error(errors: Sequence[dict[str, Any]]) -> ApiError:
    """One 422 from pydantic's list of errors: the first three in the sentence, all in `detail`."""
    locs = [[p for p in e["loc"] if p != "body"] if e["loc"][:1] == ("body",) else list(e["loc"])
            for e in errors]
    messages = [_message(e, loc) for e, loc in zip(errors, locs, strict=True)]
    more = f" (and {len(messages) - 3} more)" if len(messages) > 3 else ""
    return ApiError(
        422, "; ".join(messages[:3]) + more, locs[0] if locs else [],
        detail=[{"loc": loc, "msg": m} for loc, m in zip(locs[:20], messages[:20], strict=True)],
    )


async def _api_error(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, ApiError)
    return JSON(exc.body(), status_code=exc.status)


async def _validation_error(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, RequestValidationError)
    return await _api_error(request, validation_error(list(exc.errors())))


async def _http_error(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, HTTPException)
    message = exc.detail if isinstance(exc.detail, str) else "request refused"
    headers = getattr(exc, "headers", None)
    if exc.status_code == 404:
        message = f"nothing at {request.url.path}"
    elif exc.status_code == 405:
        # Starlette's Allow names the first matching route's methods only; a path served by
        # several routes (GET and POST /api/models) must list them all.
        allowed = sorted({m for r in request.app.routes if isinstance(r, Route)
                          and r.path_regex.match(request.url.path) for m in (r.methods or ())})
        message = f"{request.method} is not allowed on {request.url.path}; use {', '.join(allowed)}"
        headers = {"Allow": ", ".join(allowed)}
    return JSON({"error": message, "loc": []}, status_code=exc.status_code, headers=headers)


async def _unexpected(request: Request, exc: Exception) -> JSON:
    # Never meant to happen: logged with its traceback, answered in the same JSON shape.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSON({"error": "an internal error occurred; it has been logged", "loc": []}, status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
