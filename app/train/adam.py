"""Adam (Kingma and Ba, 2015) with gradient clipping by global norm, in place on a dict of arrays;
optional decoupled weight decay per tensor (AdamW, Loshchilov and Hutter, 2019)."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

import numpy as np


def clip_by_norm(grads: MutableMapping[str, np.ndarray], max_norm: float) -> float:
    """Scale all gradients together so their joint L2 norm is at most max_norm; return the norm before."""
    norm = float(np.sqrt(sum(float(np.sum(g * g)) for g in grads.values())))
    if norm > max_norm:
        for g in grads.values():
            g *= max_norm / norm
    return norm


class Adam:
    """`decay` maps tensor names to a decoupled weight decay: before each update, that tensor
    shrinks by the factor 1 − lr·decay, as torch.optim.AdamW does. `lr` may be changed between
    steps (a schedule)."""

    def __init__(
        self,
        params: Mapping[str, np.ndarray],
        lr: float = 1e-2,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        decay: Mapping[str, float] | None = None,
    ):
        self.lr, self.betas, self.eps = lr, betas, eps
        self.decay = dict(decay or {})
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, params: MutableMapping[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
        self.t += 1
        b1, b2 = self.betas
        step = self.lr / (1 - b1**self.t)  # bias corrections, as torch.optim.Adam applies them
        root_bc2 = np.sqrt(1 - b2**self.t)
        for k, d in self.decay.items():
            params[k] *= 1 - self.lr * d
        for k, g in grads.items():
            m, v = self.m[k], self.v[k]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            params[k] -= step * m / (np.sqrt(v) / root_bc2 + self.eps)
