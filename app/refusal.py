"""Refusals: what a request is refused for, in words, with where in the request (`loc`) and
extra facts. Plain exceptions, raised by the models and the service; app.web gives each kind its
HTTP status, in one place (app.web.errors)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class Refusal(Exception):
    """A request we refuse: a sentence for people, where in the request, and extra facts."""

    def __init__(self, message: str, loc: Sequence[str | int] | None = None, **extra: Any):
        super().__init__(message)
        self.message = message
        self.loc: list[str | int] = list(loc or [])
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "loc": self.loc, **self.extra}


class Invalid(Refusal):
    """The request is well-formed but wrong: a character not in the vocabulary, a shape that is off."""


class NotFound(Refusal):
    """It names something (a model, a version, a link) that is not there."""


class TooLarge(Refusal):
    """A body, a file or a link state over its size limit."""


class Conflict(Refusal):
    """An id already taken by something else."""


class Forbidden(Refusal):
    """A request another web site's page made on its visitor's behalf."""


class Unsupported(Refusal):
    """A body in a media type the endpoint does not read."""


class TooMany(Refusal):
    """This client has made too many such requests lately: try again after `retry_after` seconds."""

    def __init__(
        self, message: str, loc: Sequence[str | int] | None = None, *, retry_after: int, **extra: Any
    ):
        super().__init__(message, loc, retry_after=retry_after, **extra)
        self.retry_after = retry_after


class Busy(TooMany):
    """The server has more work queued than it takes: try again after `retry_after` seconds."""


class Full(Refusal):
    """The store has reached its size limit: nothing more is kept until room is made."""


def where(loc: Sequence[str | int]) -> str:
    """('inputs', 3, 0) -> 'inputs[3][0]'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the request body"
