"""The passages where each unit is most active, cut from the text: the engine's peaks of |h|
(app.engine.peaks) become each a window of characters around the peak, trimmed to whole lines,
with the unit's h over it rounded to 3 digits (an answer of 128 units × 3 passages stays small)."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.engine import peaks
from app.engine.summary import Summary

DIGITS = 3


def passages(sm: Summary, text: str) -> list[dict[str, Any]]:
    """Per unit, its passages, the largest |h| first: `text[start:end]`, the peak's step, h there."""
    at, windows = sm.passages()
    r = peaks.RADIUS
    out = []
    for u in range(sm.hidden_size):
        found = []
        for j in range(at.shape[0]):
            t = int(at[j, u])
            if t < 0:
                continue
            start, end = cut(text, t, r)
            values = windows[j, u, start - (t - r) : end - (t - r)]
            found.append({"start": start, "end": end, "peak": t, "values": np.round(values, DIGITS).tolist()})
        out.append({"unit": u, "array": "h", "windows": found})
    return out


def cut(text: str, t: int, r: int) -> tuple[int, int]:
    """The window [t − r, t + r] within the text, less the partial lines at its ends: it starts after
    the first line break before t and ends before the last one after t (code reads by lines)."""
    start, end = max(0, t - r), min(len(text), t + r + 1)
    before = text.find("\n", start, t)
    if before >= 0:
        start = before + 1
    after = text.rfind("\n", t + 1, end)
    if after >= 0:
        end = after
    return start, end
