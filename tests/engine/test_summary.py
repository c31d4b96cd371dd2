"""app.engine.summary: statistics of a sequence run in chunks equal those of one whole forward pass,
computed here directly with NumPy from lstm.forward's full trace."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine.lstm import forward, init_weights
from app.engine.summary import summarise


def case(T: int, I: int, H: int, L: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    weights = {k: 3.0 * v for k, v in init_weights(I, H, L, seed=seed).items()}  # some gates saturate
    x = rng.normal(size=(T, I))
    labels = np.stack([np.arange(T) % 7, rng.random(T) < 0.3, rng.normal(size=T)], axis=1).astype(float)
    return weights, x, labels


def direct(trace, labels: np.ndarray) -> dict[str, np.ndarray]:
    """The statistics from a whole trace, in the textbook way (np.mean, np.std, np.corrcoef)."""
    out = {}
    for g in ("f", "i", "o"):
        a = getattr(trace, g)
        out[f"{g} left"] = (a < 0.1).mean(axis=0)
        out[f"{g} right"] = (a > 0.9).mean(axis=0)
    for s in ("c", "h"):
        a = getattr(trace, s)
        out[f"{s} mean"], out[f"{s} std"] = a.mean(axis=0), a.std(axis=0)
        L, H = labels.shape[1], a.shape[1]
        out[f"{s} r"] = np.corrcoef(labels.T, a.T)[:L, L : L + H]  # (L, H)
    return out


@pytest.mark.parametrize(
    ("T", "chunk", "layers", "reverse"),
    [(1000, 128, 1, False), (1000, 300, 2, False), (777, 100, 2, True), (50, 4096, 1, False)],
)
def test_chunked_summary_equals_the_whole_forward_pass(T, chunk, layers, reverse):
    weights, x, labels = case(T, 5, 16, layers)
    whole = forward(weights, x, reverse=reverse)
    summaries = summarise(weights, lambda a, b: x[a:b], T, labels, reverse=reverse, chunk=chunk)
    assert len(summaries) == layers
    for tr, sm in zip(whole, summaries, strict=True):
        want = direct(tr, labels)
        assert sm.steps == T and sm.direction == ("backward" if reverse else "forward")
        for g in ("f", "i", "o"):
            np.testing.assert_array_equal(sm.fraction("left", g), want[f"{g} left"])
            np.testing.assert_array_equal(sm.fraction("right", g), want[f"{g} right"])
        assert any(want[f"{g} right"].any() for g in ("f", "i", "o"))  # the case does saturate
        for s in ("c", "h"):
            np.testing.assert_allclose(sm.mean(s), want[f"{s} mean"], rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(sm.std(s), want[f"{s} std"], rtol=1e-8, atol=1e-12)
            np.testing.assert_allclose(sm.correlation(s), want[f"{s} r"], rtol=1e-8, atol=1e-10)


def test_chunks_carry_h_and_c_not_a_fresh_start():
    """Run in chunks of 10 without carrying the state, unit 0's mean would differ: the test above
    would catch a summary that restarted each chunk from zeros."""
    weights, x, labels = case(200, 3, 4, 1)
    fresh = np.concatenate([forward(weights, x[a : a + 10])[0].c for a in range(0, 200, 10)])
    carried = summarise(weights, lambda a, b: x[a:b], 200, labels, chunk=10)[0]
    np.testing.assert_allclose(carried.mean("c"), forward(weights, x)[0].c.mean(axis=0), rtol=1e-10)
    assert not np.allclose(carried.mean("c"), fresh.mean(axis=0), rtol=1e-6)


def test_a_constant_label_or_unit_has_no_correlation():
    weights, x, _ = case(100, 3, 4, 1)
    labels = np.stack([np.ones(100), np.arange(100.0)], axis=1)
    r = summarise(weights, lambda a, b: x[a:b], 100, labels, chunk=33)[0].correlation("c")
    assert np.isnan(r[0]).all() and np.isfinite(r[1]).all()


def test_a_bidirectional_lstm_is_refused():
    weights = init_weights(3, 4, 2, seed=0)
    weights |= {f"{k}_reverse": v for k, v in init_weights(3, 4, 2, seed=1).items()}
    weights["weight_ih_l1"] = weights["weight_ih_l1_reverse"] = np.zeros((16, 8))  # reads 2 × H
    with pytest.raises(ValueError, match="bidirectional LSTM reads the whole sequence both ways"):
        summarise(weights, lambda a, b: np.zeros((b - a, 3)), 10, np.zeros((10, 0)))
