"""`gatescope train TASK …`: trains a model, writes its weights (.safetensors) and its card (.json)."""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file

from app.train import pychars
from app.train.loop import HELD_OUT_SEED_OFFSET, SCHEDULES, Progress, Trained, train
from app.train.tasks import TASKS, Task
from app.train.units import Unit, find_units

log = logging.getLogger("gatescope.train")


def parser() -> argparse.ArgumentParser:
    """The training commands alone (app.cli's parser adds `open` beside them)."""
    p = argparse.ArgumentParser(prog="gatescope", description="Gatescope's command line.")
    add_commands(p.add_subparsers(dest="command", required=True))
    return p


def add_commands(sub: Any) -> None:
    """`train` and `train-lm`, as subcommands of `sub` (an argparse subparsers action)."""
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
    t.add_argument(
        "--forget-bias",
        type=float,
        default=None,
        help="added to the forget gates' bias at initialisation (1 keeps memories from the start)",
    )
    t.add_argument(
        "--recurrent-decay",
        type=float,
        default=None,
        help="decoupled weight decay on weight_hh: gates that follow the input, not h",
    )
    t.add_argument(
        "--target",
        type=float,
        default=None,
        help="stop once held-out accuracy reaches this (checked every 50 steps)",
    )
    t.add_argument("--out", type=Path, required=True, help="weights file, e.g. models/counter.safetensors")
    m = sub.add_parser("train-lm", help="train a character-level language model of Python source")
    m.add_argument("--hidden", type=int, default=128, help="hidden size H")
    m.add_argument("--layers", type=int, default=1)
    m.add_argument("--seed", type=int, default=0, help="same seed and Python version, same weights")
    m.add_argument("--steps", type=int, default=2800)
    m.add_argument("--batch", type=int, default=32, help="places of the text read side by side")
    m.add_argument("--length", type=int, default=100, help="characters per chunk (truncated BPTT)")
    m.add_argument("--lr", type=float, default=0.01)
    m.add_argument("--schedule", choices=SCHEDULES, default="cosine")
    m.add_argument("--forget-bias", type=float, default=1.0)
    m.add_argument("--recurrent-decay", type=float, default=3.0)
    m.add_argument("--out", type=Path, required=True, help="weights file (float32 safetensors)")


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
    return (
        f"gatescope train {a.task} --hidden {a.hidden} --layers {a.layers} --seed {a.seed} "
        f"--steps {a.steps} --batch {a.batch} --lr {a.lr} --schedule {a.schedule} "
        f"--forget-bias {a.forget_bias} --recurrent-decay {a.recurrent_decay}{target} --out {a.out}"
    )


def settings_card(task: Task, a: argparse.Namespace, steps: int) -> dict[str, Any]:
    """What every card says of its task and settings, the shipped models' and those trained in the
    page alike (app.service.trainings); `steps`: the steps taken."""
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
        "steps": steps,
        "batch": a.batch,
        "lr": a.lr,
        "schedule": a.schedule,
        "forget_bias": a.forget_bias,
        "recurrent_decay": a.recurrent_decay,
    }


def card(task: Task, a: argparse.Namespace, trained: Trained) -> dict[str, object]:
    rng = np.random.default_rng(a.seed + 2 * HELD_OUT_SEED_OFFSET)
    tokens, targets, mask = task.draw(rng, 256, task.length)
    units = find_units(trained.params, task.one_hot(tokens), task.properties(tokens, targets), mask)
    return {
        **settings_card(task, a, trained.steps),
        "final_loss": round(trained.loss, 6),
        "accuracy": round(trained.accuracy, 6),
        "accuracy_on": "the steps of 512 held-out sequences of the task's length",
        "training_seconds": round(trained.seconds, 2),
        "command": command_line(a),
        "units": [asdict(u) for u in units],
    }


def progress_bar() -> Any:
    """tqdm, from the `train` extra: the server never needs it."""
    try:
        from tqdm import tqdm
    except ImportError:
        raise SystemExit(
            "gatescope train shows its progress with tqdm: pip install 'gatescope[train]'"
        ) from None
    return tqdm


