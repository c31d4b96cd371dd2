"""Toy tasks whose solutions need a gate to do something visible. Each draws a batch of token
sequences with a target class per step and a mask of the steps that count."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from app.engine import targets
from app.engine.targets import count_since_reset

Batch = tuple[np.ndarray, np.ndarray, np.ndarray]  # tokens (T, B) ints, targets (T, B), mask (T, B)


@dataclass(frozen=True)
class Recipe:
    """How the model Gatescope ships for a task is trained: `gatescope train TASK` uses these unless
    told otherwise. Chosen so that the gates show the mechanism, not only so that accuracy is high."""

    hidden: int = 8
    steps: int = 2000
    lr: float = 0.02
    forget_bias: float = 0.0  # added to the forget gates' bias at initialisation
    recurrent_decay: float = 0.0  # decoupled weight decay on weight_hh (see loop.train)
    schedule: str = "constant"  # of the learning rate: "constant" or "cosine"


@dataclass(frozen=True)
class Task:
    name: str
    title: str
    description: str
    hint: str  # what to look for in the heatmaps
    vocab: str
    classes: int
    length: int  # steps per training sequence
    draw: Callable[[np.random.Generator, int, int], Batch]  # (rng, batch, length) -> Batch
    # Properties of each step that a unit might track, as labels (T, B): for finding units.
    properties: Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]] = lambda tok, tgt: {}
    example: str = ""  # a sequence that shows the trained model off in the page
    recipe: Recipe = Recipe()
    # Held-out batches, where they come from elsewhere than training's (a text's last part); None:
    # from `draw` itself, with a generator of their own (app.train.loop.evaluate).
    held_out: Callable[[np.random.Generator, int, int], Batch] | None = None

    def one_hot(self, tokens: np.ndarray) -> np.ndarray:
        return np.eye(len(self.vocab))[tokens]  # (T, B, V)


def _reset_count(rng: np.random.Generator, batch: int, length: int) -> Batch:
    tokens = rng.choice(3, size=(length, batch), p=[0.45, 0.4, 0.15])  # 'a', 'b', '.'
    return tokens, targets.reset_count(tokens), np.ones_like(tokens, dtype=bool)


def _bracket_depth(rng: np.random.Generator, batch: int, length: int, deepest: int = 5) -> Batch:
    tokens = np.empty((length, batch), dtype=int)
    depth = np.zeros(batch, dtype=int)
    for t in range(length):  # drawn so that the depth stays within 0..deepest
        opening = rng.random(batch) < 0.5
        opening = np.where(depth == 0, True, np.where(depth == deepest, False, opening))
        tokens[t] = np.where(opening, 0, 1)  # '(' or ')'
        depth = depth + np.where(opening, 1, -1)
    return tokens, targets.bracket_depth(tokens), np.ones_like(tokens, dtype=bool)


def _recall(rng: np.random.Generator, batch: int, length: int) -> Batch:
    tokens = np.full((length, batch), 4)  # '-' filler
    first = rng.integers(0, 4, size=batch)  # 'a'..'d'
    tokens[0] = first
    truth = targets.recall(tokens)
    mask = truth != targets.NONE  # step 0 shows the answer; every later step must recall it
    return tokens, np.where(mask, truth, first), mask


def _parity(rng: np.random.Generator, batch: int, length: int) -> Batch:
    tokens = rng.integers(0, 2, size=(length, batch))
    return tokens, targets.parity(tokens), np.ones_like(tokens, dtype=bool)


TASKS = {
    task.name: task
    for task in (
        Task(
            "reset-count",
            "Count with reset",
            "Reads a, b and '.'; at every step, predicts how many a's came since the last '.' "
            "(5 stands for 5 or more). The forget gate has to learn to close at '.'.",
            "Watch the forget gate go dark at each '.' while one cell climbs with every a.",
            "ab.",
            6,
            40,
            _reset_count,
            lambda tok, tgt: {
                "a's since the last '.'": count_since_reset(tok),
                "the answer (a's since '.', at most 5)": tgt,
            },
            "abaab.baaa.ab.aaaab",
            Recipe(hidden=8, steps=4000, forget_bias=1.0, recurrent_decay=10.0, schedule="cosine"),
        ),
        Task(
            "bracket-depth",
            "Bracket depth (Dyck-1)",
            "Reads '(' and ')'; at every step, predicts how deeply nested it is (0 to 5). "
            "A cell has to count up at '(' and down at ')'.",
            "Look for a cell state that rises at '(' and falls at ')'.",
            "()",
            6,
            40,
            _bracket_depth,
            lambda tok, tgt: {"bracket depth": tgt},
            "(()(()))((()))()(((())))",
            Recipe(hidden=8, steps=4000, forget_bias=1.0, recurrent_decay=1.0, schedule="cosine"),
        ),
        Task(
            "recall",
            "Remember the first symbol",
            "The first step shows a, b, c or d, then only '-' follows; at every later step it "
            "must say which symbol came first. The forget gate must stay at 1 and the input "
            "gate shut, or the memory fades.",
            "f ≈ 1 and i ≈ 0 after step 0: the cell holds what it wrote at the start.",
            "abcd-",
            4,
            100,
            _recall,
            lambda tok, tgt: {f"first symbol is {ch}": tgt == k for k, ch in enumerate("abcd")},
            "c" + "-" * 99,
            Recipe(hidden=4, steps=1000, forget_bias=1.0, recurrent_decay=100.0),
        ),
        Task(
            "parity",
            "Running parity",
            "Reads 0 and 1; at every step, predicts whether it has seen an odd number of 1s. "
            "Each 1 must flip a stored bit: the gates have to overwrite the cell, not add to it.",
            "Look for a cell whose sign flips at every 1.",
            "01",
            2,
            20,
            _parity,
            lambda tok, tgt: {"odd number of 1s so far": tgt},
            "0110100011101",
            Recipe(hidden=4, steps=2000, forget_bias=1.0),
        ),
    )
}
