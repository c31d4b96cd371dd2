"""Turns a run request into engine inputs, checks every limit before computing, and shapes the answer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.engine import explain, lstm
from app.models import upload, zoo
from app.refusal import Invalid, NotFound, Refusal, where
from app.service import limits, pins
from app.service.limits import Limits
from app.service.requests import MAX_ABS, RunRequest
from app.service.store import Store


@dataclass(frozen=True)
class Prepared:
    model: str | None
    weights: dict[str, np.ndarray]
    x: np.ndarray  # (T, I)
    tokens: list[str]
    gate_activation: str = "sigmoid"


def model_info(m: zoo.Model) -> dict[str, Any]:
    return {
        "id": m.id,
        "title": m.title,
        "description": m.description,
        "hint": m.hint,
        "kind": "text" if m.vocab is not None else "vector",
        "vocab": m.vocab,
        "size": m.input_size,
        "hidden_size": m.hidden_size,
        "layers": m.layers,
        "units": list(m.units),
        "example": m.example,
        "parity": m.parity or None,
        "card": m.card,
    }


def find_model(model_id: str, s: Limits, models: Store | None = None, pin: str | None = None) -> zoo.Model:
    """The model `model_id`, or with a pin, the version of it that the pin names (see app.pins)."""
    if pin is not None and models is not None:
        try:
            current: zoo.Model | None = find_model(model_id, s, models)
        except Refusal:
            current = None  # the model is gone, or has become too large: its pinned copy may be kept
        return pins.pinned(models, current, model_id, pin)
    shape = zoo.random_shape(model_id)
    if shape is not None:
        limits.check_size(shape[0], shape[1], s, ["model"])
    try:
        if model_id.startswith("up-") and models is not None:
            stored = models.get_model(model_id)
            if stored is not None:
                return upload.as_model(stored.id, stored.info, stored.weights)
        return zoo.get(model_id)
    except KeyError:
        raise NotFound(
            f"no model {model_id!r}; known models: {', '.join(zoo.known_ids())}",
            ["model"],
            known=zoo.known_ids(),
        ) from None


def prepare(req: RunRequest, s: Limits, models: Store | None = None) -> Prepared:
    if (req.model is None) == (req.weights is None):
        raise Invalid("give either 'model' (an id from /api/models) or inline 'weights'", [])
    if req.weights is not None:
        if req.text is not None:
            raise Invalid("inline weights take 'inputs' (numbers per step), not 'text'", ["text"])
        if req.pin is not None:
            raise Invalid("'pin' names a version of a model: give it with 'model'", ["pin"])
        weights = _weights(req.weights, s)
        return Prepared(None, weights, _vectors(req.inputs, weights["weight_ih_l0"].shape[1], s), [])
    assert req.model is not None
    m = find_model(req.model, s, models, req.pin)
    if m.vocab is not None:
        if req.inputs is not None or req.text is None:
            raise Invalid(f"model {m.id!r} reads text: send 'text', not 'inputs'", ["text"])
        x, tokens = encode_text(req.text, m, s)
        return Prepared(m.id, m.weights, x, tokens, m.gate_activation)
    if req.text is not None:
        raise Invalid(
            f"model {m.id!r} reads {m.input_size} number(s) per step: send 'inputs', not 'text'",
            ["inputs"],
        )
    return Prepared(m.id, m.weights, _vectors(req.inputs, m.input_size, s), [], m.gate_activation)


def shape_of(p: Prepared) -> lstm.Shape:
    """The shape of the prepared model: its weights were checked when prepared, so read it off them."""
    return lstm.Shape(
        layers=sum(1 for n in p.weights if n.startswith("weight_ih_l")),
        input_size=p.x.shape[1],
        hidden_size=p.weights["weight_hh_l0"].shape[1],
    )


def encode_text(text: str, m: zoo.Model, s: Limits) -> tuple[np.ndarray, list[str]]:
    assert m.vocab is not None
    limits.check_steps(len(text), s, ["text"])
    index = {ch: k for k, ch in enumerate(m.vocab)}
    cols = np.empty(len(text), dtype=np.intp)
    for t, ch in enumerate(text):
        k = index.get(ch)
        if k is None:
            raise Invalid(
                f"character {ch!r} (U+{ord(ch):04X}) at position {t} is not in the vocabulary "
                f"of model {m.id!r}",
                ["text", t],
                character=ch,
                position=t,
                vocab=m.vocab,
            )
        cols[t] = k
    x = np.zeros((len(text), len(m.vocab)))
    x[np.arange(len(text)), cols] = 1.0
    return x, list(text)


def _vectors(inputs: list[list[float]] | None, size: int, s: Limits) -> np.ndarray:
    if inputs is None:
        raise Invalid(f"send 'inputs': a list of steps, each a list of {size} number(s)", ["inputs"])
    limits.check_steps(len(inputs), s, ["inputs"])
    for t, step in enumerate(inputs):
        if len(step) != size:
            raise Invalid(
                f"inputs[{t}] has {len(step)} number(s); this model takes {size} per step",
                ["inputs", t],
            )
    return np.array(inputs, dtype=np.float64)


def _weights(raw: dict[str, Any], s: Limits) -> dict[str, np.ndarray]:
    weights = {}
    for name, value in raw.items():
        try:
            a = np.array(value, dtype=np.float64)
        except (ValueError, TypeError, OverflowError):
            raise Invalid(
                f"tensor {name!r} is not a rectangular array of numbers (ragged or non-numeric)",
                ["weights", name],
            ) from None
        finite = a[np.isfinite(a)]  # NaN and infinity get the engine's own message
        if finite.size and np.abs(finite).max() > MAX_ABS:
            raise Invalid(
                f"tensor {name!r} holds a value beyond ±{MAX_ABS:,.0f}",
                ["weights", name],
                limit=MAX_ABS,
            )
        weights[name] = a
    first = weights.get("weight_ih_l0")
    if first is not None and first.ndim == 2:
        layers = sum(1 for n in weights if re.fullmatch(r"weight_ih_l\d+", n))
        limits.check_size(first.shape[0] // 4, layers, s, ["weights"], input_size=first.shape[1])
    try:
        lstm.shape_of(weights)
    except lstm.WeightError as e:
        raise Invalid(str(e), ["weights", e.name] if e.name else ["weights"]) from None
    return weights


def tokens_for(x: np.ndarray) -> list[str]:
    """Labels for vector steps: the numbers themselves when there are few, else the step index."""
    if x.shape[1] <= 3:
        return [", ".join(f"{v:.3g}" for v in row) for row in x]
    return [f"x{t}" for t in range(x.shape[0])]


def compute(
    req: RunRequest, s: Limits, models: Store | None = None
) -> tuple[Prepared, list[lstm.LayerTrace]]:
    """Check the request against every limit, then run the engine: every layer's trace."""
    p = prepare(req, s, models)
    interventions = [lstm.Intervention(**iv.model_dump()) for iv in req.interventions]
    try:
        lstm.check_interventions(interventions, p.x.shape[0], shape_of(p))
    except lstm.InterventionError as e:
        loc: list[str | int] = ["interventions", e.index, *([e.field] if e.field else [])]
        raise Invalid(f"{where(loc)}: {e.reason}", loc) from None
    if "retention" in req.include and req.retention_from >= p.x.shape[0]:
        raise Invalid(
            f"retention_from {req.retention_from} is beyond the sequence's last step, {p.x.shape[0] - 1}",
            ["retention_from"],
        )
    limits.check_values(p.x.shape[0], shape_of(p), req, s)
    return p, lstm.forward(p.weights, p.x, gate_activation=p.gate_activation, interventions=interventions)


