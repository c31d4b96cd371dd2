"""A stacked LSTM in NumPy that records every gate, with torch.nn.LSTM's weights and layout.

For each layer and each step t (PyTorch's convention, gate rows in the order i, f, g, o):

    i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)      input gate
    f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)      forget gate: 1 keeps, 0 forgets
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)   candidate
    o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)      output gate
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                    cell state: a vector of H numbers
    h_t = o_t ⊙ tanh(c_t)                               hidden state

Weights are named as in torch.nn.LSTM's state_dict: `weight_ih_l{k}` (4H, I),
`weight_hh_l{k}` (4H, H), `bias_ih_l{k}` and `bias_hh_l{k}` (4H); missing biases
count as zero. Layer k > 0 reads layer k-1's h as its input. Everything is float64.

Interventions ask "what if?": an `Intervention` either shifts a gate's pre-activation z by
`bias_add` (f with bias_add 1 is the forget bias of Jozefowicz et al., 2015) or replaces the
gate's output, after its activation, by `value` (f ≡ 1 is the 1997 LSTM without a forget gate,
f ≡ 0 a cell without memory), at one step t, one unit, one layer, or all of them; everything
downstream (c, h, later steps, later layers) is recomputed from the changed values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

GATES = ("i", "f", "g", "o")
_NAME_KINDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class WeightError(ValueError):
    """Weights that do not form an LSTM; `name` is the tensor at fault (or None)."""

    def __init__(self, message: str, name: str | None = None):
        super().__init__(message)
        self.name = name


class InterventionError(ValueError):
    """An intervention that cannot apply: `index` in the list, the `field` at fault (or None), `reason`."""

    def __init__(self, index: int, field: str | None, reason: str):
        super().__init__(f"intervention {index}: {reason}")
        self.index = index
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Intervention:
    """A "what if?" on one gate: exactly one of `value` (replaces the gate's output after its
    activation: a clamp) and `bias_add` (added to its pre-activation z). `t`, `unit` and `layer`
    are 0-based; None means every step, every unit, every layer. The engine takes any finite value
    (f = 1.1 makes the cell grow exponentially); the API keeps values within the gate's range."""

    gate: str  # "i", "f", "g" or "o"
    value: float | None = None
    bias_add: float | None = None
    t: int | None = None
    unit: int | None = None
    layer: int | None = None


@dataclass(frozen=True)
class Shape:
    layers: int
    input_size: int
    hidden_size: int


