"""Work on an uploaded file that may stall or crash is done in a child process, with a time limit:
neither may take a server thread (the one compute slot) or the server with it.

Keras files: h5py reads them through the HDF5 C library, and a damaged or hostile file can make it
loop for ever or crash. The child reads and checks the file as app.models.kerasfile does, header
first, and hands back the tensors it read. ONNX models: ONNX's reference evaluator runs the file
(app.models.onnxprobe) for the figure on the model's badge. The parent kills the child if it has
not answered in time."""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from app import refusal
from app.models.formats import Header
from app.refusal import Invalid

# what kerasfile.Headers carries besides its tensors, handed from the child to the parent
META = ("file", "format", "keras_version", "gate_activation", "backwards", "layers", "conversions")
READ_SECONDS = 10.0  # a Keras file of the largest LSTM the limits allow is read in well under 1 s
_context = multiprocessing.get_context("forkserver")  # forks from a clean, single-threaded server
_context.set_forkserver_preload(["app.models.kerasfile", "app.models.onnxprobe"])


class Stalled(Exception):
    """The child did not answer in time (it was killed)."""


class Crashed(Exception):
    """The child ended without an answer."""


def in_child(target: Any, args: tuple[Any, ...], seconds: float) -> Any:
    """target(sending, *args) in a child process, which sends one answer: that answer. Stalled
    or Crashed if it gives none in `seconds`."""
    receiving, sending = _context.Pipe(duplex=False)
    child = _context.Process(target=target, args=(sending, *args), daemon=True)
    child.start()
    sending.close()
    try:
        if not receiving.poll(seconds):
            raise Stalled
        return receiving.recv()
    except EOFError:
        raise Crashed from None
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receiving.close()


def read_keras(reader: str, raw: bytes, max_unpacked: int, max_tensors: int) -> Any:
    """kerasfile.<reader>(raw, …) in a child process: its Headers, or its refusal."""
    from app.models import kerasfile

    try:
        answer = in_child(_read, (reader, raw, max_unpacked, max_tensors), READ_SECONDS)
    except Stalled:
        raise Invalid(
            f"the HDF5 file could not be read in {READ_SECONDS:g} s: it is damaged, or made to "
            "stall its reader",
            ["weights"],
        ) from None
    except Crashed:
        raise Invalid("the HDF5 file crashed its reader: it is damaged", ["weights"]) from None
    if answer[0] == "refused":
        _, kind, message, loc, extra = answer
        raise getattr(refusal, kind)(message, loc, **extra)
    _, meta, tensors = answer
    headers = kerasfile.Headers()
    for key, value in meta.items():
        setattr(headers, key, value)
    for name, dtype, shape, data in tensors:
        headers.append(Header(name, np.dtype(dtype), shape, _reader(data, np.dtype(dtype), shape)))
    return headers


def _reader(data: bytes, dtype: np.dtype, shape: tuple[int, ...]) -> Any:
    return lambda: np.frombuffer(data, dtype=dtype).reshape(shape)


def _read(sending: Connection, reader: str, raw: bytes, max_unpacked: int, max_tensors: int) -> None:
    """In the child: read the file, every tensor included, and send what came of it."""
    from app.models import kerasfile

    try:
        headers = getattr(kerasfile, reader)(raw, max_unpacked, max_tensors)
        tensors = [(h.name, h.dtype.str, h.shape, np.ascontiguousarray(h.read()).tobytes()) for h in headers]
        meta = {k: getattr(headers, k) for k in META}
        sending.send(("read", meta, tensors))
    except refusal.Refusal as r:
        sending.send(("refused", type(r).__name__, r.message, r.loc, r.extra))
    finally:
        sending.close()
