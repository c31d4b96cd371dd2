"""Runs a request, resolved once (app.service.resolve), when its answer is within the size limit,
and shapes the answer as /api/run sends it."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.engine import explain, lstm
from app.engine import outputs as read_out
from app.engine import targets as truth
from app.models import zoo
from app.refusal import Invalid
from app.service import limits
from app.service.limits import Limits
from app.service.requests import RunRequest
from app.service.resolve import Resolved, find_model, resolve
from app.service.store import Store

__all__ = [
    "Resolved",
    "array",
    "compute",
    "execute",
    "find_model",
    "model_info",
    "outputs",
    "targets",
    "tokens_for",
]


def model_info(m: zoo.Model) -> dict[str, Any]:
    return {
        "id": m.id,
        "title": m.title,
        "description": m.description,
        "hint": m.hint,
        "kind": "words" if m.words is not None else "text" if m.vocab is not None else "vector",
        "vocab": m.vocab,
        **({"words": list(m.words)} if m.words is not None else {}),
        "size": m.input_size,
        "hidden_size": m.hidden_size,
        "layers": m.layers,
        "directions": m.shape.directions,
        "reverse": m.reverse,
        "units": list(m.units),
        "example": m.example,
        "group": group_of(m),
        "parity": m.parity or None,
        "conversion": m.conversion,
        "card": m.card,
        "labels": list(m.labels) if m.head is not None else None,
        "task": _known_task(m),
    }


def group_of(m: zoo.Model) -> str:
    """Where the picker lists a model: "hand-built", "trained", "random" or "yours"."""
    if m.id.startswith("up-"):
        return "yours"
    if m.generator is not None:
        return "random"
    return "trained" if m.card is not None else "hand-built"


def _known_task(m: zoo.Model) -> str | None:
    """The built-in task whose truth app.engine.targets knows for this model, else None."""
    task = (m.card or {}).get("task")
    ours = m.id == task or (m.card or {}).get("trained_in") == "page"  # shipped, or trained in the page
    return task if task in truth.TASKS and ours and m.vocab is not None else None


def tokens_for(x: np.ndarray) -> list[str]:
    """Labels for vector steps: the numbers themselves when there are few, else the step index."""
    if x.shape[1] <= 3:
        return [", ".join(f"{v:.3g}" for v in row) for row in x]
    return [f"x{t}" for t in range(x.shape[0])]


def compute(
    req: RunRequest, s: Limits, models: Store | None = None, resolved: Resolved | None = None
) -> tuple[Resolved, list[lstm.LayerTrace]]:
    """Check the request against every limit, then run the engine: every layer's trace.
    `resolved`: the request already resolved (a link's, say), so that nothing is looked up twice."""
    r = resolved if resolved is not None else resolve(req, s, models)
    if "retention" in req.include and req.retention_from >= r.steps:
        raise Invalid(
            f"retention_from {req.retention_from} is beyond the sequence's last step, {r.steps - 1}",
            ["retention_from"],
        )
    classes = 0
    if "outputs" in req.include:
        classes = len(_head(r).get("weight", ()))
        if req.outputs_top is not None:  # k indices and k probabilities: as many values as k classes
            classes = min(classes, req.outputs_top)
    if "targets" in req.include:
        _task(r)  # refused before any work
    limits.check_values(r.steps, r.shape, req, s, classes)
    return r, lstm.forward(
        r.weights, r.x, gate_activation=r.gate_activation, interventions=r.interventions, reverse=r.reverse
    )


def _head(r: Resolved) -> dict[str, np.ndarray]:
    """The output layer of the resolved model, for include ["outputs"]: refused without one."""
    head = r.model.head if r.model is not None else None
    if head is None:
        what = f"model {r.model.id!r} has" if r.model is not None else "inline weights have"
        raise Invalid(
            f"{what} no output layer, so there are no outputs to include: its answer holds the "
            "LSTM's own gates and states (upload a whole model's state_dict, with its Linear layer "
            "after the LSTM, to see its predictions)",
            ["include"],
        )
    return head


def _probs(r: Resolved, traces: list[lstm.LayerTrace]) -> tuple[np.ndarray, np.ndarray]:
    """The head's logits and softmax at every step, T×K each."""
    head = _head(r)
    z = read_out.logits(read_out.last_h(traces), head["weight"], head.get("bias"))
    return z, read_out.softmax(z)


def outputs(
    r: Resolved, traces: list[lstm.LayerTrace], dtype: type[np.floating], top: int | None = None
) -> dict[str, Any]:
    """The output layer read at every step: row t is the prediction after reading x_t. top: only
    the k likeliest classes per step (their indices, likeliest first, and probabilities)."""
    z, p = _probs(r, traces)
    assert r.model is not None
    if top is None:
        return {"labels": list(r.model.labels), "logits": array(z, dtype), "probs": array(p, dtype)}
    index = np.argsort(-p, axis=1, kind="stable")[:, :top]
    return {
        "labels": list(r.model.labels),
        "top": {"index": index.tolist(), "probs": array(np.take_along_axis(p, index, axis=1), dtype)},
    }


def _task(r: Resolved) -> tuple[str, str]:
    """The built-in task the resolved model was trained on, and what its head is asked: refused
    for any other model, whose truth Gatescope cannot know."""
    task = _known_task(r.model) if r.model is not None else None
    if task is None:
        known = ", ".join(sorted(truth.TASKS))
        raise Invalid(
            f"targets are known only for the built-in trained models ({known}): the truth of "
            f"any other model's predictions is not Gatescope's to say",
            ["include"],
        )
    return task, truth.TASKS[task][1]


def targets(r: Resolved, traces: list[lstm.LayerTrace]) -> dict[str, Any]:
    """The truth at every step of a built-in task: an index into the model's labels, or None where
    the task asks nothing (app.engine.targets), and the probability the head gave it."""
    task, asks = _task(r)
    assert r.model is not None and r.model.vocab is not None
    tokens = np.array([r.model.vocab.index(ch) for ch in r.tokens], dtype=int)
    classes = truth.TASKS[task][0](tokens)
    _, p = _probs(r, traces)
    return {
        "task": task,
        "asks": asks,
        "classes": [None if k == truth.NONE else int(k) for k in classes],
        "probs": [None if k == truth.NONE else float(p[t, k]) for t, k in enumerate(classes)],
    }


def execute(req: RunRequest, s: Limits, models: Store | None = None) -> dict[str, Any]:
    """The whole /api/run answer as a dict of float arrays, ready for orjson."""
    p, traces = compute(req, s, models)
    dtype = np.float64 if req.precision == "float64" else np.float32
    layers = []
    for tr in traces:
        out: dict[str, Any] = {"direction": tr.direction}
        out |= {k: array(getattr(tr, k), dtype) for k in ("i", "f", "g", "o", "c", "h")}
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
        "model": p.model_id,
        "tokens": p.tokens or tokens_for(p.x),
        "input_size": p.shape.input_size,
        "hidden_size": p.shape.hidden_size,
        "layers": layers,
        "interventions": [iv.model_dump(exclude_none=True) for iv in req.interventions],
        **({"outputs": outputs(p, traces, dtype, req.outputs_top)} if "outputs" in req.include else {}),
        **({"targets": targets(p, traces)} if "targets" in req.include else {}),
        **(
            {"gate_curve": {"activation": p.gate_activation, **explain.gate_curve(p.gate_activation)}}
            if "parts" in req.include
            else {}
        ),
    }


def array(a: np.ndarray, dtype: type[np.floating] = np.float32) -> np.ndarray:
    """A C-contiguous copy in the dtype to send: orjson serializes only contiguous arrays."""
    return np.ascontiguousarray(a, dtype=dtype)
