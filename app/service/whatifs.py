"""The page's encoding of what-ifs in its URL (the keys x and x2, written by
static/interventions.js): "f1" (f ≡ 1), "f0", "fb1" (f's bias + 1), "f0.2t5u3l0" (f = 0.2 at step
5, unit 3, layer 0), several joined by "_"; read here into the interventions POST /api/run takes,
refused with the same words as the page refuses them. The grammar, the gates' ranges and the
bounds are static/spec.json's "whatifs", which the page reads too."""

from __future__ import annotations

from app.refusal import Invalid
from app.service.requests import InterventionIn
from app.service.spec import (
    GATE_NAMES,
    GATE_RANGES,
    MAX_BIAS_ADD,
    WHAT_IF,
    WHAT_IF_GRAMMAR,
    WHAT_IF_JOIN,
    WHAT_IF_MAX,
)


def parse_interventions(text: str | None) -> list[InterventionIn]:
    """ "f1_fb1" -> the interventions POST /api/run takes; "" or None -> []. Refuses what the page
    would refuse, with a 422 that names the key x."""
    if not text:
        return []
    items = text.split(WHAT_IF_JOIN)
    if len(items) > WHAT_IF_MAX:
        raise Invalid(f"x: {len(items)} what-ifs; at most {WHAT_IF_MAX}", ["x"])
    out = []
    for n, item in enumerate(items):
        m = WHAT_IF.fullmatch(item)
        if m is None:
            raise Invalid(f'x: what-if {n + 1}, "{item}", cannot be read: {WHAT_IF_GRAMMAR}', ["x"])
        gate, bias, number, t, unit, layer = m.groups()
        v = float(number)
        if bias:
            if not abs(v) <= MAX_BIAS_ADD:
                raise Invalid(
                    f'x: "{item}": a shift of the pre-activation lies within '
                    f"±{MAX_BIAS_ADD:g}; {number} is outside it",
                    ["x"],
                )
        else:
            low, high = GATE_RANGES[gate]
            if not low <= v <= high:
                raise Invalid(
                    f'x: "{item}": the {GATE_NAMES[gate]} takes values in '
                    f"[{low:g}, {high:g}]; {number} is outside it",
                    ["x"],
                )
        out.append(
            InterventionIn(
                gate=gate,
                value=None if bias else v,
                bias_add=v if bias else None,
                t=None if t is None else int(t),
                unit=None if unit is None else int(unit),
                layer=None if layer is None else int(layer),
            )
        )
    return out
