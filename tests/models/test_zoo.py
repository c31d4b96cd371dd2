"""The built-in models (app/zoo.py) do what their descriptions say, run through app.lstm.forward."""

from __future__ import annotations

import string

import numpy as np
import pytest

from app.engine.lstm import forward, shape_of
from app.models import zoo


def one_hot(text: str, vocab: str) -> np.ndarray:
    x = np.zeros((len(text), len(vocab)))
    for t, ch in enumerate(text):
        x[t, vocab.index(ch)] = 1.0
    return x


def run_text(model: zoo.Model, text: str):
    (trace,) = forward(model.weights, one_hot(text, model.vocab))
    return trace


# --- counter --------------------------------------------------------------------------------

COUNTER_TEXTS = [
    "banana. a cat sat. aaa",
    "A man, a plan, a canal: Panama.",
    "no full stop at all in this one",
    "..a.. . A",
    "Aardvark and alpaca.\nApple pie, 3 apples. An end",
]


def expected_counts(text: str) -> list[tuple[int, int, int, int]]:
    """Per step: 'a's, characters and spaces since the last '.', and '.'s so far."""
    a = chars = spaces = dots = 0
    out = []
    for ch in text:
        if ch == ".":
            a = chars = spaces = 0
            dots += 1
        else:
            a += ch in "aA"
            chars += 1
            spaces += ch == " "
        out.append((a, chars, spaces, dots))
    return out


@pytest.mark.parametrize("text", COUNTER_TEXTS)
def test_forget_gate_closes_on_reset_token(text):
    tr = run_text(zoo.get("counter"), text)
    for t, ch in enumerate(text):
        if ch == ".":
            assert np.all(tr.f[t, :3] < 0.05), (t, tr.f[t])
        else:
            assert np.all(tr.f[t, :3] > 0.95), (t, tr.f[t])
    assert np.all(tr.f[:, 3] > 0.95)  # the sentence counter never forgets


@pytest.mark.parametrize("text", COUNTER_TEXTS)
def test_counter_cells_hold_the_counts_since_the_last_full_stop(text):
    tr = run_text(zoo.get("counter"), text)
    for t, counts in enumerate(expected_counts(text)):
        for unit, n in enumerate(counts):
            assert abs(tr.c[t, unit] - n) <= 0.01 * max(n, 1), (text[: t + 1], unit, n)


def test_counter_describes_its_units_in_order():
    m = zoo.get("counter")
    assert (m.hidden_size, m.layers, m.input_size) == (4, 1, len(m.vocab))
    assert "a" in m.units[0] and "sentence" in m.units[3]


# --- latch ----------------------------------------------------------------------------------

LATCH_UNITS = {  # unit: (what its description says, characters of that class)
    1: ("vowel", "aeiouAEIOU"),
    2: ("consonant", "".join(c for c in string.ascii_letters if c not in "aeiouAEIOU")),
    3: ("digit", string.digits),
    4: ("punctuation", " .,;:!?'\"-()\n"),
}


