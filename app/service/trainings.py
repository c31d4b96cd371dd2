"""Trainings started from the page, each in a worker process of its own (app.train.worker), and
the snapshots they send back: kept in memory (at most `train_snapshots` per training), readable
as models (`tr-<training>-<step>`, wherever a model id is), and saved to the store on request.

Bounded: `trainings_at_once` running per server process and `trainings_per_client` per client
address (beyond, TooMany with a Retry-After); steps, hidden size, batch and text limited. A
training stops when told to, when nobody has watched it for `train_abandon_seconds`, or within
a second of its last event stream closing; an ended one is let go `train_keep_seconds` later.
Trainings live in this process only: a restart loses those in progress, never what was saved.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import multiprocessing
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.models import pagetrained, upload, zoo
from app.refusal import Invalid, NotFound, TooMany
from app.service.limits import Limits
from app.service.requests import TrainRequest
from app.service.store import Store
from app.train import cli, texttask, worker
from app.train.loop import EVAL_SEQUENCES, evaluate
from app.train.tasks import TASKS

log = logging.getLogger(__name__)

ENDED = ("finished", "stopped", "failed")
STOP_WITHIN = 1.0  # seconds a worker has to end by itself once told to stop, before it is killed
SWEEP_EVERY = 1.0  # seconds between looks for trainings to stop or let go
PREFIX = "tr-"  # of a snapshot's model id: tr-<training id>-<step>
TEXT_RECIPE = texttask.text_task("ab" * 210).recipe  # the recipe of every "text" task


@dataclass(frozen=True)
class Snapshot:
    step: int
    summary: dict[str, Any]  # what the event stream sends: loss, accuracy, the gates' means…
    params: dict[str, np.ndarray]

    @property
    def nbytes(self) -> int:
        """The weights' bytes: the most a model saved from them keeps (float64)."""
        return sum(v.nbytes for v in self.params.values())


def settings_of(req: TrainRequest, s: Limits) -> dict[str, Any]:
    """The request's settings, completed from the task's recipe and checked against the limits."""
    if req.task == texttask.NAME:
        if req.text is None:
            raise Invalid('task "text" trains on a text: give "text"', ["text"])
        if len(req.text) > s.max_train_text:
            raise Invalid(
                f"text: {len(req.text)} characters; a training reads at most {s.max_train_text} "
                "(GATESCOPE_MAX_TRAIN_TEXT)",
                ["text"],
            )
        problem = texttask.problem(req.text)
        if problem:
            raise Invalid(f"text: {problem}", ["text"])
        recipe = TEXT_RECIPE
    else:
        if req.text is not None:
            raise Invalid(
                f'text: only task "text" reads a text; {req.task!r} draws its own sequences', ["text"]
            )
        recipe = TASKS[req.task].recipe
    out: dict[str, Any] = {
        "task": req.task,
        "text": req.text,
        "hidden": req.hidden if req.hidden is not None else min(recipe.hidden, s.max_train_hidden),
        "seed": req.seed,
        "steps": req.steps if req.steps is not None else min(recipe.steps, s.max_train_steps),
        "batch": req.batch,
        "lr": req.lr if req.lr is not None else recipe.lr,
        "schedule": req.schedule or recipe.schedule,
        "forget_bias": req.forget_bias if req.forget_bias is not None else recipe.forget_bias,
        "recurrent_decay": req.recurrent_decay if req.recurrent_decay is not None else recipe.recurrent_decay,
        "snapshot_every": req.snapshot_every,
    }
    for key, most, variable in (
        ("hidden", s.max_train_hidden, "GATESCOPE_MAX_TRAIN_HIDDEN"),
        ("steps", s.max_train_steps, "GATESCOPE_MAX_TRAIN_STEPS"),
        ("batch", s.max_train_batch, "GATESCOPE_MAX_TRAIN_BATCH"),
    ):
        if out[key] > most:
            raise Invalid(f"{key}: {out[key]}; a training takes at most {most} ({variable})", [key])
    return out


def arguments_of(settings: dict[str, Any]) -> argparse.Namespace:
    """The training's settings as `gatescope train`'s arguments (one layer, no target)."""
    names = ("task", "hidden", "seed", "steps", "batch", "lr", "schedule", "forget_bias", "recurrent_decay")
    return argparse.Namespace(
        **{k: settings[k] for k in names}, layers=1, target=None, out=Path("model.safetensors")
    )


def command_of(settings: dict[str, Any]) -> str:
    """The `gatescope train` command that trains the same weights (toy tasks)."""
    if settings["task"] == texttask.NAME:
        return "none on the command line: the text was pasted in the page"
    return cli.command_line(arguments_of(settings))