@dataclass(frozen=True)
class LayerTrace:
    """Everything one layer computed over T steps; gate and state arrays are (T, H), or (T, B, H).

    Under interventions the gate arrays hold the values actually used, and two maps say how they
    came about, each keyed by gate and holding only the gates concerned (both empty without
    interventions). `shifts[gate]` (T, H) is what bias_add interventions added to the gate's
    pre-activation (their sum where several meet; gates whose shifts sum to 0 everywhere are left
    out), so that the pre-activation used is input + recurrent + bias + shift (see `pre`).
    `clamps[gate]` (T, H) is True where a value intervention replaced the gate's output: there the
    gate array holds the clamped value, not the activation of `pre`. An intervention applies to
    every sequence of a batch alike, so both are (T, H) even when the trace is (T, B, H);
    `shift(gate)` and `clamped(gate)` give them in the gate arrays' own shape.
    """

    i: np.ndarray
    f: np.ndarray
    g: np.ndarray
    o: np.ndarray
    c: np.ndarray
    h: np.ndarray
    x: np.ndarray  # (T, [B,] I) this layer's input
    h0: np.ndarray  # ([B,] H)
    c0: np.ndarray  # ([B,] H)
    W_ih: np.ndarray  # (4H, I)
    W_hh: np.ndarray  # (4H, H)
    bias: np.ndarray  # (4H,) b_ih + b_hh
    gate_activation: str = "sigmoid"  # of i, f, o: "sigmoid" or "hard_sigmoid"
    shifts: dict[str, np.ndarray] = field(default_factory=dict)  # gate -> (T, H) added to z
    clamps: dict[str, np.ndarray] = field(default_factory=dict)  # gate -> (T, H) bool: value set

    def parts(self, gate: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The gate's pre-activation as (input part W·x_t (T, H), recurrent part U·h_{t-1} (T, H), bias (H,)).

        Computed on demand, as two GEMMs over all steps: most runs never ask for them.
        """
        k = GATES.index(gate)
        H = self.h.shape[-1]
        rows = slice(k * H, (k + 1) * H)
        h_prev = np.concatenate([self.h0[None], self.h[:-1]])  # (T, [B,] H)
        return self.x @ self.W_ih[rows].T, h_prev @ self.W_hh[rows].T, self.bias[rows]

    def pre(self, gate: str) -> np.ndarray:
        """The gate's whole pre-activation as used, (T, H): the parts plus any bias_add shift."""
        x_part, h_part, b = self.parts(gate)
        if gate in self.shifts:
            return x_part + h_part + b + self.shift(gate)
        return x_part + h_part + b

    def shift(self, gate: str) -> np.ndarray:
        """What bias_add interventions added to the gate's pre-activation, (T, [B,] H); zeros if none."""
        return self._per_sequence(self.shifts.get(gate), 0.0)

    def clamped(self, gate: str) -> np.ndarray:
        """Where a value intervention set the gate's output, (T, [B,] H) booleans."""
        return self._per_sequence(self.clamps.get(gate), False)

    def _per_sequence(self, a: np.ndarray | None, empty: float | bool) -> np.ndarray:
        if a is None:
            return np.full(self.h.shape, empty)
        T, H = a.shape
        return np.broadcast_to(a.reshape(T, *(1,) * (self.h.ndim - 2), H), self.h.shape)


def shape_of(weights: Mapping[str, np.ndarray]) -> Shape:
    """Check that the tensors form a stacked LSTM and return its shape; WeightError says what is off."""
    layers = 0
    while f"weight_ih_l{layers}" in weights:
        layers += 1
    if layers == 0:
        raise WeightError("no tensor 'weight_ih_l0': the weights of layer 0 are missing", "weight_ih_l0")
    expected = {f"{kind}_l{k}" for k in range(layers) for kind in _NAME_KINDS}
    for name in weights:
        if name not in expected:
            raise WeightError(f"unexpected tensor {name!r}: {_why_unexpected(name, layers)}", name)
    for name, value in weights.items():
        if not isinstance(value, np.ndarray) or not np.issubdtype(value.dtype, np.number):
            raise WeightError(f"tensor {name!r} is not an array of numbers", name)
        if np.iscomplexobj(value):
            raise WeightError(f"tensor {name!r} holds complex numbers; an LSTM's are real", name)
        if not np.all(np.isfinite(value)):
            where = ", ".join(str(int(k)) for k in np.argwhere(~np.isfinite(value))[0])
            raise WeightError(f"tensor {name!r} holds a NaN or infinite value at [{where}]", name)

    first = weights["weight_ih_l0"]
    if first.ndim != 2 or first.shape[0] == 0 or first.shape[0] % 4 or first.shape[1] == 0:
        raise WeightError(
            f"tensor 'weight_ih_l0' has shape {first.shape}; expected (4H, I) with H, I ≥ 1",
            "weight_ih_l0",
        )
    H = first.shape[0] // 4
    I = first.shape[1]
    for k in range(layers):
        width = I if k == 0 else H
        _expect(weights, f"weight_ih_l{k}", (4 * H, width), "(4H, I)" if k == 0 else "(4H, H)")
        _expect(weights, f"weight_hh_l{k}", (4 * H, H), "(4H, H)")
        for kind in ("bias_ih", "bias_hh"):
            if f"{kind}_l{k}" in weights:
                _expect(weights, f"{kind}_l{k}", (4 * H,), "(4H,)")
    return Shape(layers, I, H)


def _why_unexpected(name: str, layers: int) -> str:
    if name.startswith("weight_hr"):
        return "LSTMs with projections (proj_size > 0) are not supported"
    if name.endswith("_reverse"):
        return "bidirectional LSTMs are not supported"
    return (
        f"an LSTM with {layers} layer(s) has only weight_ih_l{{k}}, weight_hh_l{{k}}, "
        f"bias_ih_l{{k}} and bias_hh_l{{k}} for k < {layers}"
    )


def _expect(weights: Mapping[str, np.ndarray], name: str, shape: tuple[int, ...], what: str) -> None:
    if name not in weights:
        raise WeightError(f"tensor {name!r} is missing", name)
    if weights[name].shape != shape:
        raise WeightError(
            f"tensor {name!r} has shape {tuple(weights[name].shape)}; expected {shape} = {what}",
            name,
        )


def forward(
    weights: Mapping[str, np.ndarray],
    inputs: np.ndarray,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
    gate_activation: str = "sigmoid",
    interventions: Sequence[Intervention] = (),
) -> list[LayerTrace]:
    """Run the LSTM over inputs (T, I) and return one trace per layer; h0, c0 are (layers, H).

    A batch of B sequences of equal length runs at once as inputs (T, B, I), with h0, c0
    (layers, B, H) and traces of (T, B, H): what training needs. gate_activation
    "hard_sigmoid" is the older Keras default for i, f, o: clip(0.2·z + 0.5, 0, 1).

    `interventions` apply in list order, to every sequence of a batch alike: shifts of the same
    pre-activation add up, and where two clamps set the same cell the later one wins. They are
    checked first (InterventionError names the one at fault); see LayerTrace for what they leave
    in the trace.
    """
    if gate_activation not in GATE_SCALE:
        raise ValueError(f"gate_activation {gate_activation!r}; expected one of {sorted(GATE_SCALE)}")
    shape = shape_of(weights)
    x = np.asarray(inputs, dtype=np.float64)
    if x.ndim not in (2, 3) or x.shape[-1] != shape.input_size or 0 in x.shape:
        raise ValueError(
            f"inputs have shape {x.shape}; expected (T, {shape.input_size}) or "
            f"(T, B, {shape.input_size}) with T, B ≥ 1"
        )
    L, H = shape.layers, shape.hidden_size
    state = (L, *x.shape[1:-1], H)
    h0, c0 = (_initial(v, state, name) for v, name in ((h0, "h0"), (c0, "c0")))
    check_interventions(interventions, x.shape[0], shape)
    traces = []
    for k in range(L):
        W_ih = np.asarray(weights[f"weight_ih_l{k}"], dtype=np.float64)
        W_hh = np.asarray(weights[f"weight_hh_l{k}"], dtype=np.float64)
        b = _bias(weights, f"bias_ih_l{k}", H) + _bias(weights, f"bias_hh_l{k}", H)
        mine = [iv for iv in interventions if iv.layer is None or iv.layer == k]
        trace = _layer(W_ih, W_hh, b, x, h0[k], c0[k], gate_activation, mine)
        traces.append(trace)
        x = trace.h
    return traces


def check_interventions(interventions: Sequence[Intervention], steps: int, shape: Shape) -> None:
    """Refuse, with an InterventionError that says which and why, any intervention that cannot
    apply to `steps` steps of an LSTM of this shape."""
    ranges = {
        "t": (steps, f"the sequence has {steps} step(s)"),
        "unit": (shape.hidden_size, f"the model has {shape.hidden_size} hidden unit(s)"),
        "layer": (shape.layers, f"the model has {shape.layers} layer(s)"),
    }
    for n, iv in enumerate(interventions):
        if not isinstance(iv, Intervention):
            raise InterventionError(n, None, f"{iv!r} is not an Intervention")
        if iv.gate not in GATES:
            raise InterventionError(n, "gate", f"gate {iv.gate!r}; expected one of {', '.join(GATES)}")
        if (iv.value is None) == (iv.bias_add is None):
            raise InterventionError(
                n,
                None,
                "give exactly one of value (replaces the gate's output) and bias_add "
                "(shifts its pre-activation)",
            )
        for name in ("value", "bias_add"):
            v = getattr(iv, name)
            real = isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
            if v is not None and not (real and math.isfinite(v)):
                raise InterventionError(n, name, f"{name} = {v!r} is not a finite number")
        for name, (size, why) in ranges.items():
            v = getattr(iv, name)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, int | np.integer):
                raise InterventionError(n, name, f"{name} = {v!r} is not an integer")
            if not 0 <= v < size:
                raise InterventionError(
                    n, name, f"{name} = {v} is out of range: {why}, so {name} runs from 0 to {size - 1}"
                )


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


