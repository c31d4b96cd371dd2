"""Pinned model versions (see app.models.versions): a share link keeps the pin beside the model's
id, and the store keeps every version a link pins, so that a retrained built-in model never
changes what an old link shows."""

from __future__ import annotations

from app.models import zoo
from app.models.versions import pin_of
from app.refusal import NotFound
from app.service.store import Store


def keep(store: Store, m: zoo.Model) -> str:
    """Make sure the store holds this version of the model; answer its pin."""
    pin = pin_of(m)
    if not m.id.startswith("up-") and not store.has_model(f"pin-{pin}"):  # uploads are stored already
        info = {
            "model": m.id,
            "title": m.title,
            "description": m.description,
            "hint": m.hint,
            "vocab": m.vocab,
            "input_size": m.input_size,
            "units": list(m.units),
            "example": m.example,
            "gate_activation": m.gate_activation,
            "parity": m.parity,
            "card": m.card,
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
        raise NotFound(
            f"model {model_id!r} has no version {pin!r} in this store",
            ["pin"],
            current=None if current is None else pin_of(current),
        )
    i = stored.info
    return zoo.Model(
        id=model_id,
        title=i["title"],
        description=i["description"],
        hint=i["hint"],
        weights=stored.weights,
        vocab=i["vocab"],
        input_size=i["input_size"],
        units=tuple(i["units"]),
        example=i["example"],
        gate_activation=i["gate_activation"],
        parity=i["parity"],
        card=i["card"],
    )
