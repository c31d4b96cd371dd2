"""Finds hidden units that mean something: the correlation of each unit's c and h with a
labelled property of the input, over held-out sequences."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.train.bptt import logits


@dataclass(frozen=True)
class Unit:
    layer: int
    unit: int
    state: str  # "c" or "h"
    property: str
    correlation: float


def correlations(states: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Pearson correlation of every unit (last axis of states (N, H)) with labels (N,)."""
    s = states - states.mean(axis=0)
    y = labels.astype(np.float64) - labels.mean()
    denom = np.sqrt((s * s).sum(axis=0) * (y * y).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num((s * y[:, None]).sum(axis=0) / denom)


def find_units(
    params: dict[str, np.ndarray],
    x: np.ndarray,
    properties: dict[str, np.ndarray],
    keep: np.ndarray,
    top: int = 3,
) -> list[Unit]:
    """For each property (labels (T, B)), the `top` units whose c or h follows it most closely
    over the kept steps, strongest first; a unit appears once per property, with its stronger state."""
    traces, _ = logits(params, x)
    found = []
    for name, labels in properties.items():
        best: dict[tuple[int, int], Unit] = {}
        for layer, tr in enumerate(traces):
            for state in ("c", "h"):
                r = correlations(getattr(tr, state)[keep], labels[keep])
                for unit, value in enumerate(r):
                    candidate = Unit(layer, unit, state, name, round(float(value), 4))
                    held = best.get((layer, unit))
                    if held is None or abs(candidate.correlation) > abs(held.correlation):
                        best[(layer, unit)] = candidate
        found += sorted(best.values(), key=lambda u: -abs(u.correlation))[:top]
    return sorted(found, key=lambda u: -abs(u.correlation))
