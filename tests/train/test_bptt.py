"""Gradients of backpropagation through time against torch autograd and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.engine.lstm import init_weights
from app.train.bptt import HEAD_BIAS, HEAD_WEIGHT, logits, loss_and_grads


def make_problem(T, B, I, H, L, K, seed, bias=True):
    rng = np.random.default_rng(seed)
    params = init_weights(I, H, L, seed)
    if not bias:
        params = {k: v for k, v in params.items() if not k.startswith("bias")}
    params[HEAD_WEIGHT] = rng.normal(size=(K, H))
    params[HEAD_BIAS] = rng.normal(size=K)
    x = rng.normal(size=(T, B, I))
    targets = rng.integers(0, K, size=(T, B))
    mask = rng.random((T, B)) < 0.7
    mask[0, 0] = True
    return params, x, targets, mask


def torch_grads(params, x, targets, mask, L, bias=True, state=None):
    """The same model and loss in torch, differentiated by autograd; state = (h0, c0) or None.
    Returns the loss, the gradients and the final (h, c)."""
    I, H = x.shape[-1], params["weight_hh_l0"].shape[1]
    model = torch.nn.LSTM(I, H, num_layers=L, bias=bias).double()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.from_numpy(params[name]))
    W = torch.tensor(params[HEAD_WEIGHT], requires_grad=True)
    b = torch.tensor(params[HEAD_BIAS], requires_grad=True)
    out, (h_n, c_n) = model(
        torch.from_numpy(x), None if state is None else tuple(torch.from_numpy(s) for s in state)
    )
    logits = out @ W.T + b
    keep = torch.from_numpy(mask)
    loss = torch.nn.functional.cross_entropy(logits[keep], torch.from_numpy(targets)[keep])
    loss.backward()
    grads = {name: p.grad.numpy() for name, p in model.named_parameters()}
    grads[HEAD_WEIGHT], grads[HEAD_BIAS] = W.grad.numpy(), b.grad.numpy()
    return loss.item(), grads, (h_n.detach().numpy(), c_n.detach().numpy())


@pytest.mark.parametrize(
    ("T", "B", "I", "H", "L", "K"),
    [(1, 1, 1, 1, 1, 2), (5, 3, 4, 6, 1, 3), (7, 2, 3, 5, 2, 4), (4, 4, 2, 3, 4, 2)],
)
def test_gradients_equal_torch_autograd(T, B, I, H, L, K):
    params, x, targets, mask = make_problem(T, B, I, H, L, K, seed=T * 10 + L)
    result = loss_and_grads(params, x, targets, mask)
    loss, want, _ = torch_grads(params, x, targets, mask, L)
    assert result.loss == pytest.approx(loss, abs=1e-12)
    assert set(result.grads) == set(want)
    for name, g in want.items():
        assert np.max(np.abs(result.grads[name] - g)) <= 1e-10, name


def test_a_carried_state_gives_torchs_gradients_and_final_state():
    """Truncated BPTT: a chunk starts from the state the previous one ended in."""
    params, x, targets, mask = make_problem(6, 3, 4, 5, 2, 3, seed=11)
    rng = np.random.default_rng(12)
    h0, c0 = rng.normal(size=(2, 3, 5)), rng.normal(size=(2, 3, 5))
    result = loss_and_grads(params, x, targets, mask, h0, c0)
    loss, want, (h_n, c_n) = torch_grads(params, x, targets, mask, 2, state=(h0, c0))
    assert result.loss == pytest.approx(loss, abs=1e-12)
    for name, g in want.items():
        assert np.max(np.abs(result.grads[name] - g)) <= 1e-10, name
    assert np.max(np.abs(result.h - h_n)) <= 1e-12 and np.max(np.abs(result.c - c_n)) <= 1e-12
    # and the state matters: from zeros the loss is another
    assert abs(loss_and_grads(params, x, targets, mask).loss - result.loss) > 1e-6


def test_gradients_without_bias_equal_torch_autograd():
    params, x, targets, mask = make_problem(6, 2, 3, 4, 2, 3, seed=5, bias=False)
    result = loss_and_grads(params, x, targets, mask)
    _, want, _ = torch_grads(params, x, targets, mask, 2, bias=False)
    assert set(result.grads) == set(want)
    for name, g in want.items():
        assert np.max(np.abs(result.grads[name] - g)) <= 1e-10, name


def test_gradients_match_finite_differences():
    params, x, targets, mask = make_problem(6, 2, 3, 4, 2, 3, seed=9)
    grads = loss_and_grads(params, x, targets, mask).grads
    rng = np.random.default_rng(0)
    eps = 1e-6
    for name in params:
        for _ in range(3):
            idx = tuple(int(rng.integers(0, n)) for n in params[name].shape)
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[name][idx] += eps
            minus[name][idx] -= eps
            numeric = (
                loss_and_grads(plus, x, targets, mask).loss - loss_and_grads(minus, x, targets, mask).loss
            ) / (2 * eps)
            assert grads[name][idx] == pytest.approx(numeric, abs=1e-7, rel=1e-5), (name, idx)


def test_accuracy_counts_only_the_kept_steps():
    params, x, targets, mask = make_problem(5, 3, 2, 3, 1, 4, seed=2)
    result = loss_and_grads(params, x, targets, mask)
    assert result.counted == int(mask.sum())
    _, z = logits(params, x)
    assert result.correct == int(((z.argmax(-1) == targets) & mask).sum())
