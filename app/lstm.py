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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

GATES = ("i", "f", "g", "o")
_NAME_KINDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class WeightError(ValueError):
    """Weights that do not form an LSTM; `name` is the tensor at fault (or None)."""

    def __init__(self, message: str, name: str | None = None):
        super().__init__(message)
        self.name = name


@dataclass(frozen=True)
class Shape:
    layers: int
    input_size: int
    hidden_size: int


@dataclass(frozen=True)
class LayerTrace:
    """Everything one layer computed over T steps; gate and state arrays are (T, H), or (T, B, H)."""

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
        """The gate's whole pre-activation, (T, H)."""
        x_part, h_part, b = self.parts(gate)
        return x_part + h_part + b


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
) -> list[LayerTrace]:
    """Run the LSTM over inputs (T, I) and return one trace per layer; h0, c0 are (layers, H).

    A batch of B sequences of equal length runs at once as inputs (T, B, I), with h0, c0
    (layers, B, H) and traces of (T, B, H): what training needs. gate_activation
    "hard_sigmoid" is the older Keras default for i, f, o: clip(0.2·z + 0.5, 0, 1).
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
    traces = []
    for k in range(L):
        W_ih = np.asarray(weights[f"weight_ih_l{k}"], dtype=np.float64)
        W_hh = np.asarray(weights[f"weight_hh_l{k}"], dtype=np.float64)
        b = _bias(weights, f"bias_ih_l{k}", H) + _bias(weights, f"bias_hh_l{k}", H)
        trace = _layer(W_ih, W_hh, b, x, h0[k], c0[k], gate_activation)
        traces.append(trace)
        x = trace.h
    return traces


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
GATE_SCALE = {"sigmoid": 0.5, "hard_sigmoid": 0.2}


def _internal(a: np.ndarray, H: int, scale: float) -> np.ndarray:
    """Rows of a (4H, ...) tensor in internal order, sigmoid-gate rows scaled."""
    out = np.concatenate([a[k * H : (k + 1) * H] for k in _INTERNAL])
    out[: 3 * H] *= scale
    return out


def _layer(
    W_ih: np.ndarray, W_hh: np.ndarray, b: np.ndarray, x: np.ndarray, h0: np.ndarray, c0: np.ndarray,
    gate_activation: str,
) -> LayerTrace:
    T, H = x.shape[0], W_hh.shape[1]
    batch = x.shape[1:-1]  # () for one sequence, (B,) for a batch
    # A starts as the input part of all steps (one GEMM) plus bias; each step adds U·h_{t-1}
    # and applies the activations in place, leaving the gate values (internal order).
    scale = GATE_SCALE[gate_activation]
    hard = gate_activation == "hard_sigmoid"
    A = x @ _internal(W_ih, H, scale).T  # (T, [B,] 4H)
    A += _internal(b, H, scale)
    UT = np.ascontiguousarray(_internal(W_hh, H, scale).T)  # (H, 4H)
    C = np.empty((T, *batch, H))
    Hs = np.empty((T, *batch, H))
    r = np.empty((*batch, 4 * H))  # U·h_{t-1}; reused so the loop touches no fresh memory for it
    ig = np.empty((*batch, H))
    h_prev, c_prev = h0, c0
    for t in range(T):
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

    gates = {GATES[k]: A[..., j * H : (j + 1) * H] for j, k in enumerate(_INTERNAL)}
    return LayerTrace(
        **gates, c=C, h=Hs, x=x, h0=h0, c0=c0, W_ih=W_ih, W_hh=W_hh, bias=b,
        gate_activation=gate_activation,
    )


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
