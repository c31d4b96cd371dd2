"""The training loop: mini-batches from a task, BPTT, clipping, Adam; and held-out evaluation."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from app.engine.lstm import init_weights
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


def init_model(
    inputs: int, classes: int, hidden: int, layers: int, seed: int, forget_bias: float = 0.0
) -> dict[str, np.ndarray]:
    """torch.nn.LSTM's initialisation for the LSTM, torch.nn.Linear's for the read-out; forget_bias
    is added to every layer's forget-gate bias (Jozefowicz et al., 2015, use 1), so that f starts
    near σ(forget_bias) and what a cell holds survives the first steps of training."""
    params = init_weights(inputs, hidden, layers, seed)
    for k in range(layers):
        params[f"bias_ih_l{k}"][hidden : 2 * hidden] += forget_bias  # rows i, f, g, o: f is the 2nd block
    rng = np.random.default_rng([seed, 1])
    bound = 1.0 / np.sqrt(hidden)
    params[HEAD_WEIGHT] = rng.uniform(-bound, bound, size=(classes, hidden))
    params[HEAD_BIAS] = rng.uniform(-bound, bound, size=classes)
    return params


def init_params(
    task: Task, hidden: int, layers: int, seed: int, forget_bias: float = 0.0
) -> dict[str, np.ndarray]:
    return init_model(len(task.vocab), task.classes, hidden, layers, seed, forget_bias)


SCHEDULES = ("constant", "cosine")


def learning_rate(lr: float, step: int, steps: int, schedule: str) -> float:
    """Adam's learning rate at step (1…steps): constant, or a cosine from lr down to lr/20."""
    if schedule == "constant":
        return lr
    if schedule == "cosine":
        return lr * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * step / steps)))
    raise ValueError(f"schedule {schedule!r}; expected one of {SCHEDULES}")


def evaluate(
    params: dict[str, np.ndarray], task: Task, seed: int, sequences: int = 512, length: int | None = None
) -> float:
    """Accuracy over the kept steps of held-out sequences."""
    rng = np.random.default_rng(seed + HELD_OUT_SEED_OFFSET)
    tokens, targets, mask = (task.held_out or task.draw)(rng, sequences, length or task.length)
    result = loss_and_grads(params, task.one_hot(tokens), targets, mask)
    return result.correct / result.counted


class Stepper:
    """A training from scratch, advanced one step at a time: the loop of `train`, which the page's
    trainings (app.train.worker) drive too, so that the same arguments give the same weights at
    every step, whoever drives it. `params` are updated in place."""

    def __init__(
        self,
        task: Task,
        hidden: int,
        seed: int,
        steps: int,
        batch: int = 32,
        layers: int = 1,
        lr: float = 1e-2,
        clip: float = 1.0,
        forget_bias: float = 0.0,
        recurrent_decay: float = 0.0,
        schedule: str = "constant",
    ):
        self.task, self.steps, self.batch, self.clip = task, steps, batch, clip
        self.lr, self.schedule = lr, schedule
        self.params = init_params(task, hidden, layers, seed, forget_bias)
        decay = {f"weight_hh_l{k}": recurrent_decay for k in range(layers)} if recurrent_decay else {}
        self.opt = Adam(self.params, lr=lr, decay=decay)
        self.rng = np.random.default_rng(seed)
        self.step = 0  # steps taken

    def advance(self) -> float:
        """One step (a batch, BPTT, clipping, Adam); its training loss."""
        self.step += 1
        tokens, targets, mask = self.task.draw(self.rng, self.batch, self.task.length)
        result = loss_and_grads(self.params, self.task.one_hot(tokens), targets, mask)
        clip_by_norm(result.grads, self.clip)
        self.opt.lr = learning_rate(self.lr, self.step, self.steps, self.schedule)
        self.opt.step(self.params, result.grads)
        return result.loss


EVAL_EVERY = 50  # steps between held-out evaluations while training
EVAL_SEQUENCES = 128  # held-out sequences per evaluation while training (512 for the final figure)


def train(
    task: Task,
    hidden: int,
    seed: int,
    steps: int,
    batch: int = 32,
    layers: int = 1,
    lr: float = 1e-2,
    clip: float = 1.0,
    target: float | None = None,
    report: Callable[[Progress], None] | None = None,
    forget_bias: float = 0.0,
    recurrent_decay: float = 0.0,
    schedule: str = "constant",
) -> Trained:
    """Train from scratch; stop after `steps`, or earlier once held-out accuracy reaches `target`
    (checked every 50 steps). The same arguments give the same weights.

    recurrent_decay shrinks every weight_hh by the factor 1 − lr·recurrent_decay after each step
    (decoupled weight decay): the gates then depend on h_{t-1} only where the task needs it, and
    a cell that merely counts or stores shows f ≈ 1 and i ≈ 0 wherever its input says so."""
    run = Stepper(task, hidden, seed, steps, batch, layers, lr, clip, forget_bias, recurrent_decay, schedule)
    start = time.perf_counter()
    losses: list[float] = []
    history: list[tuple[int, float, float]] = []
    step = 0
    for step in range(1, steps + 1):
        losses.append(run.advance())
        if step % EVAL_EVERY == 0 or step == steps:
            accuracy = evaluate(run.params, task, seed, sequences=EVAL_SEQUENCES)
            history.append((step, float(np.mean(losses[-50:])), accuracy))
            if report:
                report(Progress(step, steps, history[-1][1], accuracy, time.perf_counter() - start))
            if target is not None and accuracy >= target:
                break
    return Trained(
        params=run.params,
        steps=step,
        loss=float(np.mean(losses[-50:])),
        accuracy=evaluate(run.params, task, seed),
        seconds=time.perf_counter() - start,
        history=history,
    )
