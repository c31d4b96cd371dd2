"""The page's colour rules, in Python: the stops of static/spec.json, interpolated into 256-entry
tables and indexed as static/heatmap.js does (same operations, same rounding, same ranges), so an
image drawn on the server has the page's colours exactly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.service.spec import COLOURS
from app.service.spec import PANELS as SPEC_PANELS

VIRIDIS = COLOURS["sequential"]  # static/spec.json's colour stops, which the page reads too
BLUE_RED = COLOURS["diverging"]


@dataclass(frozen=True)
class PanelSpec:
    key: str
    name: str
    scale: str  # "sequential" or "diverging"
    range: tuple[float, float] | None  # None: symmetric, ±max(|c| of the layer, 1)
    legend: tuple[str, ...] | None  # None: the range's numbers


def _panel(p: dict[str, Any]) -> PanelSpec:
    """A panel of static/spec.json, with ASCII '-' for '−' (the preview's font lacks it)."""
    rng = None if p["range"] == "symmetric" else (float(p["range"][0]), float(p["range"][1]))
    legend = None if p["legend"] is None else tuple(w.replace("−", "-") for w in p["legend"])
    return PanelSpec(p["key"], p["name"], p["scale"], rng, legend)


PANELS = tuple(_panel(p) for p in SPEC_PANELS)  # in the page's order

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
