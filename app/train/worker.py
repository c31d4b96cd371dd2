"""One training, in a process of its own: it trains step by step (app.train.loop.Stepper, the loop
`gatescope train` runs) and sends a snapshot down its pipe every `snapshot_every` steps, with the
weights, the loss, the latest held-out accuracy and what the gates do on a probe batch
(app.train.watch). It reads commands between steps: pause, resume, step (one step while paused),
stop. It ends when its steps are done, when told to stop, or when the pipe closes (the server is
gone): a process, so that training never holds the serving process's GIL, and so that everything
it allocated goes back to the system when it ends."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from app.train.loop import EVAL_EVERY, EVAL_SEQUENCES, Stepper, evaluate
from app.train.tasks import TASKS, Task
from app.train.texttask import NAME as TEXT
from app.train.texttask import text_task
from app.train.watch import Probe

PAUSED_POLL = 0.5  # seconds a paused training waits for a command before it looks at its pipe again


def task_of(settings: dict[str, Any]) -> Task:
    return text_task(settings["text"]) if settings["task"] == TEXT else TASKS[settings["task"]]


def stepper(settings: dict[str, Any]) -> Stepper:
    """The training `settings` describe (the keys of app.service.trainings.TrainRequest)."""
    return Stepper(
        task_of(settings),
        settings["hidden"],
        settings["seed"],
        settings["steps"],
        batch=settings["batch"],
        lr=settings["lr"],
        forget_bias=settings["forget_bias"],
        recurrent_decay=settings["recurrent_decay"],
        schedule=settings["schedule"],
    )


class Run:
    """The training and what its snapshots report."""

    def __init__(self, settings: dict[str, Any]):
        self.settings = settings
        self.stepper = stepper(settings)
        self.probe = Probe(self.stepper.task, settings["seed"])
        self.losses: list[float] = []  # since the last snapshot
        self.accuracy: float | None = None
        self.accuracy_step: int | None = None
        self.seconds = 0.0  # training time, pauses left out

    def advance(self) -> None:
        start = time.perf_counter()
        self.losses.append(self.stepper.advance())
        step, steps = self.stepper.step, self.stepper.steps
        if step % EVAL_EVERY == 0 or step == steps:  # as `gatescope train` evaluates
            self.accuracy = evaluate(
                self.stepper.params, self.stepper.task, self.settings["seed"], EVAL_SEQUENCES
            )
            self.accuracy_step = step
        self.seconds += time.perf_counter() - start

    def snapshot(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        summary = {
            "step": self.stepper.step,
            "loss": float(np.mean(self.losses)) if self.losses else None,
            "accuracy": self.accuracy,
            "accuracy_step": self.accuracy_step,
            "seconds": round(self.seconds, 4),
            **self.probe.measure(self.stepper.params),
        }
        self.losses = []
        return summary, {k: v.copy() for k, v in self.stepper.params.items()}

    def due(self) -> bool:
        step = self.stepper.step
        return step % self.settings["snapshot_every"] == 0 or step == self.stepper.steps


def main(conn: Any, settings: dict[str, Any]) -> None:
    """The child process: train, snapshot, obey; ("finished", accuracy) or ("failed", words) last."""
    threadpool_limits(limits=1)  # as the server's: small matrices, and the sums in one order
    try:
        run = Run(settings)
        conn.send(("snapshot", *run.snapshot()))  # step 0: the weights before any training
        paused, single = False, False
        while run.stepper.step < run.stepper.steps:
            while conn.poll(PAUSED_POLL if paused and not single else 0):
                command = conn.recv()
                if command == "stop":
                    conn.send(("stopped",))  # said before the process winds down, which takes a while
                    return
                paused = command in ("pause", "step") or (paused and command != "resume")
                single = command == "step"
                conn.send(("state", "paused" if paused else "running"))
            if paused and not single:
                continue
            run.advance()
            if run.due() or single:
                conn.send(("snapshot", *run.snapshot()))
            single = False
        final = evaluate(run.stepper.params, run.stepper.task, settings["seed"])  # as the card's figure
        conn.send(("finished", final))
    except (EOFError, BrokenPipeError, OSError):
        return  # the server is gone: nobody reads the rest
    except Exception as e:  # noqa: BLE001 — said to the server in words, never silently lost
        try:
            conn.send(("failed", f"{type(e).__name__}: {e}"))
        except (BrokenPipeError, OSError):
            return
