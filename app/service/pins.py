"""Pinned model versions (see app.models.versions): a share link keeps the pin beside the model's
id, and the store keeps every version a link pins, so that a retrained built-in model never
changes what an old link shows.

A random model is kept as its recipe, not its weights: the row `pin-<pin>` says which generator
drew them (its id says H, layers and seed), and the weights are drawn again when shown. Rows that
an older release wrote with the weights themselves are still served as they are.
"""

from __future__ import annotations

from app.models import zoo
from app.refusal import NotFound
from app.service.store import Store


def keep(store: Store, m: zoo.Model) -> str:
    """Make sure the store holds this version of the model; answer its pin."""
    pin = m.pin
    if m.id.startswith("up-") or store.has_model(f"pin-{pin}"):  # uploads are stored already
        return pin
    if m.generator is not None:  # a few bytes: the weights are drawn again from the recipe
        store.put_model(f"pin-{pin}", {"model": m.id, "generator": m.generator}, {})
        return pin
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
    if current is not None and current.pin == pin:
        return current
    stored = store.get_model(f"pin-{pin}")
    if stored is None or stored.info.get("model") != model_id:
        raise _no_version(model_id, pin, current)
    i = stored.info
    if "generator" in i:
        try:
            return zoo.random_model(model_id, i["generator"])
        except KeyError:  # kept by a newer release, whose generator this one lacks
            raise _no_version(model_id, pin, current) from None
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


def _no_version(model_id: str, pin: str, current: zoo.Model | None) -> NotFound:
    return NotFound(
        f"model {model_id!r} has no version {pin!r} in this store",
        ["pin"],
        current=None if current is None else current.pin,
    )
