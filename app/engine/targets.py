"""The truth of Gatescope's built-in tasks, step by step, from the tokens read: what the trainer
(app/train/tasks.py) trains toward, and what the page marks a prediction right or wrong against.

Tokens are ints, (T,) or (T, B), indexing the task's vocabulary; a target indexes the model's
labels. A step with no right answer (a nesting depth the task never reaches, a first symbol that
is not a–d, the step after the last) is NONE. Pure NumPy: both the trainer and the service use it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

NONE = -1  # no right answer at this step
DEEPEST = 5  # bracket-depth's deepest nesting, reset-count's largest count (5 stands for 5+)


def count_since_reset(tokens: np.ndarray) -> np.ndarray:
    """a's since the last '.', uncapped (vocabulary "ab."): what a counting cell holds."""
    count = np.zeros(tokens.shape, dtype=int)
    running = np.zeros(tokens.shape[1:], dtype=int)
    for t in range(len(tokens)):
        running = np.where(tokens[t] == 2, 0, running + (tokens[t] == 0))
        count[t] = running
    return count


def reset_count(tokens: np.ndarray) -> np.ndarray:
    """a's since the last '.', 5 standing for 5 or more."""
    return np.minimum(count_since_reset(tokens), DEEPEST)


def bracket_depth(tokens: np.ndarray) -> np.ndarray:
    """How deeply nested each step leaves the text (vocabulary "()"); NONE once a ')' has no
    '(' to close or the nesting is deeper than the task's 5, which the model never saw."""
    depth = np.cumsum(np.where(tokens == 0, 1, -1), axis=0)
    lost = np.maximum.accumulate(depth < 0, axis=0)  # once unbalanced, depth means nothing
    return np.where(lost | (depth > DEEPEST), NONE, depth)


def recall(tokens: np.ndarray) -> np.ndarray:
    """The first symbol (a–d of "abcd-") at every later step; step 0 shows it, so it asks nothing."""
    first = tokens[0]
    out = np.broadcast_to(np.where(first < 4, first, NONE), tokens.shape).copy()
    out[0] = NONE
    return out


def parity(tokens: np.ndarray) -> np.ndarray:
    """1 when an odd number of 1s has been read so far (vocabulary "01")."""
    return np.cumsum(tokens, axis=0) % 2


def next_token(tokens: np.ndarray) -> np.ndarray:
    """A language model's truth: the token that comes next; the last step's is unknown."""
    out = np.full(tokens.shape, NONE, dtype=int)
    out[:-1] = tokens[1:]
    return out


# The built-in trained models, by id (their card's task), and what their head is asked at each step.
TASKS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "reset-count": (reset_count, "the number of a's since the last '.' (5 or more: 5+)"),
    "bracket-depth": (bracket_depth, "the nesting depth after this character"),
    "recall": (recall, "the first symbol of the sequence"),
    "parity": (parity, "whether an odd number of 1s has been read"),
    "python-chars": (next_token, "the character that comes next"),
}
