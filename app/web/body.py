"""Reads a JSON request body into its schema, off the event loop, with messages that say
what is wrong and where: not UTF-8, not JSON (at which character), too deep, wrong shape."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel

from app.refusal import Invalid
from app.service import limits
from app.service.limits import Limits
from app.service.requests import validated

M = TypeVar("M", bound=BaseModel)


def parse(raw: bytes, schema: type[M], s: Limits | None = None) -> M:
    """The body as the schema; with limits, a sequence over the step limit is refused before the
    (costly) validation of its steps."""
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
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise Invalid(f"the request body is not valid JSON at character {e.pos}: {e.msg}", [e.pos]) from None
    except RecursionError:
        raise Invalid("the request body is JSON nested too deeply to read", []) from None
    except ValueError as e:  # e.g. an integer of more digits than Python converts
        raise Invalid(f"the request body is not valid JSON: {e}", []) from None
    if s is not None:
        limits.check_steps_first(data, s)
    return validated(schema, data)
