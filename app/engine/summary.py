"""A long sequence summarised per layer and unit without holding its T × H arrays: the LSTM run
over it in chunks (h and c carried from one chunk to the next), each chunk's trace folded into
running statistics and then dropped.

Per layer and unit: how often f, i and o are below 0.1 ("left-saturated") and above 0.9
("right-saturated"), as in Karpathy, Johnson and Fei-Fei (2015), Figure 3; the mean and standard
deviation of c and h; and the sums Pearson's r of c and h with each label series needs (Σx, Σx²,
Σy, Σy², Σxy), all in float64; and where each unit's h is largest (app.engine.peaks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from app.engine.lstm import forward
from app.engine.peaks import Peaks
from app.engine.trace import LayerTrace
from app.engine.weights import shape_of

CHUNK = 4096  # steps per forward call: 4096 × H = 128 × 8 bytes = 4 MB per recorded array
LEFT, RIGHT = 0.1, 0.9
SATURATING = ("f", "i", "o")
STATES = ("c", "h")


@dataclass
class Summary:
    """One layer's (and direction's) statistics over `steps` steps, against L label series."""

    direction: str
    hidden_size: int
    labels: int
    steps: int = 0
    # counts of steps below LEFT / above RIGHT, per gate: (H,) integers
    left: dict[str, np.ndarray] = field(default_factory=dict)
    right: dict[str, np.ndarray] = field(default_factory=dict)
    # per state c, h: Σx, Σx² (H,); Σxy (L, H); and per label Σy, Σy² (L,)
    sx: dict[str, np.ndarray] = field(default_factory=dict)
    sxx: dict[str, np.ndarray] = field(default_factory=dict)
    sxy: dict[str, np.ndarray] = field(default_factory=dict)
    sy: np.ndarray = field(default_factory=lambda: np.zeros(0))
    syy: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # the steps where each unit's |h| peaks, fed in reading order (backwards when reversed)
    peaks: Peaks = field(init=False)

    def __post_init__(self) -> None:
        H, L = self.hidden_size, self.labels
        self.peaks = Peaks(H)
        for g in SATURATING:
            self.left[g] = np.zeros(H, dtype=np.int64)
            self.right[g] = np.zeros(H, dtype=np.int64)
        for s in STATES:
            self.sx[s], self.sxx[s], self.sxy[s] = np.zeros(H), np.zeros(H), np.zeros((L, H))
        self.sy, self.syy = np.zeros(L), np.zeros(L)

    def add(self, tr: LayerTrace, y: np.ndarray) -> None:
        """Fold in one chunk's trace (n, H) with its rows of the label series y (n, L)."""
        self.steps += tr.c.shape[0]
        for g in SATURATING:
            a = getattr(tr, g)
            self.left[g] += np.count_nonzero(a < LEFT, axis=0)
            self.right[g] += np.count_nonzero(a > RIGHT, axis=0)
        for s in STATES:
            x = getattr(tr, s)
            self.sx[s] += x.sum(axis=0)
            self.sxx[s] += np.einsum("th,th->h", x, x)
            self.sxy[s] += y.T @ x
        self.sy += y.sum(axis=0)
        self.syy += np.einsum("tl,tl->l", y, y)
        self.peaks.feed(tr.h[::-1] if self.direction == "backward" else tr.h)

    def passages(self) -> tuple[np.ndarray, np.ndarray]:
        """After the last chunk: each unit's peaks of |h|, the largest first, as steps (K, H) (−1
        where a unit has fewer than K) and h around them (K, H, 2·RADIUS + 1), in time order, NaN
        off the sequence."""
        at, windows = self.peaks.at, self.peaks.windows
        if self.direction == "backward":  # read last to first: positions and windows turned back
            at = np.where(at < 0, -1, self.steps - 1 - at)
            windows = windows[:, :, ::-1]
        return at, windows

    def fraction(self, side: str, gate: str) -> np.ndarray:
        """The share of steps where `gate` is left- (below 0.1) or right-saturated (above 0.9), (H,)."""
        counts = (self.left if side == "left" else self.right)[gate]
        return counts / self.steps

    def mean(self, state: str) -> np.ndarray:
        return self.sx[state] / self.steps

    def std(self, state: str) -> np.ndarray:
        """The population standard deviation (ddof 0), (H,)."""
        m = self.mean(state)
        return np.sqrt(np.maximum(self.sxx[state] / self.steps - m * m, 0.0))

    def correlation(self, state: str) -> np.ndarray:
        """Pearson's r of each label series with each unit's `state`, (L, H): NaN where either is
        constant over the sequence (r is undefined there)."""
        n = self.steps
        cov = n * self.sxy[state] - np.outer(self.sy, self.sx[state])
        var_x = n * self.sxx[state] - self.sx[state] ** 2
        var_y = n * self.syy - self.sy**2
        # A constant series leaves only rounding in its variance: below this it counts as zero.
        tiny_x = 1e-12 * n * np.maximum(self.sxx[state], 1e-300)
        tiny_y = 1e-12 * n * np.maximum(self.syy, 1e-300)
        denom = np.sqrt(
            np.outer(np.where(var_y > tiny_y, var_y, np.nan), np.where(var_x > tiny_x, var_x, np.nan))
        )
        return np.clip(cov / denom, -1.0, 1.0)


def summarise(
    weights: Mapping[str, np.ndarray],
    inputs: Callable[[int, int], np.ndarray],
    steps: int,
    labels: np.ndarray,
    gate_activation: str = "sigmoid",
    reverse: bool = False,
    chunk: int = CHUNK,
) -> list[Summary]:
    """Run the LSTM over `steps` steps, `inputs(start, stop)` giving the rows start..stop-1 of its
    input (n, I), `chunk` steps at a time, and summarise every layer against `labels` (T, L).

    A one-directional LSTM (or one read backwards, `reverse`) carries h and c across chunks, so
    the summary is that of one forward pass over the whole sequence (chunks run from the last to
    the first when reversed). A bidirectional one cannot: layer k > 0 reads both directions of
    layer k − 1 at every step, which needs the whole sequence's h at once (ValueError).
    """
    shape = shape_of(weights)
    if shape.directions == 2:
        raise ValueError("a bidirectional LSTM reads the whole sequence both ways: it cannot run in chunks")
    if steps < 1 or chunk < 1:
        raise ValueError(f"steps {steps} and chunk {chunk} must be ≥ 1")
    y = np.asarray(labels, dtype=np.float64)
    if y.ndim != 2 or y.shape[0] != steps:
        raise ValueError(f"labels have shape {y.shape}; expected ({steps}, L)")
    H = shape.hidden_size
    direction = "backward" if reverse else "forward"
    summaries = [Summary(direction, H, y.shape[1]) for _ in range(shape.layers)]
    h = np.zeros((shape.layers, H))
    c = np.zeros((shape.layers, H))
    starts = range(0, steps, chunk)
    for start in reversed(starts) if reverse else starts:
        stop = min(start + chunk, steps)
        traces = forward(weights, inputs(start, stop), h, c, gate_activation, reverse=reverse)
        last = 0 if reverse else -1  # the row read last: a backward layer ends at the chunk's first step
        for k, tr in enumerate(traces):
            summaries[k].add(tr, y[start:stop])
            h[k], c[k] = tr.h[last], tr.c[last]
    for sm in summaries:
        sm.peaks.finish()
    return summaries
