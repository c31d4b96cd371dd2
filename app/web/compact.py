"""The compact encoding of an /api/run answer (media type application/vnd.gatescope.run): the
same answer as the JSON, its arrays as little-endian binary, float16 by default.

Layout (every number little-endian):

    bytes 0–3    magic, ASCII "GSR1"
    bytes 4–7    N, uint32: the header's length in bytes
    bytes 8…     the header, N bytes of UTF-8 JSON, padded with spaces so that 8 + N is a multiple of 8
    then         the arrays, each in C order, each starting at a multiple of 8 from the data's start

The header is {"arrays": [{"dtype", "shape", "offset"}, …], "body": …}: `body` is the JSON
answer with every array of numbers replaced by {"$array": k}, the k-th entry of `arrays`;
`offset` counts bytes from the end of the header. dtype is "float16" (the default precision,
float32, sent in half: within 2^-11 ≈ 4.9e-4 relative, below one step of a 256-colour scale),
"float32" for an array with a value beyond float16's range (±65504), or "float64" when the
request asks for precision float64 (then nothing is rounded). A float32 array so sent is 2 bytes a
value against about 10 in JSON.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import orjson

MEDIA_TYPE = "application/vnd.gatescope.run"
MAGIC = b"GSR1"
ALIGN = 8
HALF_MAX = float(np.finfo(np.float16).max)


def wanted(accept: str | None) -> bool:
    """Whether an Accept header names the compact media type (with any parameters, any q > 0)."""
    for item in (accept or "").split(","):
        kind, *params = (part.strip() for part in item.split(";"))
        if kind.lower() == MEDIA_TYPE and not any(p.replace(" ", "") in ("q=0", "q=0.0") for p in params):
            return True
    return False


def encode(answer: dict[str, Any]) -> bytes:
    """The answer in the layout above."""
    specs: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    size = 0

    def walk(value: Any) -> Any:
        nonlocal size
        if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
            a = _narrowed(value)
            data = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes(order="C")
            specs.append({"dtype": a.dtype.name, "shape": list(a.shape), "offset": size})
            chunks.append(data + b"\0" * (-len(data) % ALIGN))
            size += len(chunks[-1])
            return {"$array": len(specs) - 1}
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(v) for v in value]
        return value

    body = walk(answer)
    header = orjson.dumps({"arrays": specs, "body": body}, option=orjson.OPT_SERIALIZE_NUMPY)
    header += b" " * (-(8 + len(header)) % ALIGN)
    return b"".join([MAGIC, struct.pack("<I", len(header)), header, *chunks])


def _narrowed(a: np.ndarray) -> np.ndarray:
    """float32 → float16 unless a value is beyond float16's range; float64 stays exact."""
    if a.dtype != np.float32:
        return a.astype(np.float64)
    finite = a[np.isfinite(a)]
    if finite.size and float(np.abs(finite).max()) > HALF_MAX:
        return a
    return a.astype(np.float16)


def decode(data: bytes) -> dict[str, Any]:
    """The answer back, arrays as NumPy (for tests and API users in Python; the page has its own)."""
    if data[:4] != MAGIC:
        raise ValueError("not a compact run: the magic bytes are not GSR1")
    (n,) = struct.unpack("<I", data[4:8])
    header = orjson.loads(data[8 : 8 + n])
    start = 8 + n

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"$array"}:
                spec = header["arrays"][value["$array"]]
                dtype = np.dtype(spec["dtype"]).newbyteorder("<")
                count = int(np.prod(spec["shape"], dtype=np.int64))
                a = np.frombuffer(data, dtype, count, start + spec["offset"])
                return a.reshape(spec["shape"])
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(header["body"])
