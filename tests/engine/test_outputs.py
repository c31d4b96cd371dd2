"""app.engine.outputs: the output layer's logits, a softmax that never overflows, and the h an
output layer reads (both directions of a bidirectional last layer, forward first)."""

from __future__ import annotations

import dataclasses

import numpy as np

from app import lstm
from app.engine import outputs


def test_softmax_subtracts_the_row_max_so_huge_logits_stay_finite():
    z = np.array([[1000.0, 999.0, -1000.0], [0.0, 0.0, 0.0]])
    p = outputs.softmax(z)
    assert np.all(np.isfinite(p))
    e = np.exp([1.0, 0.0])
    assert np.allclose(p[0, :2], e / e.sum(), atol=1e-15) and p[0, 2] == 0.0
    assert np.allclose(p[1], 1 / 3) and np.allclose(p.sum(axis=1), 1.0)


def test_logits_are_w_h_plus_b_and_bias_may_be_absent():
    rng = np.random.default_rng(0)
    h, w, b = rng.normal(size=(4, 3)), rng.normal(size=(5, 3)), rng.normal(size=5)
    assert np.allclose(outputs.logits(h, w, b), np.einsum("kd,td->tk", w, h) + b, atol=1e-14)
    assert np.allclose(outputs.logits(h, w), h @ w.T, atol=1e-14)


def test_last_h_is_the_last_layer_s_h_or_both_directions_concatenated():
    traces = lstm.forward(lstm.init_weights(3, 4, 2, 0), np.random.default_rng(1).normal(size=(6, 3)))
    assert outputs.last_h(traces) is traces[-1].h
    # a bidirectional last layer: its two entries, forward then backward
    forward = traces[-1]
    backward = dataclasses.replace(traces[0], direction="backward")
    both = outputs.last_h([traces[0], forward, backward])
    assert both.shape == (6, 8)
    assert np.array_equal(both[:, :4], forward.h) and np.array_equal(both[:, 4:], backward.h)


def test_the_public_engine_api_re_exports_them():
    assert lstm.logits is outputs.logits and lstm.softmax is outputs.softmax and lstm.last_h is outputs.last_h