class Training:
    """One training: its worker process, the pipe to it, and the snapshots it has sent."""

    def __init__(self, training_id: str, settings: dict[str, Any], client: str, s: Limits):
        self.id, self.settings, self.client, self.limits = training_id, settings, client, s
        self.task = worker.task_of(settings)
        self.created = self.watched = time.monotonic()
        self.ended_at: float | None = None
        self.state = "starting"
        self.error: str | None = None
        self.final_accuracy: float | None = None  # on 512 held-out sequences, once finished
        self.snapshots: list[Snapshot] = []
        self.listeners = 0
        self.stopping = False  # told to stop: a timer kills it if it has not ended a second later
        self.lock = threading.Lock()
        self.exited = threading.Event()  # set once the worker process has ended and been waited for
        context = multiprocessing.get_context("spawn")  # never fork a threaded server
        self.conn, child = context.Pipe()
        self.process = context.Process(target=worker.main, args=(child, settings), daemon=True)
        self.process.start()
        child.close()
        self.reader = threading.Thread(target=self._read, name=f"training {training_id}", daemon=True)
        self.reader.start()

    # What the worker sends
    def _read(self) -> None:
        while True:
            try:
                kind, *rest = self.conn.recv()
            except (EOFError, OSError):
                break
            with self.lock:
                if kind == "snapshot":
                    summary, params = rest
                    self._keep(Snapshot(summary["step"], summary, params))
                    if self.state == "starting":
                        self.state = "running"
                elif kind == "state" and self.state not in ENDED:
                    self.state = rest[0]
                elif kind == "stopped":
                    self._end("stopped")
                elif kind == "finished":
                    self.final_accuracy = rest[0]
                    self._end("finished")
                elif kind == "failed":
                    self.error = rest[0]
                    log.error("training %s failed: %s", self.id, rest[0])
                    self._end("failed")
        with self.lock:
            self._end("stopped")  # the pipe closed without a word: told to stop, or killed
        self.conn.close()
        self._reap()

    def _reap(self) -> None:
        """Wait for the worker to end, killing it if it lingers. Only this thread ever waits for it: two
        threads waiting at once race in waitpid, and the loser reads a dead process as alive."""
        self.process.join(STOP_WITHIN)
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join()
        self.exited.set()

    def _keep(self, snap: Snapshot) -> None:
        """Keep the snapshot; past the limit, every other older one goes (the first and the newest stay)."""
        self.snapshots.append(snap)
        if len(self.snapshots) > self.limits.train_snapshots:
            older, newest = self.snapshots[:-1], self.snapshots[-1]
            self.snapshots = older[::2] + [newest]

    def _end(self, state: str) -> None:
        if self.state not in ENDED:
            self.state, self.ended_at = state, time.monotonic()

    # What the server asks
    def command(self, what: str) -> None:
        """pause, resume or step; refused once the training has ended."""
        with self.lock:
            if self.state in ENDED:
                raise Invalid(f"the training has {self.state}: it can no longer {what}", [])
        with contextlib.suppress(BrokenPipeError, OSError):  # it ended as we spoke: the reader says so
            self.conn.send(what)

    def stop(self) -> None:
        """Tell the worker to stop; kill it if it has not ended within STOP_WITHIN seconds."""
        with self.lock:
            if self.state in ENDED or self.stopping:
                return
            self.stopping = True
        with contextlib.suppress(BrokenPipeError, OSError):
            self.conn.send("stop")
        threading.Timer(STOP_WITHIN, self._kill).start()

    def _kill(self) -> None:
        if not self.exited.is_set():  # never is_alive() here: that waits for it too (see _reap)
            log.warning("training %s did not stop within %s s: killed", self.id, STOP_WITHIN)
            self.process.kill()  # its end of the pipe closes with it: the reader ends the training

    def since(self, step: int) -> list[dict[str, Any]]:
        """The summaries of the kept snapshots after `step` (-1: all), each with its model id."""
        with self.lock:
            return [self._summary(s) for s in self.snapshots if s.step > step]

    def _summary(self, snap: Snapshot) -> dict[str, Any]:
        return {**snap.summary, "model": f"{PREFIX}{self.id}-{snap.step}"}

    def snapshot(self, step: int | None) -> Snapshot:
        with self.lock:
            if not self.snapshots:
                raise NotFound("the training has sent no snapshot yet: try again in a moment", ["step"])
            if step is None:
                return self.snapshots[-1]
            for snap in self.snapshots:
                if snap.step == step:
                    return snap
            kept = [s.step for s in self.snapshots]
        raise NotFound(
            f"step {step}: no snapshot kept at that step; kept: {_ranges(kept)}", ["step"], kept=kept
        )

    def info(self) -> dict[str, Any]:
        with self.lock:
            last = self.snapshots[-1].summary if self.snapshots else {}
            return {
                "id": self.id,
                "state": self.state,
                "step": last.get("step", 0),
                "steps": self.settings["steps"],
                "loss": last.get("loss"),
                "accuracy": last.get("accuracy"),
                "accuracy_step": last.get("accuracy_step"),
                "final_accuracy": self.final_accuracy,
                "seconds": last.get("seconds", 0.0),
                "error": self.error,
                "settings": self.settings,
                "snapshots": [s.step for s in self.snapshots],
                "vocab": self.task.vocab,
                "example": self.task.example,
            }

    def card(self, snap: Snapshot, accuracy: float | None) -> dict[str, Any]:
        """What a model trained here says of itself (as the shipped models' cards do)."""
        s = self.settings
        return {
            **cli.settings_card(self.task, arguments_of(s), snap.step),
            "accuracy": None if accuracy is None else round(accuracy, 6),
            "accuracy_on": f"the steps of {EVAL_SEQUENCES if accuracy is None else 512} held-out sequences",
            "command": command_of(s),
            "settings": {k: v for k, v in s.items() if k != "text"},
            "trained_in": "page",
        }


