"""Model versions: a model's pin is a hash of what it computes (its tensors' values, its input
description, its gate activation), so the same numbers give the same pin whatever file they came in.

A model caches its pin (zoo.Model.pin), so each model object is hashed at most once. A random
model's weights follow from its id and its generator's version, so its pin does too: it is
remembered per (id, generator) across the model objects built for each request.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from app.models.zoo import Model

PINS_KEPT = 1024  # 32 characters each: a bound, not a store


def tensor_hash(weights: dict[str, np.ndarray], description: dict[str, Any]) -> str:
    """32 hex digits of SHA-256 over the tensors' float64 values, names and shapes, and the
    description: the same numbers give the same hash whatever file they came in."""
    digest = hashlib.sha256()
    for name in sorted(weights):
        a = np.ascontiguousarray(weights[name], dtype="<f8")
        digest.update(f"{name}{a.shape}".encode())
        digest.update(a.tobytes())
    digest.update(json.dumps(description, sort_keys=True).encode())
    return digest.hexdigest()[:32]


def _describe(m: Model) -> dict[str, Any]:
    described = {"vocab": m.vocab, "input_size": m.input_size, "gate_activation": m.gate_activation}
    if m.reverse:  # said only where true: every pin given out before it existed stays the same
        described["reverse"] = True
    return described


_pins_by_id: OrderedDict[tuple[str, str], str] = OrderedDict()
_lock = threading.Lock()


def pin_of(m: Model) -> str:
    """The model's pin: the hash of its weights, as it has always been (old links keep theirs).
    Read it as `m.pin`, which computes this once per model object. A random model's id and
    generator, and an upload's id (a hash of its content), name their weights: their pins are
    remembered by id, since each request makes a new model object of them."""
    upload = m.id.startswith("up-")
    if m.generator is None and not upload:
        return tensor_hash(m.weights, _describe(m))
    key = (m.id, m.generator or "upload")
    with _lock:
        pin = _pins_by_id.get(key)
        if pin is not None:
            _pins_by_id.move_to_end(key)
            return pin
    pin = tensor_hash(m.weights, _describe(m))
    with _lock:
        _pins_by_id[key] = pin
        while len(_pins_by_id) > PINS_KEPT:
            _pins_by_id.popitem(last=False)
    return pin
