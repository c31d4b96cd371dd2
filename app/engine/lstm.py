"""A stacked LSTM in NumPy that records every gate, with torch.nn.LSTM's weights and layout.

For each layer and each step t (PyTorch's convention, gate rows in the order i, f, g, o):

    i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)      input gate
    f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)      forget gate: 1 keeps, 0 forgets
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)   candidate
    o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)      output gate
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                    cell state: a vector of H numbers
    h_t = o_t ⊙ tanh(c_t)                               hidden state

Weights are named and laid out as in torch.nn.LSTM's state_dict (app.engine.weights); missing
biases count as zero. Layer k > 0 reads layer k-1's h as its input. Everything is float64.
A bidirectional LSTM runs each layer twice, forwards and from the last step to the first (its
`_reverse` weights), and layer k > 0 reads both directions' h side by side, as torch does.
Interventions (app.engine.interventions) add a shift to a gate's pre-activation before its
activation, or replace its output after it; c_t and h_t then follow from the gates so obtained.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial

import numpy as np

# The app imports the engine's public names from this module, so it re-exports those it does not use.
from app.engine.interventions import Intervention, InterventionError, Plan, check_interventions, plan  # noqa: F401
from app.engine.trace import LayerTrace
from app.engine.weights import (  # noqa: F401
    DIRECTIONS,
    GATES,
    SUFFIX,
    Shape,
    WeightError,
    init_weights,
    keras_to_torch,
    shape_of,
)

# What the rows of the sigmoid gates i, f, o are multiplied by ahead of the loop (see _layer).
# Keras 2's hard_sigmoid is clip(0.2·z + 0.5, 0, 1); Keras 3's, relu6(z + 3)/6, is clip(z/6 + 0.5, 0, 1).
GATE_SCALE = {"sigmoid": 0.5, "hard_sigmoid": 0.2, "hard_sigmoid_keras3": 1 / 6}


def forward(
    weights: Mapping[str, np.ndarray],
    inputs: np.ndarray,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
    gate_activation: str = "sigmoid",
    interventions: Sequence[Intervention] = (),
    reverse: bool = False,
) -> list[LayerTrace]:
    """Run the LSTM over inputs (T, I) and return one trace per layer and direction: layer 0
    (forward, then backward if bidirectional), layer 1, …; h0, c0 are (entries, H), an entry being
    a layer's direction, in that order (torch's (D·layers, H)).

    A batch of B sequences of equal length runs at once as inputs (T, B, I), with h0, c0
    (entries, B, H) and traces of (T, B, H): what training needs. gate_activation
    "hard_sigmoid" is the older Keras default for i, f, o: clip(0.2·z + 0.5, 0, 1);
    "hard_sigmoid_keras3" is Keras 3's hard_sigmoid, relu6(z + 3)/6 = clip(z/6 + 0.5, 0, 1). `reverse`
    (Keras's go_backwards) runs every layer of a one-directional LSTM from the last step to the
    first. Every trace's arrays are in input order: row t is the step that read x_t.

    `interventions` apply in list order, to every sequence of a batch alike: shifts of the same
    pre-activation add up, and where two clamps set the same cell the later one wins. Their
    `layer` counts entries and their `t` is in input order. They are checked first
    (InterventionError names the one at fault); see LayerTrace for what they leave in the trace.
    """
    if gate_activation not in GATE_SCALE:
        raise ValueError(f"gate_activation {gate_activation!r}; expected one of {sorted(GATE_SCALE)}")
    shape = shape_of(weights)
    if reverse and shape.directions == 2:
        raise ValueError("reverse runs a one-directional LSTM backwards; these weights are bidirectional")
    x = np.asarray(inputs, dtype=np.float64)
    if x.ndim not in (2, 3) or x.shape[-1] != shape.input_size or 0 in x.shape:
        raise ValueError(
            f"inputs have shape {x.shape}; expected (T, {shape.input_size}) or "
            f"(T, B, {shape.input_size}) with T, B ≥ 1"
        )
    H = shape.hidden_size
    state = (shape.entries, *x.shape[1:-1], H)
    h0, c0 = (_initial(v, state, name) for v, name in ((h0, "h0"), (c0, "c0")))
    check_interventions(interventions, x.shape[0], shape)
    directions = DIRECTIONS if shape.directions == 2 else ("backward",) if reverse else ("forward",)
    traces: list[LayerTrace] = []
    for k in range(shape.layers):
        for direction in directions:
            n, sx = len(traces), SUFFIX[direction] if shape.directions == 2 else ""
            W_ih = np.asarray(weights[f"weight_ih_l{k}{sx}"], dtype=np.float64)
            W_hh = np.asarray(weights[f"weight_hh_l{k}{sx}"], dtype=np.float64)
            b = _bias(weights, f"bias_ih_l{k}{sx}", H) + _bias(weights, f"bias_hh_l{k}{sx}", H)
            mine = plan([iv for iv in interventions if iv.layer in (None, n)], x.shape[0], H)
            run = partial(_layer, W_ih, W_hh, b, h0=h0[n], c0=c0[n], gate_activation=gate_activation)
            traces.append(run(x=x, ivs=mine) if direction == "forward" else _backward(run, x, mine))
        mine_now = traces[-len(directions) :]
        x = mine_now[0].h if len(mine_now) == 1 else np.concatenate([t.h for t in mine_now], axis=-1)
    return traces


def _backward(run: Callable[..., LayerTrace], x: np.ndarray, ivs: Plan) -> LayerTrace:
    """One layer read from the last step to the first: the forward loop `run` (a _layer with its
    weights and initial state) over the steps reversed, its interventions reversed with them, and
    every array turned back into input order."""
    flip = {
        part: {g: a[::-1] for g, a in getattr(ivs, part).items()} for part in ("shifts", "clamps", "values")
    }
    tr = run(x=x[::-1], ivs=Plan(**flip))
    turned = {name: getattr(tr, name)[::-1] for name in ("i", "f", "g", "o", "c", "h")}
    return replace(tr, **turned, x=x, shifts=ivs.shifts, clamps=ivs.clamps, direction="backward")


def _initial(value: np.ndarray | None, shape: tuple[int, ...], name: str) -> np.ndarray:
    if value is None:
        return np.zeros(shape)
    a = np.asarray(value, dtype=np.float64)
    if a.shape != shape:
        raise ValueError(f"{name} has shape {a.shape}; expected {shape} = (layers, [B,] H)")
    return a


def _bias(weights: Mapping[str, np.ndarray], name: str, H: int) -> np.ndarray:
    if name in weights:
        return np.asarray(weights[name], dtype=np.float64)
    return np.zeros(4 * H)


# Inside a layer the gate blocks are kept in the order i, f, o, g, so that the three sigmoid
# gates sit side by side, and their rows are scaled ahead of the loop: σ(z) = ½·tanh(z/2) + ½, so
# one tanh over all 4H pre-activations serves every gate (halving is exact in binary floating
# point); hard_sigmoid(z) = clip(0.2·z + 0.5, 0, 1) needs only the + 0.5 and a clip.
_ORDER = ("i", "f", "o", "g")


def _internal(a: np.ndarray, H: int, scale: float) -> np.ndarray:
    """The rows of a (4H, ...) tensor in the order i, f, o, g, the sigmoid gates' rows scaled."""
    blocks = {gate: a[k * H : (k + 1) * H] for k, gate in enumerate(GATES)}
    out = np.concatenate([blocks[gate] for gate in _ORDER])
    out[: 3 * H] *= scale
    return out


def _layer(
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b: np.ndarray,
    x: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray,
    gate_activation: str,
    ivs: Plan,
) -> LayerTrace:
    """One layer over all T steps of x (T, [B,] I) from h0, c0 ([B,] H), with its interventions."""
    T, H = x.shape[0], W_hh.shape[1]
    batch = x.shape[1:-1]  # () for one sequence, (B,) for a batch
    scale = GATE_SCALE[gate_activation]
    hard = gate_activation != "sigmoid"
    # Z starts as every step's scaled pre-activation less its recurrent part (one GEMM for all
    # steps); step t adds U·h_{t-1} to Z[t] and activates it in place, leaving the gates there.
    Z = x @ _internal(W_ih, H, scale).T  # (T, [B,] 4H)  W·x_t
    Z += _internal(b, H, scale)  # + b_ih + b_hh
    UT = np.ascontiguousarray(_internal(W_hh, H, scale).T)  # (H, 4H)
    i, f, o, g = (Z[..., j * H : (j + 1) * H] for j in range(4))  # (T, [B,] H) each: views of Z
    sig = Z[..., : 3 * H]  # (T, [B,] 3H): i, f, o side by side
    gates = {"i": i, "f": f, "g": g, "o": o}
    for gate, shift in ivs.shifts.items():  # z + δ, which is δ·scale in a scaled row
        gates[gate] += shift.reshape(T, *(1,) * len(batch), H) * (1.0 if gate == "g" else scale)
    clamped = iter(ivs.clamped_steps())
    next_clamp = next(clamped, T)
    C = np.empty((T, *batch, H))
    Hs = np.empty((T, *batch, H))
    r = np.empty((*batch, 4 * H))  # U·h_{t-1}; reused so the loop touches no fresh memory for it
    ig = np.empty((*batch, H))  # i_t ⊙ g_t, likewise
    h_prev, c_prev = h0, c0
    for t in range(T):
        z = Z[t]  # ([B,] 4H)
        z += np.dot(h_prev, UT, out=r)  # z_t = W·x_t + b + U·h_{t-1}
        s = sig[t]
        if hard:  # i, f, o = clip(scale·z + 0.5, 0, 1); g = tanh(z)
            np.tanh(g[t], out=g[t])
            s += 0.5
            np.clip(s, 0.0, 1.0, out=s)
        else:  # i, f, o = ½·tanh(z/2) + ½ = σ(z); g = tanh(z)
            np.tanh(z, out=z)
            s *= 0.5
            s += 0.5
        if t == next_clamp:  # a clamped gate's output is its value, whatever z was
            for gate, where in ivs.clamps.items():
                np.copyto(gates[gate][t], ivs.values[gate][t], where=where[t])
            next_clamp = next(clamped, T)
        c, h = C[t], Hs[t]  # ([B,] H): this step's rows of the trace, written in place
        np.multiply(f[t], c_prev, out=c)
        c += np.multiply(i[t], g[t], out=ig)  # c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
        np.multiply(o[t], np.tanh(c, out=h), out=h)  # h_t = o_t ⊙ tanh(c_t)
        h_prev, c_prev = h, c

    return LayerTrace(
        **gates,
        c=C,
        h=Hs,
        x=x,
        h0=h0,
        c0=c0,
        W_ih=W_ih,
        W_hh=W_hh,
        bias=b,
        gate_activation=gate_activation,
        shifts=ivs.shifts,
        clamps=ivs.clamps,
    )
