"""Backpropagation through time over the engine's own forward pass.

The model is the stacked LSTM of app.lstm plus a linear read-out of the top layer's h:
logits_t = W_out h_t + b_out, trained with softmax cross-entropy on the steps a mask keeps.
Going back through one layer, step t (⊙ elementwise, σ' = σ(1 − σ), tanh' = 1 − tanh²):

    dh   = (gradient from above at t) + U_zᵀ dz_{t+1}       (U = W_hh)
    do   = dh ⊙ tanh(c_t)                    dc = dc_{t+1} ⊙ f_{t+1} + dh ⊙ o_t ⊙ tanh'(c_t)
    df   = dc ⊙ c_{t-1}    di = dc ⊙ g_t     dg = dc ⊙ i_t
    dz_t = [di ⊙ σ'(i), df ⊙ σ'(f), dg ⊙ tanh'(g), do ⊙ σ'(o)]      gate rows i, f, g, o

and the weight gradients are sums over steps: dW_ih = Σ dz_t x_tᵀ, dW_hh = Σ dz_t h_{t-1}ᵀ,
db = Σ dz_t (the same for bias_ih and bias_hh), and the layer below receives W_ihᵀ dz_t.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from app.engine.lstm import LayerTrace, forward, shape_of
from app.engine.outputs import logits as read_out

HEAD_WEIGHT = "head.weight"  # (K, H): read-out of the top layer's h into K classes
HEAD_BIAS = "head.bias"  # (K,)


@dataclass(frozen=True)
class Result:
    loss: float  # mean cross-entropy over the kept steps
    correct: int  # kept steps whose most likely class is the target
    counted: int  # kept steps
    grads: dict[str, np.ndarray]
    h: np.ndarray  # (layers, B, H): h and c after the last step, the h0 and c0 of a text's next chunk
    c: np.ndarray


def lstm_part(params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The LSTM's own tensors, without the read-out head."""
    return {k: v for k, v in params.items() if not k.startswith("head.")}


def logits(
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
) -> tuple[list[LayerTrace], np.ndarray]:
    """Forward pass: traces of every layer and the head's logits (T, B, K) for inputs (T, B, I),
    from h0, c0 (layers, B, H) or zeros."""
    traces = forward(lstm_part(params), x, h0, c0)
    return traces, read_out(traces[-1].h, params[HEAD_WEIGHT], params[HEAD_BIAS])


def loss_and_grads(
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    targets: np.ndarray,
    mask: np.ndarray | None = None,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
) -> Result:
    """Cross-entropy of the targets (T, B) class indices at the steps mask (T, B) keeps, and its gradients.

    Starting from h0, c0 continues texts where the previous chunk left them (truncated BPTT: no
    gradient flows back into the earlier chunk)."""
    traces, z = logits(params, x, h0, c0)
    keep = np.ones(targets.shape, dtype=bool) if mask is None else mask.astype(bool)
    n = max(int(keep.sum()), 1)
    z = z - z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=-1, keepdims=True)  # (T, B, K) softmax
    t_idx = np.where(keep, targets, 0)
    picked = np.take_along_axis(p, t_idx[..., None], axis=-1)[..., 0]
    loss = float(-np.log(np.maximum(picked[keep], 1e-300)).sum() / n)
    correct = int((p.argmax(axis=-1) == targets)[keep].sum())

    dz = p
    np.put_along_axis(dz, t_idx[..., None], np.take_along_axis(dz, t_idx[..., None], axis=-1) - 1, axis=-1)
    dz *= keep[..., None] / n  # (T, B, K) d loss / d logits
    h_top = traces[-1].h
    grads = {
        HEAD_WEIGHT: _sum_outer(dz, h_top),
        HEAD_BIAS: dz.sum(axis=(0, 1)),
    }
    dh_above = dz @ params[HEAD_WEIGHT]  # (T, B, H)
    has_bias = "bias_ih_l0" in params or "bias_hh_l0" in params
    for k in reversed(range(shape_of(lstm_part(params)).layers)):
        dZ = _layer_back(traces[k], dh_above)  # (T, B, 4H)
        h_prev = np.concatenate([traces[k].h0[None], traces[k].h[:-1]])
        grads[f"weight_ih_l{k}"] = _sum_outer(dZ, traces[k].x)
        grads[f"weight_hh_l{k}"] = _sum_outer(dZ, h_prev)
        if has_bias:
            db = dZ.sum(axis=(0, 1))
            for name in (f"bias_ih_l{k}", f"bias_hh_l{k}"):
                if name in params:
                    grads[name] = db.copy()
        dh_above = dZ @ traces[k].W_ih  # (T, B, I): what the layer below receives
    return Result(
        loss, correct, n, grads, np.stack([tr.h[-1] for tr in traces]), np.stack([tr.c[-1] for tr in traces])
    )


def _sum_outer(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Σ over steps and batch of the outer products a bᵀ, (A, B) from (..., A) and (..., B), as one
    GEMM: np.einsum spells the same sum without BLAS, which made it most of a step for H ≥ 64."""
    return a.reshape(-1, a.shape[-1]).T @ b.reshape(-1, b.shape[-1])


def _layer_back(tr: LayerTrace, dh_above: np.ndarray) -> np.ndarray:
    """d loss / d pre-activations (T, B, 4H), gate blocks i, f, g, o, from d loss / d h_t (T, B, H)."""
    T = dh_above.shape[0]
    H = tr.h.shape[-1]
    tanh_c = np.tanh(tr.c)
    c_prev = np.concatenate([tr.c0[None], tr.c[:-1]])
    dZ = np.empty((*dh_above.shape[:-1], 4 * H))
    W_hh = tr.W_hh
    dh_next = np.zeros(dh_above.shape[1:])
    dc_next = np.zeros(dh_above.shape[1:])
    for t in reversed(range(T)):
        dh = dh_above[t] + dh_next
        dc = dc_next + dh * tr.o[t] * (1.0 - tanh_c[t] ** 2)
        d = dZ[t]
        d[..., :H] = dc * tr.g[t] * tr.i[t] * (1.0 - tr.i[t])
        d[..., H : 2 * H] = dc * c_prev[t] * tr.f[t] * (1.0 - tr.f[t])
        d[..., 2 * H : 3 * H] = dc * tr.i[t] * (1.0 - tr.g[t] ** 2)
        d[..., 3 * H :] = dh * tanh_c[t] * tr.o[t] * (1.0 - tr.o[t])
        dc_next = dc * tr.f[t]
        dh_next = d @ W_hh
    return dZ