def latch_text(first: str, unit: int, length: int = 500) -> str:
    """first, then `length` characters cycling through every other class."""
    others = "".join(chars for u, (_, chars) in LATCH_UNITS.items() if u != unit)
    return first + (others * (length // len(others) + 1))[:length]


LATCH_FIRSTS = [("e", 1), ("U", 1), ("k", 2), ("Z", 2), ("7", 3), ("0", 3), (" ", 4), (".", 4)]


@pytest.mark.parametrize(("first", "unit"), LATCH_FIRSTS)
def test_latch_holds_the_class_of_the_first_character_to_the_end(first, unit):
    m = zoo.get("latch")
    assert LATCH_UNITS[unit][0] in m.units[unit]
    tr = run_text(m, latch_text(first, unit))
    assert tr.c[-1, unit] > 0.9
    for other in LATCH_UNITS:
        if other != unit:
            assert tr.c[-1, other] < 0.1, (other, tr.c[-1])


@pytest.mark.parametrize(("first", "unit"), LATCH_FIRSTS)
def test_latch_input_gate_shuts_after_the_first_step_and_forget_gate_stays_open(first, unit):
    tr = run_text(zoo.get("latch"), latch_text(first, unit, length=300))
    assert np.all(tr.i[0] > 0.99)  # step 0 writes
    assert np.all(tr.i[1:] < 0.01)
    assert np.all(tr.f > 0.95)


# --- gated sum ------------------------------------------------------------------------------


def run_vector(model: zoo.Model, xs: list[float]):
    (trace,) = forward(model.weights, np.array(xs, dtype=float)[:, None])
    return trace


@pytest.mark.parametrize(
    "xs", [[0.5, 1, 0.3, -1, 0.8, 0.6, 0.2], [-2.0, 0.01, -0.05, 1.5], [0.7] * 5 + [-0.7] * 5]
)
def test_gated_sum_unit_0_adds_tanh_of_every_input(xs):
    tr = run_vector(zoo.get("gated-sum"), xs)
    assert np.all(np.abs(tr.c[:, 0] - np.cumsum(np.tanh(xs))) < 1e-3)


# Unit 1's gates are σ(20x): they saturate (open or shut) only for |x| ≥ 0.5, as the model's
# page example uses; in between they are partly open by design.
@pytest.mark.parametrize(
    "xs", [[0.5, 1.0, 0.7, -1.0, 0.8, 0.6, 1.5, -0.5, 0.9], [-1.0, 2.0, -3.0, -0.5, 0.5, 0.5]]
)
def test_gated_sum_unit_1_is_wiped_by_a_negative_input_and_sums_since(xs):
    tr = run_vector(zoo.get("gated-sum"), xs)
    since = 0.0
    for t, x in enumerate(xs):
        since = 0.0 if x < 0 else since + np.tanh(x)
        if x < 0:
            assert abs(tr.c[t, 1]) < 1e-3, (t, tr.c[t])
        assert abs(tr.c[t, 1] - since) < 1e-3, (t, tr.c[t], since)


def test_gated_sum_reads_one_number_per_step():
    m = zoo.get("gated-sum")
    assert m.vocab is None
    assert (m.input_size, m.hidden_size, m.layers) == (1, 2, 1)


# --- random models and the catalogue --------------------------------------------------------


@pytest.mark.parametrize(("model_id", "H", "L"), [("random-h3-l1-s0", 3, 1), ("random-h16-l3-s42", 16, 3)])
def test_random_model_has_the_shape_its_id_asks_for(model_id, H, L):
    m = zoo.get(model_id)
    assert m.id == model_id
    assert shape_of(m.weights).hidden_size == m.hidden_size == H
    assert shape_of(m.weights).layers == m.layers == L
    assert shape_of(m.weights).input_size == m.input_size == len(m.vocab)


def test_same_random_id_gives_the_same_weights():
    before = {k: v.copy() for k, v in zoo.get("random-h5-l2-s7").weights.items()}
    # unlisted random models are rebuilt from the id every time, never cached
    after = zoo.get("random-h5-l2-s7").weights
    assert before.keys() == after.keys()
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_random_seed_changes_the_weights():
    a, b = zoo.get("random-h5-l1-s1").weights, zoo.get("random-h5-l1-s2").weights
    assert not np.array_equal(a["weight_hh_l0"], b["weight_hh_l0"])


def test_listed_offers_the_hand_built_models_and_random_ones():
    ids = [m.id for m in zoo.listed()]
    assert {"counter", "latch", "gated-sum"} <= set(ids)
    randoms = [i for i in ids if i.startswith("random-")]
    assert randoms, ids
    for model_id in randoms:
        m = zoo.get(model_id)
        assert (m.hidden_size, m.layers) == zoo.random_shape(model_id)
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    "model_id",
    [
        "nope",
        "",
        "Counter",
        "random-h8-l1",
        "random-h8-l1-s0x",
        "random-h0-l1-s0",
        "random-h8-l0-s0",
        "random-h12345-l1-s0",
        "random-h-8-l1-s0",
    ],
)
def test_get_of_an_unknown_id_raises_key_error(model_id):
    with pytest.raises(KeyError):
        zoo.get(model_id)


@pytest.mark.parametrize(
    ("model_id", "shape"),
    [
        ("random-h12-l3-s7", (12, 3)),
        ("random-h1-l1-s0", (1, 1)),
        ("random-h9999-l9-s123456789", (9999, 9)),
        ("counter", None),
        ("random-h12-l3", None),
        ("xrandom-h12-l3-s7", None),
        ("random-h12-l3-s7 ", None),
    ],
)
def test_random_shape_parses_hidden_size_and_layers_from_the_id(model_id, shape):
    assert zoo.random_shape(model_id) == shape


def test_every_listed_model_runs_and_matches_its_declared_shape():
    for m in zoo.listed():
        s = shape_of(m.weights)
        assert (s.hidden_size, s.layers, s.input_size) == (m.hidden_size, m.layers, m.input_size)
        if m.vocab is not None:
            assert len(set(m.vocab)) == len(m.vocab)
            traces = forward(m.weights, one_hot((m.vocab * 5)[:5], m.vocab))
        else:
            traces = forward(m.weights, np.ones((5, m.input_size)))
        assert len(traces) == m.layers and traces[-1].h.shape == (5, m.hidden_size)
