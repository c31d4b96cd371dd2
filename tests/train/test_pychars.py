"""The Python character model's corpus, labels and training, checked by hand and against the
tokenizer; the shipped model's claims re-checked on standard-library files no card measured."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import load_file

from app.models.zoo import ASCII_VOCAB, TRAINED_DIR
from app.train import pychars
from app.train.cli import main

#         0         1         2         3
#         0123456789012345678901234567890 1
SOURCE = 'if f(1, "x("):  # (\n    b = [2]\n'
FRESH_FILES = ("_collections_abc.py", "_markupbase.py", "_strptime.py", "_threading_local.py")


def test_labels_of_a_small_file_as_counted_by_hand():
    got = pychars.labels(SOURCE)
    n = len(SOURCE)
    string = [1 if 8 <= k <= 10 else 0 for k in range(n)]  # from the opening quote to before the closing one
    comment = [1 if 16 <= k <= 18 else 0 for k in range(n)]
    depth = [1 if 4 <= k <= 11 or 28 <= k <= 29 else 0 for k in range(n)]  # '(' in a string or comment: no
    column = [*range(1, 20), 0, *range(1, 12), 0]
    indent = [0] * 24 + [4] * 8  # the level changes when the line's first character is read
    assert got["inside a string literal"].tolist() == string
    assert got["inside a comment"].tolist() == comment
    assert got["bracket depth"].tolist() == depth
    assert got["position in line"].tolist() == column
    assert got["indentation level"].tolist() == indent


def test_the_vocabulary_is_the_pages_ascii_one_and_other_characters_read_as_a_stand_in():
    assert pychars.VOCAB == ASCII_VOCAB
    ids = pychars.encode("é\tx\n")
    assert [pychars.VOCAB[k] for k in ids] == ["?", "?", "x", "\n"]


def test_chunks_carry_on_where_the_last_one_stopped_and_wrap_round():
    ids = np.arange(10)
    stream = pychars.chunks(ids, np.random.default_rng(0), batch=3, length=4)
    (x1, y1), (x2, y2) = next(stream), next(stream)
    assert x1.shape == (4, 3)
    assert np.array_equal(y1, (x1 + 1) % 10) and np.array_equal(y2, (x2 + 1) % 10)
    assert np.array_equal(x2[0], (x1[-1] + 1) % 10)  # each place moves on by the chunk's length


def test_the_corpus_leaves_out_the_held_out_files(tmp_path):
    for name in ("a.py", "_private.py", "this.py", "ast.py", "big.py"):
        (tmp_path / name).write_text("x = 1\n" * (20_000 if name == "big.py" else 1))
    assert pychars.train_files(tmp_path) == ("a.py",)
    real = pychars.train_files(pychars.stdlib())
    assert len(real) > 50 and not set(real) & set(pychars.HELD_OUT_FILES + FRESH_FILES)


def test_training_is_reproducible_and_learns(tmp_path):
    (tmp_path / "a.py").write_text("def f(x):\n    return (x + 1)\n" * 40)
    runs = [
        pychars.train(
            hidden=16,
            steps=150,
            batch=4,
            length=20,
            lr=0.05,
            recurrent_decay=0,
            schedule="constant",
            lib=tmp_path,
        )
        for _ in range(2)
    ]
    assert all(np.array_equal(runs[0].params[k], runs[1].params[k]) for k in runs[0].params)
    assert runs[0].loss < 0.5  # bits per character, from log2(96) ≈ 6.6: it learnt the repeated line


def test_train_lm_writes_weights_and_a_card_whose_figures_hold(tmp_path):
    out = tmp_path / "lm.safetensors"
    assert main(["train-lm", "--hidden", "8", "--steps", "20", "--out", str(out)]) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["command"].startswith("gatescope train-lm --hidden 8 ") and card["steps"] == 20
    stored = {k: v.astype(np.float64) for k, v in load_file(str(out)).items()}
    ids, _ = pychars.held_out(pychars.stdlib())
    again = pychars.read(stored, ids)
    assert again.accuracy == pytest.approx(card["accuracy"], abs=1e-6)
    assert again.bits_per_char == pytest.approx(card["bits_per_char"], abs=1e-4)


@pytest.fixture(scope="module")
def shipped():
    card = json.loads((TRAINED_DIR / "python-chars.json").read_text())
    stored = load_file(str(TRAINED_DIR / "python-chars.safetensors"))
    params = {k: v.astype(np.float64) for k, v in stored.items()}
    return card, params


def test_the_shipped_model_keeps_its_held_out_figures(shipped):
    card, params = shipped
    reading = pychars.read(params, pychars.held_out(pychars.stdlib())[0])
    # the same files, unless this Python's standard library differs from the card's
    assert reading.accuracy == pytest.approx(card["accuracy"], abs=0.01)
    assert reading.bits_per_char == pytest.approx(card["bits_per_char"], abs=0.05)


def test_the_shipped_models_best_unit_holds_on_files_no_card_measured(shipped):
    """Each fresh file read alone from a zero state, in one lane: another layout, other text."""
    card, params = shipped
    best = card["units"][0]
    assert abs(best["correlation"]) >= 0.8
    states, values, right, seen = [], [], 0, 0
    for name in FRESH_FILES:
        source = (pychars.stdlib() / name).read_text(encoding="utf-8")
        ids = pychars.encode(source)
        reading = pychars.read(params, ids, lanes=1)
        states.append(reading.states[best["layer"]][0 if best["state"] == "c" else 1][:, 0, best["unit"]])
        values.append(pychars.labels(source)[best["property"]][: len(ids) - 1])
        right += round(reading.accuracy * (len(ids) - 1))
        seen += len(ids) - 1
    r = np.corrcoef(np.concatenate(states), np.concatenate(values))[0, 1]
    assert abs(r) >= 0.8 and np.sign(r) == np.sign(best["correlation"]), r
    assert right / seen >= card["accuracy"] - 0.05
