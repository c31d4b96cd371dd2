"""Quantities that explain a run, derived from a layer's trace: what each step kept and wrote in
the cell, how much of a step's cell state survives later steps, and the gate activation's curve.
NumPy only; the views ask for them through POST /api/run's `include`, so the page holds no LSTM
math of its own."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.engine.lstm import LayerTrace

FADED = 1 / np.e  # a memory counts as gone once less than this share of it survives


def cell_update(tr: LayerTrace) -> tuple[np.ndarray, np.ndarray]:
    """(kept, written), each (T, H): c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t, term by term."""
    c_prev = tr.previous(tr.c, tr.c0)
    return tr.f * c_prev, tr.i * tr.g


@dataclass(frozen=True)
class Retention:
    start: int
    survives: np.ndarray  # (T, H): ∏_{k=start+1..t} f_k for t ≥ start (1 at start), NaN before it;
    # a backward trace's later steps are the earlier ones: ∏_{k=t..start−1} f_k for t ≤ start
    span: list[int | None]  # per unit: steps after start until survives < 1/e; None: not within the run


def retention(tr: LayerTrace, start: int) -> Retention:
    """How much of c_start is still in the cell at each later step, if nothing were written: the
    product of the forget gates since (in the order the layer read the steps). Raises ValueError
    for a start outside the run."""
    T, H = tr.f.shape
    if not 0 <= start < T:
        raise ValueError(f"start step {start} is outside the run's steps 0…{T - 1}")
    backward = tr.direction == "backward"
    f, first = (tr.f[::-1], T - 1 - start) if backward else (tr.f, start)  # in reading order
    survives = np.full((T, H), np.nan)
    survives[first] = 1.0
    survives[first + 1 :] = np.cumprod(f[first + 1 :], axis=0)
    faded = survives[first:] < FADED  # NaN-free from start on
    span = [int(np.argmax(faded[:, u])) if faded[:, u].any() else None for u in range(H)]
    return Retention(start, survives[::-1].copy() if backward else survives, span)


def gate_curve(
    gate_activation: str, lo: float = -8.0, hi: float = 8.0, points: int = 161
) -> dict[str, list[float]]:
    """The activation of i, f and o as points (z, y), for drawing the curve the gates sit on."""
    z = np.linspace(lo, hi, points)
    if gate_activation == "sigmoid":
        y = 1 / (1 + np.exp(-z))
    elif gate_activation == "hard_sigmoid":
        y = np.clip(0.2 * z + 0.5, 0.0, 1.0)
    elif gate_activation == "hard_sigmoid_keras3":
        y = np.clip(z + 3.0, 0.0, 6.0) / 6.0  # relu6(z + 3)/6, as Keras 3 writes it
    else:
        raise ValueError(f"gate activation {gate_activation!r}")
    return {"z": z.tolist(), "y": y.tolist()}
