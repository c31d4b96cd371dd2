"""JSON bodies built with orjson, which writes NumPy arrays directly (float32: shortest round-trip digits)."""

import json
from typing import Any

import numpy as np
import orjson
from starlette.responses import Response


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
        except orjson.JSONEncodeError:
            # orjson refuses lone surrogates (which a JSON request may carry in a string);
            # the standard library escapes them as \uXXXX.
            return json.dumps(content, default=_tolist).encode()


def _tolist(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot serialize {type(value).__name__}")