def execute(req: RunRequest, s: Limits, models: Store | None = None) -> dict[str, Any]:
    """The whole /api/run answer as a dict of float arrays, ready for orjson."""
    p, traces = compute(req, s, models)
    dtype = np.float64 if req.precision == "float64" else np.float32
    layers = []
    for tr in traces:
        out: dict[str, Any] = {k: array(getattr(tr, k), dtype) for k in ("i", "f", "g", "o", "c", "h")}
        if "parts" in req.include:
            out["parts"] = {}
            for gate in lstm.GATES:
                x_part, h_part, bias = tr.parts(gate)
                out["parts"][gate] = {
                    "input": array(x_part, dtype),
                    "recurrent": array(h_part, dtype),
                    "bias": array(bias, dtype),
                }
                if gate in tr.shifts:
                    out["parts"][gate]["shift"] = array(tr.shifts[gate], dtype)
                out["parts"][gate]["pre"] = array(tr.pre(gate), dtype)
        if "update" in req.include:
            kept, written = explain.cell_update(tr)
            out["update"] = {"kept": array(kept, dtype), "written": array(written, dtype)}
        if "retention" in req.include:
            r = explain.retention(tr, req.retention_from)
            out["retention"] = {"start": r.start, "survives": array(r.survives, dtype), "span": r.span}
        layers.append(out)
    return {
        "model": p.model,
        "tokens": p.tokens or tokens_for(p.x),
        "input_size": p.x.shape[1],
        "hidden_size": traces[0].h.shape[1],
        "layers": layers,
        "interventions": [iv.model_dump(exclude_none=True) for iv in req.interventions],
        **(
            {"gate_curve": {"activation": p.gate_activation, **explain.gate_curve(p.gate_activation)}}
            if "parts" in req.include
            else {}
        ),
    }


def array(a: np.ndarray, dtype: type[np.floating] = np.float32) -> np.ndarray:
    """A C-contiguous copy in the dtype to send: orjson serializes only contiguous arrays."""
    return np.ascontiguousarray(a, dtype=dtype)
