"""A model's weights gate by gate, as GET /api/models/{id}/weights answers them: what each gate
listens to (its rows of W and U, and its bias), in torch's layout.

torch stacks the four gates' rows in one tensor per kind, in the order i, f, g, o: gate k's rows
are weight_ih_l{n}[k·H:(k+1)·H]. This module cuts them apart, adds the two biases (the LSTM only
ever uses their sum) and labels W's columns by what they read.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.engine.lstm import DIRECTIONS, GATES, SUFFIX
from app.models import zoo
from app.refusal import Invalid
from app.service.limits import Limits


def input_labels(m: zoo.Model, k: int) -> list[str]:
    """What each column of layer k's W reads: layer 0 a character, a word or a number of the step;
    a later layer the h of the layer under it (both directions' side by side, as torch does)."""
    shape = m.shape
    if k > 0:
        H = shape.hidden_size
        if shape.directions == 1:
            return [f"h{u}" for u in range(H)]
        return [f"{d} h{u}" for d in DIRECTIONS for u in range(H)]
    if m.words is not None:
        return list(m.words)
    if m.vocab is not None:
        return list(m.vocab)
    return [f"x{j}" for j in range(shape.input_size)]


def entries(m: zoo.Model) -> list[tuple[int, str]]:
    """(layer, direction) of each entry, in the order /api/run answers its layers."""
    shape = m.shape
    directions = DIRECTIONS if shape.directions == 2 else ("backward",) if m.reverse else ("forward",)
    return [(k, d) for k in range(shape.layers) for d in directions]


def model_weights(
    m: zoo.Model, s: Limits, gate: str | None = None, layer: int | None = None
) -> dict[str, Any]:
    """The answer for model `m`: every entry and gate, or only `gate` of entry `layer` (an entry
    being a layer's direction, as /api/run's layers count them). Refused over GATESCOPE_MAX_VALUES."""
    all_entries = entries(m)
    if layer is not None and layer >= len(all_entries):
        raise Invalid(
            f"layer {layer} is beyond the model's last entry, {len(all_entries) - 1} (entries count "
            "layers, and both directions of a bidirectional layer)",
            ["query", "layer"],
        )
    chosen = [all_entries[layer]] if layer is not None else all_entries
    gates = [gate] if gate is not None else list(GATES)
    shape = m.shape
    H = shape.hidden_size
    width = {k: len(input_labels(m, k)) for k, _ in chosen}
    values = sum(len(gates) * H * (width[k] + H + 1) for k, _ in chosen)
    head = m.head if layer is None and gate is None else None  # the head comes with the whole model
    if head is not None:
        values += head["weight"].size + (head["bias"].size if "bias" in head else 0)
    if values > s.max_values:
        raise Invalid(
            f"the weights would hold {values} numbers; the limit is {s.max_values} "
            "(GATESCOPE_MAX_VALUES): ask for one gate of one layer (?gate=f&layer=0)",
            [],
            limit=s.max_values,
        )
    layers = []
    for k, direction in chosen:
        sx = SUFFIX[direction] if shape.directions == 2 else ""
        W = m.weights[f"weight_ih_l{k}{sx}"]
        U = m.weights[f"weight_hh_l{k}{sx}"]
        b = _bias(m, f"bias_ih_l{k}{sx}", H) + _bias(m, f"bias_hh_l{k}{sx}", H)
        rows = {g: slice(GATES.index(g) * H, (GATES.index(g) + 1) * H) for g in gates}
        layers.append(
            {
                "direction": direction,
                "layer": k,
                "inputs": input_labels(m, k),
                "gates": {g: {"W": _send(W[r]), "U": _send(U[r]), "b": _send(b[r])} for g, r in rows.items()},
            }
        )
    return {
        "model": m.id,
        "hidden_size": H,
        "layers": layers,
        "inputs": input_labels(m, 0),
        "head": (
            None
            if head is None
            else {
                "weight": _send(head["weight"]),
                "bias": _send(head["bias"]) if "bias" in head else None,
                "labels": list(m.labels),
            }
        ),
    }


def _bias(m: zoo.Model, name: str, H: int) -> np.ndarray:
    """A missing bias counts as zero, as in the engine."""
    value = m.weights.get(name)
    return np.zeros(4 * H) if value is None else np.asarray(value, dtype=np.float64)


def _send(a: np.ndarray) -> np.ndarray:
    """float32, C-contiguous, as /api/run sends its arrays by default (orjson needs contiguous)."""
    return np.ascontiguousarray(a, dtype=np.float32)
