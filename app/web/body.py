"""Reads a JSON request body into its schema, off the event loop, with messages that say
what is wrong and where: not UTF-8, not JSON (at which character), too deep, wrong shape."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel

from app.refusal import Invalid
from app.service import limits
from app.service.limits import Limits
from app.service.requests import validated
from app.web import jsonsteps

M = TypeVar("M", bound=BaseModel)


def parse(raw: bytes, schema: type[M], s: Limits | None = None) -> M:
    """The body as the schema; with limits, a sequence over the step limit is refused before the
    (costly) decoding and validation of its steps."""
    if not raw.strip():
        raise Invalid(
            'the request body is empty: send a JSON object such as {"model": "counter", "text": "ab."}'
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Invalid(
            f"the request body is not UTF-8 text (byte {e.start}): send UTF-8 JSON", [e.start]
        ) from None
    try:
        data = json.loads(text) if s is None else _counting_steps(text, s)
    except json.JSONDecodeError as e:
        raise Invalid(f"the request body is not valid JSON at character {e.pos}: {e.msg}", [e.pos]) from None
    except RecursionError:
        raise Invalid("the request body is JSON nested too deeply to read", []) from None
    except ValueError as e:  # e.g. an integer of more digits than Python converts
        raise Invalid(f"the request body is not valid JSON: {e}", []) from None
    if s is not None:
        limits.check_steps_first(data, s)
    return validated(schema, data)


EXACT = 256 * 1024  # bodies this small are read whole when too long, for the exact step count


def _counting_steps(text: str, s: Limits) -> Any:
    try:
        return jsonsteps.loads(text, s.max_steps)
    except jsonsteps.TooManySteps:
        if len(text) <= EXACT:  # cheap to read whole: the refusal then says how many steps
            return json.loads(text)
        raise limits.too_many_steps(s, [jsonsteps.STEPPED]) from None
