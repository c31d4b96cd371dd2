"""The gate values that matter for a task, as a training goes: for each unit, a gate's mean over
the steps of a condition (for reset-count, f at '.' and f at a letter), over a fixed probe batch
of held-out sequences. Timelines of these show the moment a forget gate learns to close."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from app.engine.lstm import forward
from app.train.bptt import lstm_part
from app.train.loop import HELD_OUT_SEED_OFFSET
from app.train.tasks import Task

Conditions = Callable[[np.ndarray], dict[str, np.ndarray]]  # tokens (T, B) -> named masks (T, B)
PROBE_SEQUENCES = 16
PROBE_SEED_OFFSET = 3 * HELD_OUT_SEED_OFFSET  # neither training's batches nor the held-out ones


def _steps(tokens: np.ndarray) -> np.ndarray:
    return np.broadcast_to(np.arange(len(tokens))[:, None], tokens.shape)


@dataclass(frozen=True)
class Watch:
    gates: tuple[str, ...]  # the gates that matter, the first the one a unit is chosen by
    conditions: Conditions  # two or more kinds of step the gates should tell apart


WATCHES: dict[str, Watch] = {
    "reset-count": Watch(("f", "i"), lambda tok: {"at '.'": tok == 2, "at a letter": tok != 2}),
    "bracket-depth": Watch(("f", "i"), lambda tok: {"at '('": tok == 0, "at ')'": tok == 1}),
    "recall": Watch(
        ("f", "i"), lambda tok: {"at the first step": _steps(tok) == 0, "after it": _steps(tok) > 0}
    ),
    "parity": Watch(("f", "i"), lambda tok: {"at 1": tok == 1, "at 0": tok == 0}),
}


def text_watch(vocab: str) -> Watch:
    """A pasted text's: f at a space or line break, and inside a word."""
    breaks = [k for k, ch in enumerate(vocab) if ch.isspace()]

    def conditions(tok: np.ndarray) -> dict[str, np.ndarray]:
        at = np.isin(tok, breaks)
        return {"at a space or line break": at, "inside a word": ~at}

    return Watch(("f", "i"), conditions)


def watch_of(task: Task) -> Watch:
    return WATCHES.get(task.name) or text_watch(task.vocab)


class Probe:
    """A task's fixed probe batch, drawn once per seed, and what the gates do on it."""

    def __init__(self, task: Task, seed: int):
        rng = np.random.default_rng(seed + PROBE_SEED_OFFSET)
        tokens, _, _ = (task.held_out or task.draw)(rng, PROBE_SEQUENCES, task.length)
        self.x = task.one_hot(tokens)
        self.watch = watch_of(task)
        self.masks = self.watch.conditions(tokens)

    def measure(self, params: Mapping[str, np.ndarray]) -> dict[str, object]:
        """{"gates": {gate: {condition: [H means]}}, "unit": the unit whose first gate differs most
        between the first two conditions} for the first layer (NaN-free: an empty condition's
        mean is left out)."""
        trace = forward(lstm_part(params), self.x)[0]
        gates: dict[str, dict[str, list[float]]] = {}
        for gate in self.watch.gates:
            values = getattr(trace, gate)  # (T, B, H)
            gates[gate] = {
                name: [round(float(v), 6) for v in values[mask].mean(axis=0)]
                for name, mask in self.masks.items()
                if mask.any()
            }
        first = list(gates[self.watch.gates[0]].values())
        unit = int(np.argmax(np.abs(np.subtract(first[0], first[1])))) if len(first) >= 2 else 0
        return {"gates": gates, "unit": unit}
