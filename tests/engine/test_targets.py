"""The built-in tasks' truth (app.engine.targets): by hand on short sequences, and the same as the
trainer's targets on every step its mask counts."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine import targets
from app.train.tasks import TASKS

NONE = targets.NONE


def ids(text: str, vocab: str) -> np.ndarray:
    return np.array([vocab.index(ch) for ch in text])


def test_by_hand():
    assert targets.reset_count(ids("aab.aaaaaaa", "ab.")).tolist() == [1, 2, 2, 0, 1, 2, 3, 4, 5, 5, 5]
    assert targets.bracket_depth(ids("(()))(", "()")).tolist() == [1, 2, 1, 0, NONE, NONE]
    assert targets.bracket_depth(ids("((((((", "()")).tolist() == [1, 2, 3, 4, 5, NONE]
    assert targets.recall(ids("c--", "abcd-")).tolist() == [NONE, 2, 2]
    assert targets.recall(ids("-c-", "abcd-")).tolist() == [NONE, NONE, NONE]
    assert targets.parity(ids("0110100", "01")).tolist() == [0, 1, 0, 0, 1, 1, 1]
    assert targets.next_token(np.array([4, 7, 1])).tolist() == [7, 1, NONE]


@pytest.mark.parametrize("task", sorted(TASKS))
def test_the_trainers_targets_are_the_truths(task):
    tokens, trained, mask = TASKS[task].draw(np.random.default_rng(7), 16, TASKS[task].length)
    truth = targets.TASKS[task][0](tokens)
    assert (truth[mask] == trained[mask]).all()
    assert (truth[~mask] == NONE).all()
