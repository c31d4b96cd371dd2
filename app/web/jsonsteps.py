"""A JSON body read as json.loads reads it, but with its top-level "inputs" list read one step at
a time, so that a body of a million steps is found out after max_steps + 1 of them instead of
after a million Python lists have been built (about 0.3 s for 4 MB here).

It uses the json module's own scanner for every value, so what it answers is what json.loads
answers; whatever it does not follow (malformed JSON, a body that is not an object), it leaves
to json.loads, which answers it or explains where it is not JSON. One difference: of a key given
twice json.loads keeps the last value, while an "inputs" too long is refused wherever it stands.
"""

from __future__ import annotations

import json
import re
from typing import Any

_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # the C scanner json.loads uses
_SPACE = re.compile(r"[ \t\n\r]*")  # JSON's whitespace, as json.decoder skips it
STEPPED = "inputs"


class TooManySteps(Exception):
    """The body's top-level "inputs" holds more than the steps allowed."""


class _Irregular(Exception):
    """Not the object this reader follows: json.loads takes it from here."""


def loads(text: str, max_steps: int) -> Any:
    """json.loads(text); TooManySteps as soon as the top-level "inputs" has max_steps + 1 items."""
    try:
        return _object(text, max_steps)
    except (_Irregular, StopIteration, ValueError, RecursionError):
        return json.loads(text)


def _at(text: str, i: int) -> int:
    return _SPACE.match(text, i).end()  # type: ignore[union-attr]  # always matches


def _object(text: str, max_steps: int) -> dict[str, Any]:
    i = _at(text, 0)
    if text[i : i + 1] != "{":
        raise _Irregular
    out: dict[str, Any] = {}
    i = _at(text, i + 1)
    if text[i : i + 1] == "}":
        i += 1
    else:
        while True:
            if text[i : i + 1] != '"':
                raise _Irregular
            key, i = _scan(text, i)
            i = _at(text, i)
            if text[i : i + 1] != ":":
                raise _Irregular
            i = _at(text, i + 1)
            if key == STEPPED and text[i : i + 1] == "[":
                out[key], i = _steps(text, i, max_steps)
            else:
                out[key], i = _scan(text, i)
            i = _at(text, i)
            if text[i : i + 1] == ",":
                i = _at(text, i + 1)
            elif text[i : i + 1] == "}":
                i += 1
                break
            else:
                raise _Irregular
    if _at(text, i) != len(text):
        raise _Irregular
    return out


def _steps(text: str, i: int, max_steps: int) -> tuple[list[Any], int]:
    steps: list[Any] = []
    i = _at(text, i + 1)
    if text[i : i + 1] == "]":
        return steps, i + 1
    while True:
        step, i = _scan(text, i)
        steps.append(step)
        if len(steps) > max_steps:
            raise TooManySteps
        i = _at(text, i)
        if text[i : i + 1] == ",":
            i = _at(text, i + 1)
        elif text[i : i + 1] == "]":
            return steps, i + 1
        else:
            raise _Irregular
