"""Model versions. A model's pin is a hash of what it computes (its tensors' values, its input
description, its gate activation); a share link keeps the pin beside the model's id, and the
store keeps every version a link pins, so that a retrained built-in model never changes what an
old link shows."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import numpy as np

from app import zoo
from app.errors import ApiError
from app.store import Store

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


def keep(store: Store, m: zoo.Model) -> str:
    """Make sure the store holds this version of the model; answer its pin."""
    pin = pin_of(m)
    if not m.id.startswith("up-") and not store.has_model(f"pin-{pin}"):  # uploads are stored already
        info = {
            "model": m.id, "title": m.title, "description": m.description, "hint": m.hint,
            "vocab": m.vocab, "input_size": m.input_size, "units": list(m.units), "example": m.example,
            "gate_activation": m.gate_activation, "parity": m.parity, "card": m.card,
        }
        store.put_model(f"pin-{pin}", info, m.weights)
    return pin


def pinned(store: Store, current: zoo.Model | None, model_id: str, pin: str) -> zoo.Model:
    """The version `pin` of the model `model_id`: the current one if it still computes the same,
    else the copy kept when a link pinned it."""
    if current is not None and pin_of(current) == pin:
        return current
    stored = store.get_model(f"pin-{pin}")
    if stored is None or stored.info.get("model") != model_id:
        raise ApiError(404, f"model {model_id!r} has no version {pin!r} in this store", ["pin"],
                       current=None if current is None else pin_of(current))
    i = stored.info
    return zoo.Model(
        id=model_id, title=i["title"], description=i["description"], hint=i["hint"],
        weights=stored.weights, vocab=i["vocab"], input_size=i["input_size"], units=tuple(i["units"]),
        example=i["example"], gate_activation=i["gate_activation"], parity=i["parity"], card=i["card"],
    )
