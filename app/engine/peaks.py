"""Where each unit is most active over a long sequence, found chunk by chunk: per unit, the K steps
whose |h| is largest among the peaks, and the unit's h over ±RADIUS steps around each.

A peak is a step whose |h| is larger than every step's within 2 · RADIUS before it and at least
that of every step within 2 · RADIUS after it (the first of equal values wins). Two peaks are so
more than 2 · RADIUS apart, and their windows never overlap: three peaks are three passages, not
one passage found three times. Deciding whether a step is a peak needs 2 · RADIUS steps after it,
so the rows are decided that far behind the ones fed; only those rows and 2 · RADIUS before them
are kept (memory bounded by the chunk, never the whole sequence).
"""

from __future__ import annotations

import numpy as np

K = 3  # passages per unit
RADIUS = 40  # steps either side of a peak in its window


def sliding_max(x: np.ndarray, width: int) -> np.ndarray:
    """out[j] = max(x[j : j + width]) along axis 0, by doubling spans: log2(width) maxima."""
    out, span = x, 1
    while span * 2 <= width:
        out = np.maximum(out[:-span], out[span:])
        span *= 2
    rest = width - span  # < span: two spans of `span` starting rest apart cover `width`
    if rest:
        out = np.maximum(out[: len(out) - rest], out[rest:])
    return out


class Peaks:
    """The top-K peaks of |h| per unit over the rows fed so far, in reading order."""

    def __init__(self, hidden_size: int, k: int = K, radius: int = RADIUS) -> None:
        if k < 1 or radius < 1:
            raise ValueError(f"k {k} and radius {radius} must be ≥ 1")
        self.k, self.radius, self.gap = k, radius, 2 * radius
        H = hidden_size
        self.value = np.full((k, H), -np.inf)  # |h| at each unit's best peaks, largest first
        self.at = np.full((k, H), -1, dtype=np.int64)  # their reading positions (−1: none)
        self.windows = np.full((k, H, 2 * radius + 1), np.nan)  # h around them; NaN off the sequence
        self.buf = np.zeros((0, H))  # the rows kept: from `start`, and `decided` rows judged
        self.start = 0
        self.decided = 0

    def feed(self, h: np.ndarray) -> None:
        """The next rows (n, H) of h, in the order they were read."""
        self.buf = np.concatenate([self.buf, np.asarray(h, dtype=np.float64)])
        self._decide(final=False)

    def finish(self) -> None:
        """The sequence has ended: judge its last rows too (nothing follows them)."""
        self._decide(final=True)

    def _decide(self, final: bool) -> None:
        buf, gap, r = self.buf, self.gap, self.radius
        end = self.start + len(buf)
        upto = end if final else end - gap
        if upto <= self.decided:
            return
        n, H = buf.shape
        # |h| with `gap` rows either side that count as −1, below any |h|: they are off the sequence
        # (before `start` only when start is 0; otherwise `buf` holds the gap rows the first
        # undecided one needs).
        padded_abs = np.full((n + 2 * gap, H), -1.0)
        a = np.abs(buf, out=padded_abs[gap : gap + n])
        most = sliding_max(padded_abs, gap)  # most[j] = max a[j − gap : j]
        lo, hi = self.decided - self.start, upto - self.start  # the rows judged now, in `buf`
        x = a[lo:hi]
        peak = (x > most[lo:hi]) & (x >= most[lo + gap + 1 : hi + gap + 1])
        # Each unit's best k peaks here. Peaks are more than `gap` apart, so there are few of them:
        # sorted as a list (unit, then |h| down, then step), not as the whole (n, H) array.
        pr, pu = np.nonzero(peak)
        pv = x[pr, pu]
        order = np.lexsort((pr, -pv, pu))
        pr, pu, pv = pr[order], pu[order], pv[order]
        first = np.searchsorted(pu, pu)  # where each unit's run of peaks begins
        rank = np.arange(len(pu)) - first
        keep = rank < self.k
        cand_value = np.full((self.k, H), -np.inf)
        cand_row = np.zeros((self.k, H), dtype=np.int64)
        cand_value[rank[keep], pu[keep]] = pv[keep]
        cand_row[rank[keep], pu[keep]] = lo + pr[keep]
        cand_at = np.where(np.isfinite(cand_value), cand_row + self.start, -1)
        # their windows: h at rows t − r … t + r, NaN off the sequence (only ever at its ends)
        idx = cand_row[:, :, None] + np.arange(-r, r + 1)  # (k, H, 2r+1) rows of `buf`
        inside = (idx >= 0) & (idx < n)
        cand_windows = np.where(inside, buf[np.clip(idx, 0, n - 1), np.arange(H)[None, :, None]], np.nan)
        # merged with the best so far: by |h| down, then by position (the earlier first)
        value = np.concatenate([self.value, cand_value])
        at = np.concatenate([self.at, cand_at])
        windows = np.concatenate([self.windows, cand_windows])
        order = np.lexsort((np.where(at < 0, np.iinfo(np.int64).max, at), -value), axis=0)[: self.k]
        self.value = np.take_along_axis(value, order, axis=0)
        self.at = np.take_along_axis(at, order, axis=0)
        self.windows = np.take_along_axis(windows, order[:, :, None], axis=0)
        self.decided = upto
        keep_from = max(0, upto - gap)
        self.buf = buf[keep_from - self.start :]
        self.start = keep_from
