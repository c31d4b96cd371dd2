"""app.engine.peaks through app.engine.summary: each unit's top peaks of |h|, found chunk by chunk,
equal those found by plain Python over lstm.forward's whole trace; and only a bounded tail of
rows is ever held."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine.lstm import forward, init_weights
from app.engine.peaks import RADIUS, K, Peaks, sliding_max
from app.engine.summary import summarise


def direct_peaks(h: np.ndarray, k: int = K, r: int = RADIUS) -> tuple[np.ndarray, np.ndarray]:
    """The definition, step by step over the whole (T, H) array: a peak's |h| beats every step's
    within 2r before it and is at least every step's within 2r after; the k largest, then earliest."""
    T, H = h.shape
    at = np.full((k, H), -1)
    windows = np.full((k, H, 2 * r + 1), np.nan)
    for u in range(H):
        a = np.abs(h[:, u])
        found = [
            t
            for t in range(T)
            if a[t] > max(a[max(0, t - 2 * r) : t], default=-1.0)
            and a[t] >= max(a[t + 1 : t + 2 * r + 1], default=-1.0)
        ]
        found.sort(key=lambda t: (-a[t], t))
        for j, t in enumerate(found[:k]):
            at[j, u] = t
            for o in range(-r, r + 1):
                if 0 <= t + o < T:
                    windows[j, u, o + r] = h[t + o, u]
    return at, windows


@pytest.mark.parametrize(
    ("T", "chunk", "layers", "reverse"),
    [
        (1000, 128, 1, False),
        (1000, 37, 2, False),
        (777, 100, 2, True),
        (50, 4096, 1, False),
        (300, 81, 1, True),
    ],
)
def test_chunked_peaks_equal_those_of_the_whole_trace(T, chunk, layers, reverse):
    rng = np.random.default_rng(1)
    weights = {k: 2.0 * v for k, v in init_weights(5, 12, layers, seed=1).items()}
    x = rng.normal(size=(T, 5))
    whole = forward(weights, x, reverse=reverse)
    summaries = summarise(weights, lambda a, b: x[a:b], T, np.zeros((T, 1)), reverse=reverse, chunk=chunk)
    for tr, sm in zip(whole, summaries, strict=True):
        h = tr.h[::-1] if reverse else tr.h  # the definition's "before" is in reading order
        want_at, want_windows = direct_peaks(h)
        if reverse:
            want_at = np.where(want_at < 0, -1, T - 1 - want_at)
            want_windows = want_windows[:, :, ::-1]
        at, windows = sm.passages()
        np.testing.assert_array_equal(at, want_at)
        np.testing.assert_allclose(windows, want_windows, rtol=0, atol=1e-12)  # NaN where NaN
        found = at >= 0
        assert found[0].all()  # every unit has a largest peak
        # it is |h|'s largest over the whole run, at the window's middle
        np.testing.assert_array_equal(np.abs(tr.h[at[0], np.arange(12)]), np.abs(tr.h).max(axis=0))
        # (chunks of other lengths may round a product in another order: BLAS picks its kernel by size)
        middle = tr.h[at[found], np.nonzero(found)[1]]
        np.testing.assert_allclose(windows[:, :, RADIUS][found], middle, rtol=0, atol=1e-12)
        # and a unit's peaks are more than 2 · RADIUS apart: their windows never overlap
        for u in range(12):
            steps = sorted(at[found[:, u], u])
            assert all(b - a > 2 * RADIUS for a, b in zip(steps, steps[1:], strict=False))


def test_a_plateau_is_one_peak_at_its_first_step_and_the_tail_kept_is_bounded():
    p = Peaks(2, k=3, radius=2)
    h = np.zeros((30, 2))
    h[10:20, 0] = -0.5  # a plateau of |h| from 10 to 19
    h[25, 1] = 0.9
    for start in range(0, 30, 7):
        p.feed(h[start : start + 7])
        assert len(p.buf) <= 7 + 2 * p.gap  # never the whole sequence
    p.finish()
    assert p.at[:, 0].tolist() == [10, 0, -1]  # step 0 too: nothing before it, nothing larger within 4
    assert p.windows[0, 0].tolist() == [0.0, 0.0, -0.5, -0.5, -0.5]
    assert p.at[0, 1] == 25 and p.value[0, 1] == 0.9
    np.testing.assert_array_equal(p.windows[1, 0], [np.nan, np.nan, 0.0, 0.0, 0.0])


@pytest.mark.parametrize("width", [1, 2, 3, 7, 8, 80, 81])
def test_sliding_max_is_the_windows_max(width):
    x = np.random.default_rng(width).normal(size=(100, 3))
    want = np.stack([x[j : j + width].max(axis=0) for j in range(100 - width + 1)])
    np.testing.assert_array_equal(sliding_max(x, width), want)
