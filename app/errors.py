"""Every refusal as JSON that says what is wrong and where: {"error": sentence, "loc": [...], ...}."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

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


def where(loc: list[str | int] | tuple[str | int, ...]) -> str:
    """('body', 'inputs', 3, 0) -> 'inputs[3][0]'."""
    text = ""
    for part in loc:
        if part == "body" and not text:
            continue
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def _validation_message(err: dict[str, Any]) -> str:
    if err["type"] == "json_invalid":
        reason = err.get("ctx", {}).get("error", "it cannot be parsed")
        pos = err["loc"][-1] if isinstance(err["loc"][-1], int) else None
        at = f" at character {pos}" if pos is not None else ""
        return f"the request body is not valid JSON{at}: {reason}"
    if err["type"] == "missing" and tuple(err["loc"]) == ("body",):
        return 'the request body is empty: send a JSON object such as {"model": "counter", "text": "ab."}'
    if err["type"] in ("model_attributes_type", "dict_type") and tuple(err["loc"]) == ("body",):
        return "the request body must be a JSON object (and sent with Content-Type: application/json)"
    if err["type"] == "extra_forbidden":
        return f"{where(err['loc'])}: unexpected key (not part of this request)"
    return f"{where(err['loc'])}: {err['msg']}"


async def _api_error(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, ApiError)
    return JSON(exc.body(), status_code=exc.status)


async def _validation_error(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    messages = [_validation_message(e) for e in errors]
    more = f" (and {len(messages) - 3} more)" if len(messages) > 3 else ""
    detail = [{"loc": list(e["loc"]), "msg": m} for e, m in zip(errors, messages, strict=True)]
    body = {
        "error": "; ".join(messages[:3]) + more,
        "loc": list(errors[0]["loc"]) if errors else [],
        "detail": detail[:20],
    }
    return JSON(body, status_code=422)


def _unreadable(body: bytes) -> str:
    """Why FastAPI could not parse a body that is not even a JSON decode error."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"the request body is not UTF-8 text (byte {e.start}): send UTF-8 encoded JSON"
    try:
        json.loads(text)
    except RecursionError:
        return "the request body is JSON nested too deeply to read"
    except ValueError as e:
        return f"the request body is not valid JSON: {e}"
    return "the request body could not be read as JSON"


async def _http_error(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    message = exc.detail if isinstance(exc.detail, str) else "request refused"
    if status == 400:  # FastAPI's "There was an error parsing the body"
        status, message = 422, _unreadable(await request.body())
    elif status == 404:
        message = f"nothing at {request.url.path}"
    elif status == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    return JSON({"error": message, "loc": ["body"] if status == 422 else []}, status_code=status,
                headers=getattr(exc, "headers", None))


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
