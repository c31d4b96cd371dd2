"""Adam, its weight decay and clipping against torch.optim.Adam, torch.optim.AdamW and
torch.nn.utils.clip_grad_norm_."""

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


def test_decay_on_chosen_tensors_follows_torch_adamw_with_a_changing_rate():
    rng = np.random.default_rng(2)
    start = {"decayed": rng.normal(size=(4, 3)), "kept": rng.normal(size=6)}
    grads = [{k: rng.normal(size=v.shape) for k, v in start.items()} for _ in range(30)]
    rates = [0.05 * (1 - step / 40) for step in range(30)]  # a schedule, told to both sides

    def ours(decay: dict[str, float]) -> dict[str, np.ndarray]:
        params = {k: v.copy() for k, v in start.items()}
        opt = Adam(params, lr=rates[0], decay=decay)
        for lr, g in zip(rates, grads, strict=True):
            opt.lr = lr
            opt.step(params, {k: v.copy() for k, v in g.items()})
        return params

    theirs = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in start.items()}
    opt = torch.optim.AdamW(
        [
            {"params": [theirs["decayed"]], "weight_decay": 3.0},
            {"params": [theirs["kept"]], "weight_decay": 0.0},
        ],
        lr=rates[0],
    )
    for lr, g in zip(rates, grads, strict=True):
        for group in opt.param_groups:
            group["lr"] = lr
        for k, p in theirs.items():
            p.grad = torch.from_numpy(g[k].copy())
        opt.step()
    decayed = ours({"decayed": 3.0})
    for k, p in theirs.items():
        assert np.max(np.abs(decayed[k] - p.detach().numpy())) <= 1e-12
    plain = ours({})
    assert np.max(np.abs(plain["decayed"] - decayed["decayed"])) > 0.1  # the decay did act
    assert np.array_equal(plain["kept"], decayed["kept"])  # and only where it was asked to


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
