"""Interventions ("what if?") on an LSTM's gates, checked, and laid out as one layer's plan.

An `Intervention` either shifts a gate's pre-activation z by `bias_add` (f with bias_add 1 is the
forget bias of Jozefowicz et al., 2015) or replaces the gate's output, after its activation, by
`value` (f ≡ 1 is the 1997 LSTM without a forget gate, f ≡ 0 a cell without memory), at one step
t, one unit, one layer, or all of them. The LSTM (app.engine.lstm) recomputes everything
downstream (c, h, later steps, later layers) from the changed values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.engine.weights import GATES, Shape


class InterventionError(ValueError):
    """An intervention that cannot apply: `index` in the list, the `field` at fault (or None), `reason`."""

    def __init__(self, index: int, field: str | None, reason: str):
        super().__init__(f"intervention {index}: {reason}")
        self.index = index
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Intervention:
    """A "what if?" on one gate: exactly one of `value` (replaces the gate's output after its
    activation: a clamp) and `bias_add` (added to its pre-activation z). `t`, `unit` and `layer`
    are 0-based; None means every step, every unit, every layer. The engine takes any finite value
    (f = 1.1 makes the cell grow exponentially); the API keeps values within the gate's range."""

    gate: str  # "i", "f", "g" or "o"
    value: float | None = None
    bias_add: float | None = None
    t: int | None = None
    unit: int | None = None
    layer: int | None = None


def check_interventions(interventions: Sequence[Intervention], steps: int, shape: Shape) -> None:
    """Refuse, with an InterventionError that says which and why, any intervention that cannot
    apply to `steps` steps of an LSTM of this shape."""
    ranges = {
        "t": (steps, f"the sequence has {steps} step(s)"),
        "unit": (shape.hidden_size, f"the model has {shape.hidden_size} hidden unit(s)"),
        "layer": (shape.entries, _entries(shape)),
    }
    for n, iv in enumerate(interventions):
        if not isinstance(iv, Intervention):
            raise InterventionError(n, None, f"{iv!r} is not an Intervention")
        if iv.gate not in GATES:
            raise InterventionError(n, "gate", f"gate {iv.gate!r}; expected one of {', '.join(GATES)}")
        if (iv.value is None) == (iv.bias_add is None):
            raise InterventionError(
                n,
                None,
                "give exactly one of value (replaces the gate's output) and bias_add "
                "(shifts its pre-activation)",
            )
        for name in ("value", "bias_add"):
            v = getattr(iv, name)
            real = isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
            if v is not None and not (real and math.isfinite(v)):
                raise InterventionError(n, name, f"{name} = {v!r} is not a finite number")
        for name, (size, why) in ranges.items():
            v = getattr(iv, name)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, int | np.integer):
                raise InterventionError(n, name, f"{name} = {v!r} is not an integer")
            if not 0 <= v < size:
                raise InterventionError(
                    n, name, f"{name} = {v} is out of range: {why}, so {name} runs from 0 to {size - 1}"
                )


def _entries(shape: Shape) -> str:
    if shape.directions == 1:
        return f"the model has {shape.layers} layer(s)"
    return (
        f"the model has {shape.layers} bidirectional layer(s), {shape.entries} entries (each layer "
        "forward, then backward)"
    )


@dataclass(frozen=True)
class Plan:
    """One layer's interventions over T steps, as (T, H) arrays keyed by gate (in GATES order,
    holding only the gates concerned), with list order already applied: shifts of the same cell
    add up, and where two clamps set the same cell the later one's value is kept."""

    shifts: dict[str, np.ndarray]  # gate -> (T, H) summed bias_add; gates summing to 0 left out
    clamps: dict[str, np.ndarray]  # gate -> (T, H) bool: a value replaces the gate's output
    values: dict[str, np.ndarray]  # gate -> (T, H) that value, where clamps is True

    def clamped_steps(self) -> list[int]:
        """The steps at which some gate is clamped, in order."""
        if not self.clamps:
            return []
        return np.flatnonzero(np.any([c.any(axis=1) for c in self.clamps.values()], axis=0)).tolist()


def plan(interventions: Sequence[Intervention], T: int, H: int) -> Plan:
    """The plan of one layer's (already checked) interventions for T steps of H units."""
    shifts: dict[str, np.ndarray] = {}
    clamps: dict[str, np.ndarray] = {}
    values: dict[str, np.ndarray] = {}
    for iv in interventions:
        cells = (slice(None) if iv.t is None else iv.t, slice(None) if iv.unit is None else iv.unit)
        if iv.bias_add is not None:
            if iv.gate not in shifts:
                shifts[iv.gate] = np.zeros((T, H))
            shifts[iv.gate][cells] += iv.bias_add
        else:
            if iv.gate not in clamps:
                clamps[iv.gate], values[iv.gate] = np.zeros((T, H), dtype=bool), np.zeros((T, H))
            clamps[iv.gate][cells] = True
            values[iv.gate][cells] = iv.value
    return Plan(
        shifts={g: shifts[g] for g in GATES if g in shifts and shifts[g].any()},
        clamps={g: clamps[g] for g in GATES if g in clamps},
        values={g: values[g] for g in GATES if g in values},
    )