# Internally the gate rows are reordered to i, f, o, g so that the three sigmoid gates are
# one contiguous block, and their rows are scaled ahead of the loop: σ(z) = ½·tanh(z/2) + ½,
# so one tanh over all 4H pre-activations serves every gate (halving is exact in binary
# floating point); hard_sigmoid(z) = clip(0.2·z + 0.5, 0, 1) needs only the + 0.5 and a clip.
_INTERNAL = (0, 1, 3, 2)  # internal block j holds torch gate _INTERNAL[j]
_BLOCK = {GATES[k]: j for j, k in enumerate(_INTERNAL)}  # gate name -> internal block
GATE_SCALE = {"sigmoid": 0.5, "hard_sigmoid": 0.2}


def _internal(a: np.ndarray, H: int, scale: float) -> np.ndarray:
    """Rows of a (4H, ...) tensor in internal order, sigmoid-gate rows scaled."""
    out = np.concatenate([a[k * H : (k + 1) * H] for k in _INTERNAL])
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
    interventions: Sequence[Intervention] = (),
) -> LayerTrace:
    T, H = x.shape[0], W_hh.shape[1]
    batch = x.shape[1:-1]  # () for one sequence, (B,) for a batch
    # A starts as the input part of all steps (one GEMM) plus bias; each step adds U·h_{t-1}
    # and applies the activations in place, leaving the gate values (internal order).
    scale = GATE_SCALE[gate_activation]
    hard = gate_activation == "hard_sigmoid"
    A = x @ _internal(W_ih, H, scale).T  # (T, [B,] 4H)
    A += _internal(b, H, scale)
    shifts, clamps, values = _plan(interventions, T, H)
    for gate, shift in shifts.items():  # a shift δ of z is δ·scale in A's scaled rows, δ in g's
        j = _BLOCK[gate]
        A[..., j * H : (j + 1) * H] += shift.reshape(T, *(1,) * len(batch), H) * (1.0 if j == 3 else scale)
    UT = np.ascontiguousarray(_internal(W_hh, H, scale).T)  # (H, 4H)
    C = np.empty((T, *batch, H))
    Hs = np.empty((T, *batch, H))
    r = np.empty((*batch, 4 * H))  # U·h_{t-1}; reused so the loop touches no fresh memory for it
    ig = np.empty((*batch, H))
    h_prev, c_prev = h0, c0
    # The loop runs in spans, each ending with a step that has a clamp; that step is finished
    # as usual, then redone from its clamped gates. Without clamps there is one span, 0 … T-1.
    start = 0
    for stop, cols, vals in [*_clamp_steps(clamps, values, H), (T - 1, None, None)]:
        for t in range(start, stop + 1):
            a = A[t]
            np.dot(h_prev, UT, out=r)
            a += r
            sig = a[..., : 3 * H]
            if hard:
                g = a[..., 3 * H :]
                np.tanh(g, out=g)
                sig += 0.5
                np.clip(sig, 0.0, 1.0, out=sig)
            else:
                np.tanh(a, out=a)
                sig *= 0.5
                sig += 0.5
            c = C[t]
            np.multiply(a[..., H : 2 * H], c_prev, out=c)  # f ⊙ c_{t-1}
            np.multiply(a[..., :H], a[..., 3 * H :], out=ig)  # i ⊙ g
            c += ig
            h = Hs[t]
            np.tanh(c, out=h)
            h *= a[..., 2 * H : 3 * H]  # o ⊙ tanh(c)
            h_prev, c_prev = h, c
        if cols is not None:  # h_prev, c_prev are views of Hs[stop], C[stop]: redone in place
            a = A[stop]
            a[..., cols] = vals
            np.multiply(a[..., H : 2 * H], C[stop - 1] if stop else c0, out=C[stop])
            np.multiply(a[..., :H], a[..., 3 * H :], out=ig)
            C[stop] += ig
            np.tanh(C[stop], out=Hs[stop])
            Hs[stop] *= a[..., 2 * H : 3 * H]
        start = stop + 1

    gates = {GATES[k]: A[..., j * H : (j + 1) * H] for j, k in enumerate(_INTERNAL)}
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
        shifts=shifts,
        clamps=clamps,
    )