def _ranges(steps: list[int]) -> str:
    return ", ".join(map(str, steps[:5])) + (f" … {steps[-1]}" if len(steps) > 5 else "")


class Trainings:
    """This process's trainings, by id."""

    def __init__(self, s: Limits):
        self.limits = s
        self.items: dict[str, Training] = {}
        self.lock = threading.Lock()
        self.closed = threading.Event()
        # Sweeps even when nobody asks: a training started and never watched must still be stopped.
        threading.Thread(target=self._sweeping, name="trainings' sweeper", daemon=True).start()
        LIVE.append(self)

    def _sweeping(self) -> None:
        while not self.closed.wait(SWEEP_EVERY):
            self.sweep()

    def start(self, req: TrainRequest, client: str) -> Training:
        settings = settings_of(req, self.limits)
        self.sweep()
        with self.lock:
            running = [t for t in self.items.values() if t.state not in ENDED]
            mine = sum(t.client == client for t in running)
            if mine >= self.limits.trainings_per_client:
                raise TooMany(
                    f"this address runs {mine} training(s) already, the most one may "
                    "(GATESCOPE_TRAININGS_PER_CLIENT): stop it, or wait for it to end",
                    [],
                    retry_after=5,
                )
            if len(running) >= self.limits.trainings_at_once:
                raise TooMany(
                    f"the server runs {len(running)} trainings already, the most it runs at once "
                    "(GATESCOPE_TRAININGS_AT_ONCE); try again later",
                    [],
                    retry_after=10,
                )
            training = Training(secrets.token_hex(8), settings, client, self.limits)
            self.items[training.id] = training
        return training

    def get(self, training_id: str) -> Training:
        with self.lock:
            training = self.items.get(training_id)
        if training is None:
            raise NotFound(
                f"no training {training_id!r} in this server: it ended more than "
                f"{self.limits.train_keep_seconds:g} s ago, or the server has restarted since "
                "(trainings in progress do not survive a restart; saved models do)",
                ["id"],
            )
        return training

    def sweep(self) -> None:
        """Stop the trainings nobody watches; let go of those ended long enough ago."""
        now = time.monotonic()
        with self.lock:
            trainings = list(self.items.values())
        for t in trainings:
            if (
                t.state not in ENDED
                and t.listeners == 0
                and now - t.watched > self.limits.train_abandon_seconds
            ):
                log.info(
                    "training %s: nobody has watched it for %s s, stopped",
                    t.id,
                    self.limits.train_abandon_seconds,
                )
                t.stop()
            if t.ended_at is not None and now - t.ended_at > self.limits.train_keep_seconds:
                with self.lock:
                    self.items.pop(t.id, None)

    def close(self) -> None:
        self.closed.set()
        for t in list(self.items.values()):
            t.stop()
        if self in LIVE:
            LIVE.remove(self)

    def snapshot_model(self, model_id: str) -> zoo.Model | None:
        """The model a snapshot id names, if it is one of this registry's trainings."""
        training_id, _, step = model_id.removeprefix(PREFIX).rpartition("-")
        with self.lock:
            training = self.items.get(training_id)
        if training is None or not step.isdigit():
            return None
        snap = training.snapshot(int(step))
        return pagetrained.from_training(model_id, training.card(snap, None), snap.params, live=True)

    def save(self, training: Training, step: int | None, models: Store) -> dict[str, Any]:
        """Store a snapshot's weights as a model by content hash, all or nothing; answers its id."""
        snap = training.snapshot(step)
        accuracy = evaluate(snap.params, training.task, training.settings["seed"])  # as the CLI's card
        card = training.card(snap, accuracy)
        described = {"vocab": card["vocab"], "gate_activation": "sigmoid", "training": card}
        model_id = upload.content_id(snap.params, described)
        info = {
            **described,
            "name": f"{card['title']}, trained in the page",
            "file": "a training in the page",
        }
        created = models.put_model(model_id, info, snap.params)
        model = upload.as_model(model_id, models.get_info(model_id) or info, snap.params)
        return {
            "id": model_id,
            "url": f"/?model={model_id}",
            "created": created,
            "step": snap.step,
            "model": model,
        }


# Every registry of this process (one per app; tests make several): snapshot ids resolve through them.
LIVE: list[Trainings] = []


def snapshot_model(model_id: str) -> zoo.Model:
    for registry in LIVE:
        found = registry.snapshot_model(model_id)
        if found is not None:
            return found
    raise NotFound(
        f"no model {model_id!r}: a training's snapshot lives only while its training is kept in "
        "memory (save it to keep it)",
        ["model"],
    )
