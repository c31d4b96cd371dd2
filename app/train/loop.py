"""The training loop: mini-batches from a task, BPTT, clipping, Adam; and held-out evaluation."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from app.lstm import init_weights
from app.train.adam import Adam, clip_by_norm
from app.train.bptt import HEAD_BIAS, HEAD_WEIGHT, loss_and_grads
from app.train.tasks import Task

HELD_OUT_SEED_OFFSET = 1_000_003  # held-out batches come from a generator no training batch uses


@dataclass
class Progress:
    step: int
    steps: int
    loss: float
    accuracy: float
    seconds: float


@dataclass
class Trained:
    params: dict[str, np.ndarray]
    steps: int
    loss: float  # mean training loss over the last 50 steps
    accuracy: float  # held-out accuracy
    seconds: float
    history: list[tuple[int, float, float]] = field(default_factory=list)  # (step, loss, accuracy)


def init_params(task: Task, hidden: int, layers: int, seed: int) -> dict[str, np.ndarray]:
    """torch.nn.LSTM's initialisation for the LSTM, torch.nn.Linear's for the read-out."""
    params = init_weights(len(task.vocab), hidden, layers, seed)
    rng = np.random.default_rng([seed, 1])
    bound = 1.0 / np.sqrt(hidden)
    params[HEAD_WEIGHT] = rng.uniform(-bound, bound, size=(task.classes, hidden))
    params[HEAD_BIAS] = rng.uniform(-bound, bound, size=task.classes)
    return params


def evaluate(params: dict[str, np.ndarray], task: Task, seed: int, sequences: int = 512,
             length: int | None = None) -> float:
    """Accuracy over the kept steps of held-out sequences."""
    rng = np.random.default_rng(seed + HELD_OUT_SEED_OFFSET)
    tokens, targets, mask = task.draw(rng, sequences, length or task.length)
    result = loss_and_grads(params, task.one_hot(tokens), targets, mask)
    return result.correct / result.counted


def train(
    task: Task, hidden: int, seed: int, steps: int, batch: int = 32, layers: int = 1,
    lr: float = 1e-2, clip: float = 1.0, target: float | None = None,
    report: Callable[[Progress], None] | None = None,
) -> Trained:
    """Train from scratch; stop after `steps`, or earlier once held-out accuracy reaches `target`
    (checked every 50 steps). The same arguments give the same weights."""
    params = init_params(task, hidden, layers, seed)
    opt = Adam(params, lr=lr)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    losses: list[float] = []
    history: list[tuple[int, float, float]] = []
    step = 0
    for step in range(1, steps + 1):
        tokens, targets, mask = task.draw(rng, batch, task.length)
        result = loss_and_grads(params, task.one_hot(tokens), targets, mask)
        clip_by_norm(result.grads, clip)
        opt.step(params, result.grads)
        losses.append(result.loss)
        if step % 50 == 0 or step == steps:
            accuracy = evaluate(params, task, seed, sequences=128)
            history.append((step, float(np.mean(losses[-50:])), accuracy))
            if report:
                report(Progress(step, steps, history[-1][1], accuracy, time.perf_counter() - start))
            if target is not None and accuracy >= target:
                break
    return Trained(
        params=params, steps=step, loss=float(np.mean(losses[-50:])),
        accuracy=evaluate(params, task, seed), seconds=time.perf_counter() - start, history=history,
    )
