"""'Predict the next character' of a text someone pastes, as a task: windows of the text's first
nine tenths to train on, of its last tenth to hold out. Its characters, in order of first
appearance sorted by code point, are the vocabulary; the model has one class per character."""

from __future__ import annotations

import numpy as np

from app.train.tasks import Batch, Recipe, Task

NAME = "text"
LENGTH = 40  # characters per training window
HELD_OUT = 0.1  # the text's last tenth is never trained on
SHORTEST = 420  # characters a text needs: its last tenth must hold a window and its next character
MOST_CHARACTERS = 100  # distinct characters (classes) a text may have


def problem(text: str) -> str | None:
    """What keeps `text` from being a task, in words; None if nothing does."""
    if len(text) < SHORTEST:
        return f"the text has {len(text)} characters; a training needs at least {SHORTEST}"
    distinct = len(set(text))
    if distinct > MOST_CHARACTERS:
        return f"the text has {distinct} distinct characters; a training takes at most {MOST_CHARACTERS}"
    if distinct < 2:
        return "the text has a single distinct character: there is nothing to predict"
    return None


def _windows(ids: np.ndarray):  # type: ignore[no-untyped-def]
    def draw(rng: np.random.Generator, batch: int, length: int) -> Batch:
        starts = rng.integers(0, len(ids) - length, size=batch)
        spans = starts[None, :] + np.arange(length)[:, None]  # (T, B)
        tokens = ids[spans]
        return tokens, ids[spans + 1], np.ones_like(tokens, dtype=bool)

    return draw


def text_task(text: str) -> Task:
    """The task of predicting `text`'s next character (check `problem(text)` first)."""
    vocab = "".join(sorted(set(text)))
    ids = np.array([vocab.index(ch) for ch in text])
    cut = int(len(ids) * (1 - HELD_OUT))
    return Task(
        NAME,
        "Predict the next character",
        "Reads a text one character at a time and, at every step, predicts the next character.",
        "Look for cells whose forget gate closes at spaces or line breaks: a word or a line ends there.",
        vocab,
        len(vocab),
        LENGTH,
        _windows(ids[:cut]),
        example=text[:200],
        recipe=Recipe(hidden=32, steps=1000, lr=0.01, forget_bias=1.0),
        held_out=_windows(ids[cut:]),
    )
