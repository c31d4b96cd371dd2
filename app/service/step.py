"""One step of a run, explained: for a layer and a step t, every gate's pre-activation split into
its parts, the value used, whether an intervention clamped it, and the cell update term by term.
Small whatever the run's length: what a view asks each time a cell is pinned."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.engine import explain, lstm
from app.refusal import Invalid
from app.service import run
from app.service.limits import Limits
from app.service.requests import StepRequest
from app.service.run import array
from app.service.store import Store


def explain_step(req: StepRequest, s: Limits, models: Store | None = None) -> dict[str, Any]:
    p, traces = run.compute(req, s, models)
    if req.layer >= len(traces):
        raise Invalid(f"layer {req.layer} is beyond the model's last layer, {len(traces) - 1}", ["layer"])
    T = p.steps
    if req.t >= T:
        raise Invalid(f"t {req.t} is beyond the sequence's last step, {T - 1}", ["t"])
    tr, t = traces[req.layer], req.t
    dtype = np.float64 if req.precision == "float64" else np.float32
    gates = {}
    for gate in lstm.GATES:
        x_part, h_part, bias = tr.parts(gate)
        gates[gate] = {
            "value": array(getattr(tr, gate)[t], dtype),
            "input": array(x_part[t], dtype),
            "recurrent": array(h_part[t], dtype),
            "bias": array(bias, dtype),
            "shift": array(tr.shift(gate)[t], dtype),
            "pre": array(tr.pre(gate)[t], dtype),
            "clamped": tr.clamped(gate)[t].tolist(),
        }
    kept, written = explain.cell_update(tr)
    c_prev = tr.previous(tr.c, tr.c0)[t]  # c_{t−1}; for a backward entry c_{t+1}
    tokens = p.tokens or run.tokens_for(p.x)
    return {
        "model": p.model_id,
        "t": t,
        "layer": req.layer,
        "token": tokens[t],
        "hidden_size": p.shape.hidden_size,
        "gates": gates,
        "c_prev": array(c_prev, dtype),
        "kept": array(kept[t], dtype),
        "written": array(written[t], dtype),
        "c": array(tr.c[t], dtype),
        "h": array(tr.h[t], dtype),
        "gate_curve": {"activation": p.gate_activation, **explain.gate_curve(p.gate_activation)},
        "interventions": [iv.model_dump(exclude_none=True) for iv in req.interventions],
    }
