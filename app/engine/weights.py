"""Weights in torch.nn.LSTM's layout: checking that tensors form a stacked LSTM, converting Keras's
layout to it, and drawing random weights as torch does.

Names as in torch.nn.LSTM's state_dict: `weight_ih_l{k}` (4H, I), `weight_hh_l{k}` (4H, H),
`bias_ih_l{k}` and `bias_hh_l{k}` (4H), gate rows in the order i, f, g, o (GATES); missing biases
count as zero. Layer k > 0 reads layer k-1's h, so its weight_ih is (4H, H). A bidirectional LSTM
(torch's bidirectional=True) has every layer's tensors twice, the backward direction's with the
suffix `_reverse`, and layer k > 0 reads both directions' h side by side: weight_ih is (4H, 2H).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

GATES = ("i", "f", "g", "o")  # the order of the gate row blocks in every (4H, …) tensor
_NAME_KINDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
DIRECTIONS = ("forward", "backward")
SUFFIX = {"forward": "", "backward": "_reverse"}  # of a direction's tensor names


class WeightError(ValueError):
    """Weights that do not form an LSTM; `name` is the tensor at fault (or None)."""

    def __init__(self, message: str, name: str | None = None):
        super().__init__(message)
        self.name = name


@dataclass(frozen=True)
class Shape:
    """A stacked LSTM's size: its layer count, input size I, hidden size H, and directions (1, or
    2 when bidirectional)."""

    layers: int
    input_size: int
    hidden_size: int
    directions: int = 1

    @property
    def entries(self) -> int:
        """How many traces a run gives: one per layer and direction."""
        return self.layers * self.directions


def shape_of(weights: Mapping[str, np.ndarray]) -> Shape:
    """Check that the tensors form a stacked LSTM and return its shape; WeightError says what is off."""
    layers = 0
    while f"weight_ih_l{layers}" in weights:
        layers += 1
    if layers == 0:
        raise WeightError("no tensor 'weight_ih_l0': the weights of layer 0 are missing", "weight_ih_l0")
    directions = 2 if "weight_ih_l0_reverse" in weights else 1
    suffixes = [SUFFIX[d] for d in DIRECTIONS[:directions]]
    expected = {f"{kind}_l{k}{sx}" for k in range(layers) for kind in _NAME_KINDS for sx in suffixes}
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
    above = "(4H, H)" if directions == 1 else "(4H, 2H): both directions' h"
    for k in range(layers):
        for sx in suffixes:
            width = I if k == 0 else H * directions
            _expect(weights, f"weight_ih_l{k}{sx}", (4 * H, width), "(4H, I)" if k == 0 else above)
            _expect(weights, f"weight_hh_l{k}{sx}", (4 * H, H), "(4H, H)")
            for kind in ("bias_ih", "bias_hh"):
                if f"{kind}_l{k}{sx}" in weights:
                    _expect(weights, f"{kind}_l{k}{sx}", (4 * H,), "(4H,)")
    return Shape(layers, I, H, directions)


def _why_unexpected(name: str, layers: int) -> str:
    if name.startswith("weight_hr"):
        return (
            "an LSTM with projections (proj_size > 0), whose h is projected to fewer numbers: "
            "Gatescope does not compute projections; save an LSTM without proj_size"
        )
    if name.endswith("_reverse"):
        return "a bidirectional LSTM's backward tensors need layer 0's too (weight_ih_l0_reverse)"
    return (
        f"an LSTM with {layers} layer(s) has only weight_ih_l{{k}}, weight_hh_l{{k}}, "
        f"bias_ih_l{{k}} and bias_hh_l{{k}} (and the same with _reverse, bidirectional) for k < {layers}"
    )


def _expect(weights: Mapping[str, np.ndarray], name: str, shape: tuple[int, ...], what: str) -> None:
    if name not in weights:
        raise WeightError(f"tensor {name!r} is missing", name)
    if weights[name].shape != shape:
        raise WeightError(
            f"tensor {name!r} has shape {tuple(weights[name].shape)}; expected {shape} = {what}",
            name,
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
