"""`gatescope train`: weights and card written, reproducible, and the card's claims re-checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from safetensors.numpy import load_file

from app.train.cli import command_line, main, parser, with_recipe
from app.train.loop import evaluate
from app.train.tasks import TASKS

ROOT = Path(__file__).resolve().parents[2]


def test_train_writes_weights_and_a_card_whose_accuracy_holds(tmp_path):
    out = tmp_path / "counter.safetensors"
    # The plain recipe (no forget bias, no decay, constant rate) learns fastest; the shipped
    # recipe trades speed for crisper gates.
    assert (
        main(
            [
                "train",
                "reset-count",
                "--hidden",
                "8",
                "--seed",
                "0",
                "--steps",
                "600",
                "--forget-bias",
                "0",
                "--recurrent-decay",
                "0",
                "--schedule",
                "constant",
                "--target",
                "0.995",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    card = json.loads(out.with_suffix(".json").read_text())
    params = load_file(str(out))
    assert card["task"] == "reset-count" and card["hidden_size"] == 8 and card["seed"] == 0
    assert card["command"].startswith("gatescope train reset-count --hidden 8")
    assert "--forget-bias 0.0 --recurrent-decay 0.0" in card["command"]
    assert (card["forget_bias"], card["recurrent_decay"], card["schedule"]) == (0.0, 0.0, "constant")
    assert params["weight_hh_l0"].shape == (32, 8) and params["head.weight"].shape == (6, 8)
    # The card's accuracy is what the stored weights give on the held-out set it names.
    assert abs(evaluate(params, TASKS["reset-count"], seed=0) - card["accuracy"]) <= 1e-6
    assert card["accuracy"] >= 0.99
    assert card["units"] and abs(card["units"][0]["correlation"]) >= 0.8


def test_the_cards_command_reproduces_the_same_weights(tmp_path):
    first, second = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    for out in (first, second):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "app.train",
                "parity",
                "--hidden",
                "4",
                "--steps",
                "100",
                "--seed",
                "7",
                "--out",
                str(out),
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    # (not byte for byte: safetensors writes its header's keys in no fixed order)
    a_w, b_w = load_file(str(first)), load_file(str(second))
    assert a_w.keys() == b_w.keys()
    assert all((a_w[k] == b_w[k]).all() for k in a_w)
    a, b = (json.loads(p.with_suffix(".json").read_text()) for p in (first, second))
    assert a["accuracy"] == b["accuracy"] and a["final_loss"] == b["final_loss"]


def test_unset_options_come_from_the_tasks_recipe():
    a = with_recipe(parser().parse_args(["train", "recall", "--steps", "7", "--out", "r.safetensors"]))
    recipe = TASKS["recall"].recipe
    assert (a.hidden, a.lr, a.schedule) == (recipe.hidden, recipe.lr, recipe.schedule)
    assert (a.forget_bias, a.recurrent_decay) == (recipe.forget_bias, recipe.recurrent_decay)
    assert a.steps == 7  # what is given wins
    assert "--recurrent-decay 100.0" in command_line(a)


def test_an_unknown_task_is_refused_with_the_known_ones(capsys):
    try:
        main(["train", "sorting", "--out", "x.safetensors"])
    except SystemExit as e:
        assert e.code == 2
    assert "reset-count" in capsys.readouterr().err
