"""The page's colour rules, in Python: the stops of static/config.js, interpolated into 256-entry
tables and indexed as static/heatmap.js does (same operations, same rounding, same ranges), so an
image drawn on the server has the page's colours exactly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# The page's colour stops (static/config.js VIRIDIS and BLUE_RED); tests/test_preview.py checks
# that they stay equal.
VIRIDIS = (
    "#440154",
    "#482475",
    "#414487",
    "#355f8d",
    "#2a788e",
    "#21918c",
    "#22a884",
    "#44bf70",
    "#7ad151",
    "#bddf26",
    "#fde725",
)
BLUE_RED = (
    "#053061",
    "#2166ac",
    "#4393c3",
    "#92c5de",
    "#d1e5f0",
    "#f7f7f7",
    "#fddbc7",
    "#f4a582",
    "#d6604d",
    "#b2182b",
    "#67001f",
)


@dataclass(frozen=True)
class PanelSpec:
    key: str
    name: str
    scale: str  # "sequential" or "diverging"
    range: tuple[float, float] | None  # None: symmetric, ±max(|c| of the layer, 1)
    legend: tuple[str, ...] | None  # None: the range's numbers


# static/config.js PANELS, in the page's order (with ASCII '-' for '−', which the font lacks).
PANELS = (
    PanelSpec("f", "forget gate", "sequential", (0.0, 1.0), ("0: forget", "1: keep")),
    PanelSpec("i", "input gate", "sequential", (0.0, 1.0), ("0: write nothing", "1: write g")),
    PanelSpec("g", "candidate", "diverging", (-1.0, 1.0), ("-1", "0", "+1")),
    PanelSpec("o", "output gate", "sequential", (0.0, 1.0), ("0: hide", "1: show")),
    PanelSpec("c", "cell state", "diverging", None, None),
    PanelSpec("h", "hidden state", "diverging", (-1.0, 1.0), ("-1", "0", "+1")),
)

NAN = (0, 0, 0)  # the page paints a non-finite value black (its colour lookup gives 0)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


def _js_round(x: np.ndarray) -> np.ndarray:
    """JavaScript's Math.round, exactly: the nearest integer, halves towards +∞."""
    r = np.floor(x)
    return r + (x - r >= 0.5)


def lut(stops: Sequence[str], n: int = 256) -> np.ndarray:
    """heatmap.js's lut(): n colours linearly interpolated between the stops, (n, 3) uint8."""
    rgb = np.array([_rgb(s) for s in stops], dtype=np.float64)
    x = np.arange(n) / (n - 1) * (len(stops) - 1)  # same operations in the same order as the page
    j = np.minimum(np.floor(x), len(stops) - 2).astype(np.intp)
    w = (x - j)[:, None]
    return _js_round(rgb[j] * (1 - w) + rgb[j + 1] * w).astype(np.uint8)


LUTS = {"sequential": lut(VIRIDIS), "diverging": lut(BLUE_RED)}


def colours(values: np.ndarray, lo: float, hi: float, scale: str) -> np.ndarray:
    """heatmap.js's paint() for any array of values: (..., 3) uint8, the page's colour of each."""
    v = np.asarray(values, dtype=np.float64)
    k = np.clip(_js_round((v - lo) * (255 / (hi - lo))), 0, 255)
    finite = np.isfinite(k)
    out = LUTS[scale][np.where(finite, k, 0).astype(np.intp)]
    out[~finite] = NAN
    return out


def value_range(spec: PanelSpec, c: np.ndarray) -> tuple[float, float]:
    """The ends of a panel's colour scale; the cell state's as the page computes them (colourRange)."""
    if spec.range is not None:
        return spec.range
    finite = np.isfinite(c)
    top = float(np.max(np.abs(c), where=finite, initial=0.0)) if c.size else 0.0
    cmax = max(1.0, float(np.float32(top)))  # the page reads float32 values
    return -cmax, cmax
