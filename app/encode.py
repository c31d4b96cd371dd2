"""JSON bodies built with orjson, which writes NumPy arrays directly (float32: shortest round-trip digits)."""

from typing import Any

import numpy as np
import orjson
from starlette.responses import Response


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


def array(a: np.ndarray, dtype: type[np.floating] = np.float32) -> np.ndarray:
    """A C-contiguous copy in the dtype to send: orjson serializes only contiguous arrays."""
    return np.ascontiguousarray(a, dtype=dtype)