def run_train(a: argparse.Namespace) -> int:
    task = TASKS[a.task]
    tqdm = progress_bar()
    with tqdm(total=a.steps, unit="step", desc=task.name, file=sys.stderr) as bar:

        def report(p: Progress) -> None:
            bar.update(p.step - bar.n)
            bar.set_postfix(loss=f"{p.loss:.4f}", accuracy=f"{p.accuracy:.3f}")

        trained = train(
            task,
            a.hidden,
            a.seed,
            a.steps,
            batch=a.batch,
            layers=a.layers,
            lr=a.lr,
            target=a.target,
            report=report,
            forget_bias=a.forget_bias,
            recurrent_decay=a.recurrent_decay,
            schedule=a.schedule,
        )
    a.out.parent.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: np.ascontiguousarray(v) for k, v in trained.params.items()},
        str(a.out),
        metadata={"task": task.name, "vocab": task.vocab},
    )
    info = card(task, a, trained)
    a.out.with_suffix(".json").write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    log.info(
        "%s: held-out accuracy %.4f after %d steps (%.1f s); wrote %s and %s",
        task.name,
        info["accuracy"],
        trained.steps,
        trained.seconds,
        a.out,
        a.out.with_suffix(".json"),
    )
    return 0


def lm_command_line(a: argparse.Namespace) -> str:
    return (
        f"gatescope train-lm --hidden {a.hidden} --layers {a.layers} --seed {a.seed} "
        f"--steps {a.steps} --batch {a.batch} --length {a.length} --lr {a.lr} "
        f"--schedule {a.schedule} --forget-bias {a.forget_bias} "
        f"--recurrent-decay {a.recurrent_decay} --out {a.out}"
    )


def lm_card(
    a: argparse.Namespace, trained: pychars.TrainedLM, reading: pychars.Reading, units: list[Unit]
) -> dict[str, object]:
    lib = pychars.stdlib()
    best = units[0]
    return {
        "task": "python-chars",
        "title": "Python, character by character",
        "description": "A language model: it reads Python source one character at a time and predicts "
        f"the next one. Trained on {len(pychars.train_files(lib))} modules of Python "
        f"{platform.python_version()}'s standard library ({trained.characters:,} characters).",
        "hint": f"Pin unit {best.unit}: its {best.state} follows the {best.property} "
        f"(r = {best.correlation:+.2f} on files it never saw).",
        "example": pychars.EXAMPLE,
        "vocab": pychars.VOCAB,
        "classes": len(pychars.VOCAB),
        "hidden_size": a.hidden,
        "layers": a.layers,
        "seed": a.seed,
        "steps": trained.steps,
        "batch": a.batch,
        "length": a.length,
        "lr": a.lr,
        "schedule": a.schedule,
        "forget_bias": a.forget_bias,
        "recurrent_decay": a.recurrent_decay,
        "python": platform.python_version(),
        "final_loss": round(trained.loss, 4),
        "final_loss_unit": "bits per character, training chunks",
        "accuracy": round(reading.accuracy, 6),
        "bits_per_char": round(reading.bits_per_char, 4),
        "accuracy_on": f"the next character of {', '.join(pychars.HELD_OUT_FILES)} (never trained "
        "on; read whole, as 16 pieces side by side)",
        "training_seconds": round(trained.seconds, 2),
        "command": lm_command_line(a),
        "units": [asdict(u) for u in units],
    }


def run_train_lm(a: argparse.Namespace) -> int:
    def report(step: int, bpc: float, seconds: float) -> None:
        log.info("step %d/%d: %.3f bits per character (%.0f s)", step, a.steps, bpc, seconds)

    trained = pychars.train(
        a.hidden,
        a.layers,
        a.seed,
        a.steps,
        a.batch,
        a.length,
        a.lr,
        a.forget_bias,
        a.recurrent_decay,
        a.schedule,
        report=report,
    )
    # float32 halves the file; the card's figures are those of the stored (float32) weights
    stored = {k: v.astype(np.float32) for k, v in trained.params.items()}
    ids, props = pychars.held_out(pychars.stdlib())
    reading = pychars.read({k: v.astype(np.float64) for k, v in stored.items()}, ids)
    info = lm_card(a, trained, reading, pychars.find_units(reading, props))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    save_file(stored, str(a.out), metadata={"task": "python-chars", "vocab": pychars.VOCAB})
    a.out.with_suffix(".json").write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    log.info(
        "python-chars: %.3f bits per character and %.1f %% right on held-out files after %d "
        "steps (%.0f s); wrote %s",
        reading.bits_per_char,
        100 * reading.accuracy,
        trained.steps,
        trained.seconds,
        a.out,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return run(parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run a training command parsed by parser() or by app.cli's."""
    if args.command == "train":
        return run_train(with_recipe(args))
    if args.command == "train-lm":
        return run_train_lm(args)
    return 2
