"""`gatescope train TASK …`: trains a model, writes its weights (.safetensors) and its card (.json)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file
from tqdm import tqdm

from app.train.loop import HELD_OUT_SEED_OFFSET, SCHEDULES, Progress, Trained, train
from app.train.tasks import TASKS, Task
from app.train.units import find_units

log = logging.getLogger("gatescope.train")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gatescope", description="Gatescope's command line.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train an LSTM on a toy task and write its weights and card")
    t.add_argument("task", choices=sorted(TASKS))
    # None: the task's recipe (app.train.tasks.Recipe) decides
    t.add_argument("--hidden", type=int, default=None, help="hidden size H")
    t.add_argument("--layers", type=int, default=1)
    t.add_argument("--seed", type=int, default=0, help="same seed, same weights")
    t.add_argument("--steps", type=int, default=None, help="most training steps")
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--lr", type=float, default=None, help="Adam's (first) learning rate")
    t.add_argument("--schedule", choices=SCHEDULES, default=None, help="of the learning rate")
    t.add_argument("--forget-bias", type=float, default=None,
                   help="added to the forget gates' bias at initialisation (1 keeps memories from the start)")
    t.add_argument("--recurrent-decay", type=float, default=None,
                   help="decoupled weight decay on weight_hh: gates that follow the input, not h")
    t.add_argument("--target", type=float, default=None,
                   help="stop once held-out accuracy reaches this (checked every 50 steps)")
    t.add_argument("--out", type=Path, required=True, help="weights file, e.g. models/counter.safetensors")
    return p


def with_recipe(a: argparse.Namespace) -> argparse.Namespace:
    """The arguments, with the task's recipe wherever none was given."""
    recipe = TASKS[a.task].recipe
    for name in ("hidden", "steps", "lr", "schedule", "forget_bias", "recurrent_decay"):
        if getattr(a, name) is None:
            setattr(a, name, getattr(recipe, name))
    return a


def command_line(a: argparse.Namespace) -> str:
    """The command that reproduces these weights, as the card records it."""
    target = f" --target {a.target}" if a.target is not None else ""
    return (f"gatescope train {a.task} --hidden {a.hidden} --layers {a.layers} --seed {a.seed} "
            f"--steps {a.steps} --batch {a.batch} --lr {a.lr} --schedule {a.schedule} "
            f"--forget-bias {a.forget_bias} --recurrent-decay {a.recurrent_decay}{target} --out {a.out}")


def card(task: Task, a: argparse.Namespace, trained: Trained) -> dict[str, object]:
    rng = np.random.default_rng(a.seed + 2 * HELD_OUT_SEED_OFFSET)
    tokens, targets, mask = task.draw(rng, 256, task.length)
    units = find_units(trained.params, task.one_hot(tokens), task.properties(tokens, targets), mask)
    return {
        "task": task.name,
        "title": task.title,
        "description": task.description,
        "hint": task.hint,
        "example": task.example,
        "vocab": task.vocab,
        "classes": task.classes,
        "hidden_size": a.hidden,
        "layers": a.layers,
        "seed": a.seed,
        "steps": trained.steps,
        "batch": a.batch,
        "lr": a.lr,
        "schedule": a.schedule,
        "forget_bias": a.forget_bias,
        "recurrent_decay": a.recurrent_decay,
        "final_loss": round(trained.loss, 6),
        "accuracy": round(trained.accuracy, 6),
        "accuracy_on": "512 held-out sequences of the task's length",
        "training_seconds": round(trained.seconds, 2),
        "command": command_line(a),
        "units": [asdict(u) for u in units],
    }


def run_train(a: argparse.Namespace) -> int:
    task = TASKS[a.task]
    with tqdm(total=a.steps, unit="step", desc=task.name, file=sys.stderr) as bar:

        def report(p: Progress) -> None:
            bar.update(p.step - bar.n)
            bar.set_postfix(loss=f"{p.loss:.4f}", accuracy=f"{p.accuracy:.3f}")

        trained = train(task, a.hidden, a.seed, a.steps, batch=a.batch, layers=a.layers,
                        lr=a.lr, target=a.target, report=report, forget_bias=a.forget_bias,
                        recurrent_decay=a.recurrent_decay, schedule=a.schedule)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v) for k, v in trained.params.items()}, str(a.out),
              metadata={"task": task.name, "vocab": task.vocab})
    info = card(task, a, trained)
    a.out.with_suffix(".json").write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    log.info("%s: held-out accuracy %.4f after %d steps (%.1f s); wrote %s and %s", task.name,
             info["accuracy"], trained.steps, trained.seconds, a.out, a.out.with_suffix(".json"))
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parser().parse_args(argv)
    if args.command == "train":
        return run_train(with_recipe(args))
    return 2
