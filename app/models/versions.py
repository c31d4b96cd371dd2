"""Model versions: a model's pin is a hash of what it computes (its tensors' values, its input
description, its gate activation), so the same numbers give the same pin whatever file they came in."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import numpy as np

from app.models import zoo

PIN = re.compile(r"[0-9a-f]{32}")


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


def _describe(m: zoo.Model) -> dict[str, Any]:
    return {"vocab": m.vocab, "input_size": m.input_size, "gate_activation": m.gate_activation}


_BUILT_PINS: dict[str, tuple[zoo.Model, str]] = {}  # built-in models: hashed once per model object


def pin_of(m: zoo.Model) -> str:
    """The model's pin."""
    cached = _BUILT_PINS.get(m.id)
    if cached is not None and cached[0] is m:
        return cached[1]
    pin = tensor_hash(m.weights, _describe(m))
    if zoo.BUILT.get(m.id) is m:
        _BUILT_PINS[m.id] = (m, pin)
    return pin
