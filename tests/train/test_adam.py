"""Adam and clipping against torch.optim.Adam and torch.nn.utils.clip_grad_norm_."""

from __future__ import annotations

import numpy as np
import torch

from app.train.adam import Adam, clip_by_norm


def test_adam_follows_torch_adam_step_for_step():
    rng = np.random.default_rng(0)
    params = {"a": rng.normal(size=(3, 4)), "b": rng.normal(size=5)}
    theirs = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in params.items()}
    opt = torch.optim.Adam(theirs.values(), lr=0.05, betas=(0.8, 0.99), eps=1e-6)
    ours = Adam(params, lr=0.05, betas=(0.8, 0.99), eps=1e-6)
    for _ in range(25):
        grads = {k: rng.normal(size=v.shape) for k, v in params.items()}
        ours.step(params, grads)
        for k, p in theirs.items():
            p.grad = torch.from_numpy(grads[k].copy())
        opt.step()
    for k, p in theirs.items():
        assert np.max(np.abs(params[k] - p.detach().numpy())) <= 1e-12


def test_clipping_scales_all_gradients_together_like_torch():
    rng = np.random.default_rng(1)
    grads = {"a": rng.normal(size=(3, 4)) * 5, "b": rng.normal(size=7) * 5}
    tensors = [torch.tensor(g.copy(), requires_grad=True) for g in grads.values()]
    for t, g in zip(tensors, grads.values(), strict=True):
        t.grad = torch.from_numpy(g.copy())
    their_norm = float(torch.nn.utils.clip_grad_norm_(tensors, max_norm=1.0))
    our_norm = clip_by_norm(grads, 1.0)
    assert abs(our_norm - their_norm) <= 1e-9
    for t, g in zip(tensors, grads.values(), strict=True):
        assert np.max(np.abs(t.grad.numpy() - g)) <= 1e-6  # torch adds 1e-6 to the norm
    small = {"a": np.full(3, 0.1)}
    assert clip_by_norm(small, 1.0) < 1.0 and np.all(small["a"] == 0.1)
