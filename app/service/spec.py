"""The server's reader of app/static/spec.json, the one file that holds the encodings the page and
the server share: the URL state keys, the typed-input grammar, the what-if grammar, the colour
stops and the heatmaps' panels. Read once, at import, from the package directory; the page imports
the same file as a JSON module.

The spec's regular expressions use only syntax JavaScript and Python read alike (see its "about"),
so compiling them here gives the page's grammar exactly.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

PATH = Path(__file__).resolve().parents[1] / "static" / "spec.json"
SPEC: dict[str, Any] = json.loads(PATH.read_text(encoding="utf-8"))

STATE_KEYS: list[dict[str, Any]] = SPEC["state"]["keys"]

_inputs = SPEC["inputs"]
STEPS = re.compile(_inputs["steps"])  # splits the typed text into steps
NUMBERS = re.compile(_inputs["numbers"])  # splits a step into numbers
TRIM = re.compile(_inputs["trim"])  # the spaces at either end of a step
NUMBER = re.compile(_inputs["number"])  # one number, whole

_whatifs = SPEC["whatifs"]
WHAT_IF = re.compile(_whatifs["item"])
WHAT_IF_JOIN: str = _whatifs["join"]
WHAT_IF_MAX: int = _whatifs["max"]
WHAT_IF_GRAMMAR: str = _whatifs["grammar"]
MAX_BIAS_ADD: float = float(_whatifs["maxBiasAdd"])
GATE_NAMES: dict[str, str] = {g: v["name"] for g, v in _whatifs["gates"].items()}
GATE_RANGES: dict[str, tuple[float, float]] = {
    g: (float(v["range"][0]), float(v["range"][1])) for g, v in _whatifs["gates"].items()
}

COLOURS: dict[str, tuple[str, ...]] = {
    scale: tuple(stops) for scale, stops in SPEC["colours"].items() if scale != "about"
}
PANELS: list[dict[str, Any]] = SPEC["panels"]["list"]