def _plan(
    interventions: Sequence[Intervention], T: int, H: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One layer's interventions as (T, H) arrays per gate, in list order: the summed shifts of z
    (gates whose shifts sum to 0 everywhere left out), the clamped cells, and their values."""
    shifts: dict[str, np.ndarray] = {}
    clamps: dict[str, np.ndarray] = {}
    values: dict[str, np.ndarray] = {}
    for iv in interventions:
        cells = (slice(None) if iv.t is None else iv.t, slice(None) if iv.unit is None else iv.unit)
        if iv.bias_add is not None:
            if iv.gate not in shifts:
                shifts[iv.gate] = np.zeros((T, H))
            shifts[iv.gate][cells] += iv.bias_add
        else:
            if iv.gate not in clamps:
                clamps[iv.gate], values[iv.gate] = np.zeros((T, H), dtype=bool), np.zeros((T, H))
            clamps[iv.gate][cells] = True
            values[iv.gate][cells] = iv.value
    shifts = {g: shifts[g] for g in GATES if g in shifts and shifts[g].any()}
    return shifts, {g: clamps[g] for g in GATES if g in clamps}, values


def _clamp_steps(
    clamps: dict[str, np.ndarray], values: dict[str, np.ndarray], H: int
) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(t, columns of A[t], values) for each step with a clamp, in step order."""
    if not clamps:
        return []
    gates = list(clamps)
    ts, ks = np.nonzero(np.hstack([clamps[g] for g in gates]))  # (T, kH), row by row: steps in order
    vals = np.hstack([values[g] for g in gates])[ts, ks]
    cols = np.array([_BLOCK[g] * H for g in gates])[ks // H] + ks % H
    starts = [0, *(np.flatnonzero(np.diff(ts)) + 1).tolist()]
    ends = [*starts[1:], len(ts)]
    return [(int(ts[a]), cols[a:b], vals[a:b]) for a, b in zip(starts, ends, strict=True)]


def keras_to_torch(
    kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray | None = None, layer: int = 0
) -> dict[str, np.ndarray]:
    """Convert one Keras/TensorFlow LSTM layer to torch naming.

    Keras stores kernel (I, 4H) and recurrent_kernel (H, 4H) with gate columns
    i, f, c, o — the same order as torch's i, f, g, o — and a single bias (4H).
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    recurrent_kernel = np.asarray(recurrent_kernel, dtype=np.float64)
    if kernel.ndim != 2 or recurrent_kernel.ndim != 2:
        raise WeightError("kernel and recurrent_kernel must be 2-D", "kernel")
    H = recurrent_kernel.shape[0]
    if recurrent_kernel.shape != (H, 4 * H):
        raise WeightError(
            f"recurrent_kernel has shape {recurrent_kernel.shape}; expected (H, 4H)", "recurrent_kernel"
        )
    if kernel.shape[1] != 4 * H:
        raise WeightError(f"kernel has shape {kernel.shape}; expected (I, {4 * H}) = (I, 4H)", "kernel")
    out = {
        f"weight_ih_l{layer}": kernel.T.copy(),
        f"weight_hh_l{layer}": recurrent_kernel.T.copy(),
    }
    if bias is not None:
        bias = np.asarray(bias, dtype=np.float64)
        if bias.shape != (4 * H,):
            raise WeightError(f"bias has shape {bias.shape}; expected ({4 * H},) = (4H,)", "bias")
        out[f"bias_ih_l{layer}"] = bias.copy()
    return out


def init_weights(input_size: int, hidden_size: int, layers: int = 1, seed: int = 0) -> dict[str, np.ndarray]:
    """Random weights drawn as torch.nn.LSTM initialises them: U(-1/√H, 1/√H) for every tensor."""
    rng = np.random.default_rng(seed)
    bound = 1.0 / np.sqrt(hidden_size)
    weights = {}
    for k in range(layers):
        width = input_size if k == 0 else hidden_size
        shapes = {
            "weight_ih": (4 * hidden_size, width),
            "weight_hh": (4 * hidden_size, hidden_size),
            "bias_ih": (4 * hidden_size,),
            "bias_hh": (4 * hidden_size,),
        }
        for kind, shape in shapes.items():
            weights[f"{kind}_l{k}"] = rng.uniform(-bound, bound, size=shape)
    return weights
