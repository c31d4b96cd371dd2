"""Finding interpretable units: correlations against NumPy's own, and a planted unit found."""

from __future__ import annotations

import numpy as np

from app.train.loop import train
from app.train.tasks import TASKS
from app.train.units import correlations, find_units


def test_correlations_equal_numpys_corrcoef():
    rng = np.random.default_rng(0)
    states = rng.normal(size=(200, 5))
    labels = states[:, 2] * 3 + rng.normal(size=200) * 0.5
    want = [np.corrcoef(states[:, u], labels)[0, 1] for u in range(5)]
    assert np.allclose(correlations(states, labels), want, atol=1e-12)
    assert correlations(np.ones((10, 2)), np.arange(10)).tolist() == [0.0, 0.0]  # constant unit


def test_a_trained_counter_has_a_unit_that_tracks_the_count():
    task = TASKS["reset-count"]
    trained = train(task, hidden=8, seed=0, steps=2000, lr=0.02, target=0.995)
    tokens, targets, mask = task.draw(np.random.default_rng(5), 64, 60)
    units = find_units(trained.params, task.one_hot(tokens), {"count": targets}, mask)
    assert units[0].property == "count"
    assert abs(units[0].correlation) >= 0.8
    assert abs(units[0].correlation) >= abs(units[-1].correlation)
