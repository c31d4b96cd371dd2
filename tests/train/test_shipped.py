"""The trained models shipped in app/models: listed with their cards, their claims re-checked on
fresh held-out data, and their cards' commands reproducing their metrics."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from app.models.zoo import TRAINED_DIR
from app.train.bptt import logits
from app.train.cli import main
from app.train.loop import evaluate
from app.train.tasks import TASKS, count_since_reset

CARDS = sorted(TRAINED_DIR.glob("*.json"))
TOY_CARDS = [p for p in CARDS if p.stem in TASKS]  # the language model's own: test_pychars.py
FRESH_SEED = 424242  # held-out sequences no card was measured on


def test_every_task_and_the_language_model_ship_trained():
    assert sorted(p.stem for p in CARDS) == sorted([*TASKS, "python-chars"])


@pytest.mark.parametrize("card_path", TOY_CARDS, ids=lambda p: p.stem)
def test_a_shipped_model_keeps_its_accuracy_on_fresh_held_out_data(card_path: Path):
    card = json.loads(card_path.read_text())
    params = load_file(str(card_path.with_suffix(".safetensors")))
    task = TASKS[card["task"]]
    assert card["vocab"] == task.vocab and card["hidden_size"] == params["weight_hh_l0"].shape[1]
    fresh = evaluate(params, task, seed=FRESH_SEED, sequences=512)
    assert fresh >= 0.99 and fresh >= card["accuracy"] - 0.01, (fresh, card["accuracy"])
    longer = evaluate(params, task, seed=FRESH_SEED, sequences=128, length=2 * task.length)
    assert longer >= 0.95, longer  # what it learnt is not tied to the training length


@pytest.mark.parametrize("card_path", CARDS, ids=lambda p: p.stem)
def test_a_shipped_model_is_listed_with_its_card(client, card_path: Path):
    card = json.loads(card_path.read_text())
    listed = {m["id"]: m for m in client.get("/api/models").json()["models"]}
    info = listed[card["task"]]
    for key in ("task", "accuracy", "command", "seed", "units", "steps", "final_loss", "training_seconds"):
        assert info["card"][key] == card[key]
    assert info["vocab"] == card["vocab"] and info["example"]
    run = client.post("/api/run", json={"model": card["task"], "text": info["example"]})
    assert run.status_code == 200


@pytest.mark.parametrize("name", ["parity", "reset-count"])
def test_a_cards_command_reproduces_its_metrics(tmp_path, name):
    card = json.loads((TRAINED_DIR / f"{name}.json").read_text())
    args = shlex.split(card["command"])
    assert args[:2] == ["gatescope", "train"]
    out = tmp_path / "again.safetensors"
    args[args.index("--out") + 1] = str(out)
    assert main(args[1:]) == 0
    again = json.loads(out.with_suffix(".json").read_text())
    assert abs(again["accuracy"] - card["accuracy"]) <= 0.005
    assert abs(again["final_loss"] - card["final_loss"]) <= 0.05 * card["final_loss"] + 1e-4


def _gates(name: str, seed: int = FRESH_SEED):
    """The shipped model's first-layer trace on fresh sequences of its task, and their tokens."""
    task = TASKS[name]
    params = load_file(str(TRAINED_DIR / f"{name}.safetensors"))
    tokens, _, _ = task.draw(np.random.default_rng(seed), 256, task.length)
    trace, _ = logits(params, task.one_hot(tokens))
    return trace[0], tokens


def test_reset_count_has_a_cell_whose_forget_gate_closes_at_each_dot_and_only_there():
    layer, tokens = _gates("reset-count")
    dot = tokens == TASKS["reset-count"].vocab.index(".")
    counted = count_since_reset(tokens)
    found = [
        u
        for u in range(layer.f.shape[-1])
        if layer.f[..., u][dot].mean() < 0.1
        and layer.f[..., u][~dot].mean() > 0.9
        and abs(np.corrcoef(layer.c[..., u].ravel(), counted.ravel())[0, 1]) >= 0.95
    ]
    assert found, "no unit forgets at '.', keeps elsewhere and counts"


def test_recall_has_a_cell_that_writes_at_step_0_and_then_only_keeps():
    layer, _ = _gates("recall")
    after = slice(1, None)
    found = [
        u
        for u in range(layer.f.shape[-1])
        if layer.i[0, :, u].mean() > 0.5
        and layer.f[after, :, u].min() > 0.95
        and layer.i[after, :, u].max() < 0.1
    ]
    assert found, "no unit keeps f ≈ 1 and i ≈ 0 after writing at step 0"
