"""A model's output layer: logits K = W h + b of the last layer's h at every step, and their
softmax. `last_h` is what that layer reads: per step the last layer's forward h, and (for a
bidirectional model) its backward h after it — torch's `output` of a bidirectional LSTM."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.engine.trace import LayerTrace


def logits(h: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """h (T, [B,] D) read out by weight (K, D) and bias (K,) (None: zeros): (T, [B,] K)."""
    out = h @ weight.T
    return out if bias is None else out + bias


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, the row's largest logit subtracted first so that no exp
    overflows: exp(z − max) ≤ 1, and the sum is at least 1."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def last_h(traces: Sequence[LayerTrace]) -> np.ndarray:
    """The last layer's h per step: (T, H), or (T, 2H) forward then backward when its last two
    traces are one layer's two directions (arrays in input order either way)."""
    last = traces[-1]
    # a go_backwards model's entries are all "backward": only a forward one before makes a pair
    if last.direction == "backward" and len(traces) > 1 and traces[-2].direction == "forward":
        return np.concatenate([traces[-2].h, last.h], axis=-1)
    return last.h
