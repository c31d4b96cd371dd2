"""Interventions ("what if?"): the engine against the LSTM equations written out by hand with the
intervention applied, against torch.nn.LSTM for a forget bias of +1, and through POST /api/run."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import torch

from app.engine.lstm import Intervention, InterventionError, forward
from app.models import zoo
from tests.engine.test_lstm import assert_equals_torch, torch_model, torch_trace

NAMES = ("i", "f", "g", "o", "c", "h")


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def hard_sigmoid(z: np.ndarray) -> np.ndarray:
    return np.clip(0.2 * z + 0.5, 0.0, 1.0)


def by_hand(
    weights: dict[str, np.ndarray],
    x: np.ndarray,
    interventions: Sequence[dict[str, Any]] = (),
    activation: str = "sigmoid",
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
) -> list[dict[str, np.ndarray]]:
    """The equations of the issue, step by step, for one sequence x (T, I): at each (layer, step)
    the pre-activations z get every matching bias_add, then the activations, then every matching
    value replaces the gate's output, in list order; c and h follow from the gates so obtained."""
    act = sigmoid if activation == "sigmoid" else hard_sigmoid
    L = sum(1 for name in weights if name.startswith("weight_ih_l"))
    H = weights["weight_hh_l0"].shape[1]
    layers = []
    inp = x
    for k in range(L):
        W, U = weights[f"weight_ih_l{k}"], weights[f"weight_hh_l{k}"]
        b = weights.get(f"bias_ih_l{k}", np.zeros(4 * H)) + weights.get(f"bias_hh_l{k}", np.zeros(4 * H))
        h = np.zeros(H) if h0 is None else h0[k].copy()
        c = np.zeros(H) if c0 is None else c0[k].copy()
        rec: dict[str, list[np.ndarray]] = {name: [] for name in NAMES}
        for t in range(inp.shape[0]):
            z = W @ inp[t] + U @ h + b  # rows i, f, g, o
            pre = {"i": z[:H], "f": z[H : 2 * H], "g": z[2 * H : 3 * H], "o": z[3 * H :]}
            here = [iv for iv in interventions if iv.get("layer") in (None, k) and iv.get("t") in (None, t)]
            for iv in here:
                if "bias_add" in iv:
                    units = slice(None) if iv.get("unit") is None else iv["unit"]
                    pre[iv["gate"]][units] += iv["bias_add"]
            gate = {"i": act(pre["i"]), "f": act(pre["f"]), "g": np.tanh(pre["g"]), "o": act(pre["o"])}
            for iv in here:
                if "value" in iv:
                    units = slice(None) if iv.get("unit") is None else iv["unit"]
                    gate[iv["gate"]][units] = iv["value"]
            c = gate["f"] * c + gate["i"] * gate["g"]
            h = gate["o"] * np.tanh(c)
            for name, v in (*gate.items(), ("c", c), ("h", h)):
                rec[name].append(np.array(v))
        layers.append({name: np.array(v) for name, v in rec.items()})
        inp = layers[-1]["h"]
    return layers


def run(weights, x, interventions, **kwargs):
    """The engine, with the same interventions given as the issue's dicts."""
    return forward(weights, x, interventions=[Intervention(**iv) for iv in interventions], **kwargs)


def assert_matches(traces, expected, tol: float = 1e-12) -> None:
    assert len(traces) == len(expected)
    for k, (tr, ref) in enumerate(zip(traces, expected, strict=True)):
        for name in NAMES:
            got = getattr(tr, name)
            assert got.shape == ref[name].shape, (k, name)
            diff = np.max(np.abs(got - ref[name]))
            assert diff <= tol, f"layer {k} {name}: max |engine - by hand| = {diff:.3g}"


def tiny(I: int = 2, H: int = 3, L: int = 1, T: int = 9, seed: int = 0):
    """Random weights wide enough to use the whole range of every gate, inputs, and a nonzero start."""
    rng = np.random.default_rng(seed)
    weights = {}
    for k in range(L):
        weights[f"weight_ih_l{k}"] = rng.normal(size=(4 * H, I if k == 0 else H))
        weights[f"weight_hh_l{k}"] = rng.normal(size=(4 * H, H))
        weights[f"bias_ih_l{k}"] = rng.normal(size=4 * H)
        weights[f"bias_hh_l{k}"] = rng.normal(size=4 * H)
    x = 1.5 * rng.normal(size=(T, I))
    h0 = rng.uniform(-1, 1, size=(L, H))
    c0 = rng.normal(size=(L, H))
    return weights, x, h0, c0


def one_hot(text: str, vocab: str) -> np.ndarray:
    x = np.zeros((len(text), len(vocab)))
    x[np.arange(len(text)), [vocab.index(ch) for ch in text]] = 1.0
    return x


# --- the engine against the equations by hand --------------------------------------------------


@pytest.mark.parametrize("L", [1, 2])
def test_forget_gate_switched_off_is_the_lstm_without_a_forget_gate(L):
    weights, x, h0, c0 = tiny(L=L, seed=1)
    ivs = [{"gate": "f", "value": 1.0}]
    traces = run(weights, x, ivs, h0=h0, c0=c0)
    assert_matches(traces, by_hand(weights, x, ivs, h0=h0, c0=c0))
    for k, tr in enumerate(traces):
        assert np.all(tr.f == 1.0) and tr.clamped("f").all() and not tr.clamped("i").any()
        c_prev = np.vstack([c0[k][None], tr.c[:-1]])
        np.testing.assert_allclose(tr.c, c_prev + tr.i * tr.g, rtol=0, atol=1e-12)  # c only accumulates


def test_forget_gate_forced_shut_leaves_no_memory():
    weights, x, h0, c0 = tiny(H=3, seed=2)
    ivs = [{"gate": "f", "value": 0.0}]
    (tr,) = run(weights, x, ivs, h0=h0, c0=c0)
    assert_matches([tr], by_hand(weights, x, ivs, h0=h0, c0=c0))
    assert np.array_equal(tr.c, tr.i * tr.g)  # exactly: c_{t-1} counts for nothing, c0 included


@pytest.mark.parametrize("L", [1, 2])
def test_forget_bias_plus_one_equals_torch_with_one_added_to_the_forget_rows_of_bias_ih(L):
    model, weights = torch_model(2, 3, L, seed=40 + L)
    x = 2.0 * torch.randn(11, 2, dtype=torch.float64)
    ivs = [{"gate": "f", "bias_add": 1.0}]
    traces = run(weights, x.numpy(), ivs)
    assert_matches(traces, by_hand(weights, x.numpy(), ivs))
    with torch.no_grad():  # the oracle: torch itself, its forget rows (H … 2H-1) moved by +1
        for k in range(L):
            getattr(model, f"bias_ih_l{k}")[3:6] += 1.0
    assert_equals_torch(traces, torch_trace(model, x))
    plain = forward(weights, x.numpy())
    for tr, before in zip(traces, plain, strict=True):
        assert set(tr.shifts) == {"f"} and np.array_equal(tr.shift("f"), np.ones((11, 3)))
        assert not tr.clamps and not tr.clamped("f").any()
        x_part, h_part, b = tr.parts("f")
        np.testing.assert_allclose(tr.pre("f"), x_part + h_part + b + 1.0, rtol=0, atol=1e-15)
        np.testing.assert_allclose(tr.f, sigmoid(tr.pre("f")), rtol=0, atol=1e-15)
        assert np.all(tr.f > before.f)  # the shift opens the forget gate everywhere


def test_a_clamp_at_one_step_and_unit_changes_that_cell_and_only_what_follows():
    weights, x, h0, c0 = tiny(I=2, H=3, T=10, seed=3)
    ivs = [{"gate": "f", "value": 0.2, "t": 5, "unit": 1}]
    (tr,) = run(weights, x, ivs, h0=h0, c0=c0)
    assert_matches([tr], by_hand(weights, x, ivs, h0=h0, c0=c0))
    (before,) = forward(weights, x, h0=h0, c0=c0)
    assert tr.f[5, 1] == 0.2 and before.f[5, 1] != 0.2
    for name in NAMES:
        assert np.array_equal(getattr(tr, name)[:5], getattr(before, name)[:5]), name  # the past stands
    for name in ("i", "g", "o"):  # step 5's gates come from h_4, which has not changed
        assert np.array_equal(getattr(tr, name)[5], getattr(before, name)[5]), name
    assert np.array_equal(np.delete(tr.f[5], 1), np.delete(before.f[5], 1))
    assert np.array_equal(np.delete(tr.c[5], 1), np.delete(before.c[5], 1))
    assert tr.c[5, 1] != before.c[5, 1] and np.all(tr.h[6:] != before.h[6:])  # ... and the future moves
    expected = np.zeros((10, 3), dtype=bool)
    expected[5, 1] = True
    assert np.array_equal(tr.clamped("f"), expected) and set(tr.clamps) == {"f"} and not tr.shifts


def test_a_clamp_on_the_candidate_g():
    weights, x, h0, c0 = tiny(I=2, H=2, T=8, seed=4)
    ivs = [{"gate": "g", "value": -0.7, "unit": 0}, {"gate": "g", "value": 0.9, "t": 6}]
    (tr,) = run(weights, x, ivs, h0=h0, c0=c0)
    assert_matches([tr], by_hand(weights, x, ivs, h0=h0, c0=c0))
    assert np.all(tr.g[:6, 0] == -0.7) and np.all(tr.g[6] == 0.9) and tr.g[7, 0] == -0.7
    assert tr.clamped("g")[:, 0].all() and tr.clamped("g")[6].all() and not tr.clamped("g")[7, 1]


def test_a_clamp_in_layer_1_changes_layer_1_from_that_step_on_and_never_layer_0():
    weights, x, h0, c0 = tiny(I=2, H=3, L=2, T=9, seed=5)
    ivs = [{"gate": "o", "value": 0.0, "t": 4, "unit": 2, "layer": 1}]
    traces = run(weights, x, ivs, h0=h0, c0=c0)
    assert_matches(traces, by_hand(weights, x, ivs, h0=h0, c0=c0))
    plain = forward(weights, x, h0=h0, c0=c0)
    for name in NAMES:
        assert np.array_equal(getattr(traces[0], name), getattr(plain[0], name)), name
        assert np.array_equal(getattr(traces[1], name)[:4], getattr(plain[1], name)[:4]), name
    assert traces[1].h[4, 2] == 0.0 and plain[1].h[4, 2] != 0.0
    assert np.all(traces[1].h[5:] != plain[1].h[5:])
    assert not traces[0].clamps and traces[1].clamped("o").sum() == 1


def test_a_clamp_in_layer_0_reaches_layer_1():
    weights, x, h0, c0 = tiny(I=2, H=3, L=2, T=7, seed=6)
    ivs = [{"gate": "i", "value": 1.0, "t": 2, "layer": 0}]
    traces = run(weights, x, ivs, h0=h0, c0=c0)
    assert_matches(traces, by_hand(weights, x, ivs, h0=h0, c0=c0))
    plain = forward(weights, x, h0=h0, c0=c0)
    assert np.array_equal(traces[1].h[:2], plain[1].h[:2])
    assert np.all(traces[1].h[2:] != plain[1].h[2:])  # layer 1 reads the changed h of layer 0
    assert not traces[1].clamps


def test_clamps_compose_in_list_order_the_later_one_winning():
    weights, x, h0, c0 = tiny(I=2, H=3, T=8, seed=7)
    one = {"gate": "f", "value": 0.2, "t": 3, "unit": 1}
    everywhere = {"gate": "f", "value": 0.9}
    for ivs, at_3_1 in (([one, everywhere], 0.9), ([everywhere, one], 0.2)):
        (tr,) = run(weights, x, ivs, h0=h0, c0=c0)
        assert_matches([tr], by_hand(weights, x, ivs, h0=h0, c0=c0))
        assert tr.f[3, 1] == at_3_1
        assert np.sum(tr.f == 0.9) == 8 * 3 - (at_3_1 != 0.9)
        assert tr.clamped("f").all()


def test_bias_shifts_add_up_and_a_clamp_overrides_a_shifted_gate():
    weights, x, h0, c0 = tiny(I=2, H=3, T=8, seed=8)
    ivs = [
        {"gate": "f", "bias_add": 0.25},
        {"gate": "f", "bias_add": 0.75, "t": 2},
        {"gate": "i", "bias_add": -2.0, "unit": 0},
        {"gate": "i", "value": 0.5, "t": 6, "unit": 0},
        {"gate": "i", "bias_add": 1.5, "t": 6},  # a later shift does not undo an earlier clamp
    ]
    (tr,) = run(weights, x, ivs, h0=h0, c0=c0)
    assert_matches([tr], by_hand(weights, x, ivs, h0=h0, c0=c0))
    shift_f = np.full((8, 3), 0.25)
    shift_f[2] = 1.0
    shift_i = np.zeros((8, 3))
    shift_i[:, 0] = -2.0
    shift_i[6] += 1.5
    assert np.array_equal(tr.shift("f"), shift_f) and np.array_equal(tr.shift("i"), shift_i)
    assert tr.i[6, 0] == 0.5 and tr.clamped("i").sum() == 1
    assert set(tr.shifts) == {"i", "f"} and np.array_equal(tr.shift("g"), np.zeros((8, 3)))


def test_shifts_that_cancel_out_leave_the_run_as_it_was():
    weights, x, h0, c0 = tiny(seed=9)
    (tr,) = run(weights, x, [{"gate": "o", "bias_add": 1.0}, {"gate": "o", "bias_add": -1.0}], h0=h0, c0=c0)
    (before,) = forward(weights, x, h0=h0, c0=c0)
    assert not tr.shifts and all(np.array_equal(getattr(tr, n), getattr(before, n)) for n in NAMES)


@pytest.mark.parametrize(
    "ivs",
    [
        [{"gate": "i", "bias_add": 3.0}, {"gate": "o", "value": 0.4, "t": 3}],
        [{"gate": "f", "bias_add": -4.0, "unit": 1}, {"gate": "g", "bias_add": 0.5}],
        [{"gate": "f", "value": 1.0}, {"gate": "o", "bias_add": 2.0, "t": 1, "layer": 1}],
    ],
)
def test_hard_sigmoid_models_take_interventions_as_the_keras_formula_does(ivs):
    weights, x, h0, c0 = tiny(I=3, H=3, L=2, T=9, seed=10)
    traces = run(weights, x, ivs, h0=h0, c0=c0, gate_activation="hard_sigmoid")
    assert_matches(traces, by_hand(weights, x, ivs, "hard_sigmoid", h0=h0, c0=c0))
    assert any(np.any((tr.i == 0) | (tr.i == 1) | (tr.f == 0)) for tr in traces)  # the clip was reached


def test_a_batch_takes_the_interventions_in_every_sequence():
    weights, _, _, _ = tiny(I=2, H=3, L=2, seed=11)
    rng = np.random.default_rng(11)
    T, B = 7, 4
    x = 1.5 * rng.normal(size=(T, B, 2))
    h0, c0 = rng.uniform(-1, 1, size=(2, 2, B, 3))
    ivs = [
        {"gate": "f", "bias_add": 1.0},
        {"gate": "g", "value": 0.3, "t": 2, "unit": 1},
        {"gate": "o", "value": 1.0, "layer": 1, "unit": 0},
    ]
    traces = run(weights, x, ivs, h0=h0, c0=c0)
    for b in range(B):
        expected = by_hand(weights, x[:, b], ivs, h0=h0[:, b], c0=c0[:, b])
        for k, (tr, ref) in enumerate(zip(traces, expected, strict=True)):
            for name in NAMES:
                diff = np.max(np.abs(getattr(tr, name)[:, b] - ref[name]))
                assert diff <= 1e-12, (b, k, name, diff)
    assert traces[0].shift("f").shape == traces[0].clamped("g").shape == (T, B, 3)
    assert np.all(traces[1].clamped("o")[:, :, 0]) and not traces[1].clamped("o")[:, :, 1:].any()
    assert np.all(traces[0].g[2, :, 1] == 0.3)


def test_the_pre_activation_used_is_the_parts_plus_the_shift_and_clamped_cells_say_so():
    weights, x, h0, c0 = tiny(I=3, H=4, L=2, T=12, seed=12)
    ivs = [
        {"gate": "f", "bias_add": 1.0},
        {"gate": "i", "bias_add": -0.5, "t": 3},
        {"gate": "g", "value": -1.0, "unit": 2, "layer": 0},
        {"gate": "o", "value": 0.25, "t": 7, "unit": 1},
    ]
    layer_input = x
    for k, tr in enumerate(run(weights, x, ivs, h0=h0, c0=c0)):
        h_prev = np.vstack([h0[k][None], tr.h[:-1]])
        for n, gate in enumerate("ifgo"):
            rows = slice(4 * n, 4 * n + 4)
            W, U = weights[f"weight_ih_l{k}"][rows], weights[f"weight_hh_l{k}"][rows]
            b_sum = weights[f"bias_ih_l{k}"][rows] + weights[f"bias_hh_l{k}"][rows]
            z = layer_input @ W.T + h_prev @ U.T + b_sum
            x_part, h_part, b = tr.parts(gate)
            np.testing.assert_allclose(x_part + h_part + b, z, rtol=0, atol=1e-12)  # parts as before
            pre = tr.pre(gate)
            act = np.tanh(pre) if gate == "g" else sigmoid(pre)
            free = ~tr.clamped(gate)
            assert np.max(np.abs(act[free] - getattr(tr, gate)[free]), initial=0) <= 1e-12, (k, gate)
        assert np.all(tr.o[tr.clamped("o")] == 0.25) and np.all(tr.g[tr.clamped("g")] == -1.0)
        layer_input = tr.h
    assert tr.clamped("o").sum() == 1 and not tr.clamped("g").any()  # layer 1: o clamped, g not


# --- the demonstrations of the issue, on the counter -------------------------------------------


def test_without_a_forget_gate_the_counter_cell_state_runs_away():
    m = zoo.get("counter")
    sentence = "aaa bb. "
    text = sentence * 60
    x = one_hot(text, m.vocab)
    (kept,) = forward(m.weights, x)
    (runaway,) = run(m.weights, x, [{"gate": "f", "value": 1.0}])
    # Units 0-2 count a's, characters, spaces since the last '.': at most 3, 7 and 2 with the gate,
    # and every a, character and space of the whole text without it.
    assert np.max(np.abs(kept.c[:, :3])) < 7.5
    counts = [text.count("a"), sum(ch != "." for ch in text), text.count(" ")]
    np.testing.assert_allclose(runaway.c[-1, :3], counts, rtol=1e-3)
    assert np.all(np.abs(runaway.c[-1, :3]) > 40 * np.max(np.abs(kept.c[:, :3]), axis=0))
    ends = runaway.c[len(sentence) - 1 :: len(sentence), 1]  # the count after each sentence
    assert np.all(np.diff(ends) > 6.9)  # grows by 7 a sentence, without bound
    assert np.all(np.abs(runaway.h) <= 1)  # h = o·tanh(c) stays bounded while c runs away


def test_with_the_forget_gate_shut_the_counter_cell_is_exactly_i_times_g():
    m = zoo.get("counter")
    x = one_hot("a banana. an apple. aardvark", m.vocab)
    (tr,) = run(m.weights, x, [{"gate": "f", "value": 0.0}])
    assert np.array_equal(tr.c, tr.i * tr.g)
    assert np.max(tr.c) < 1.0  # nothing is counted beyond the current character


# --- against torch.nn.LSTM, and by hand, to 1e-12 ---------------------------------------------

EXACT = 1e-12


def as_torch(weights: dict[str, np.ndarray], L: int, H: int, I: int) -> torch.nn.LSTM:
    model = torch.nn.LSTM(I, H, num_layers=L).double()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    return model


def wide(batch: tuple[int, ...], seed: int = 13, T: int = 20):
    """A 3-layer LSTM (I = 5, H = 6) with wide weights, T steps of inputs (T, [B,] 5) and a start."""
    rng = np.random.default_rng(seed)
    weights, _, _, _ = tiny(I=5, H=6, L=3, seed=seed)
    x = 2 * rng.normal(size=(T, *batch, 5))
    h0, c0 = rng.normal(size=(2, 3, *batch, 6))
    return weights, x, h0, c0


@pytest.mark.parametrize("batch", [(), (3,)])
def test_without_interventions_the_engine_equals_torch_to_1e_12(batch):
    weights, x, h0, c0 = wide(batch)
    model = as_torch(weights, 3, 6, 5)
    expected = torch_trace(model, torch.from_numpy(x), torch.from_numpy(h0), torch.from_numpy(c0))
    for ivs in (None, (), []):
        kwargs = {} if ivs is None else {"interventions": ivs}
        traces = forward(weights, x, h0, c0, **kwargs)
        assert_equals_torch(traces, expected, tol=EXACT)
        assert all(not tr.shifts and not tr.clamps for tr in traces)


@pytest.mark.parametrize("batch", [(), (3,)])
def test_without_interventions_hard_sigmoid_is_the_keras_formula_to_1e_12(batch):
    weights, x, h0, c0 = wide(batch)
    traces = forward(weights, x, h0, c0, gate_activation="hard_sigmoid")
    for b in np.ndindex(*batch):  # one sequence at a time, as by_hand takes them (b = () unbatched)
        seq = (slice(None), *b)  # x is (T, [B,] I); h0, c0 (layers, [B,] H); traces (T, [B,] H)
        expected = by_hand(weights, x[seq], activation="hard_sigmoid", h0=h0[seq], c0=c0[seq])
        for k, (tr, ref) in enumerate(zip(traces, expected, strict=True)):
            for name in NAMES:
                assert np.max(np.abs(getattr(tr, name)[seq] - ref[name])) <= EXACT, (b, k, name)
    assert any(np.any(tr.f == 0) | np.any(tr.i == 1) for tr in traces)  # the clip was reached


# Clamps to a gate's bound at every step are an LSTM whose bias is infinite on the gate's rows:
# σ(+∞) = 1 (f ≡ 1, the LSTM of 1997), σ(−∞) = 0, tanh(±∞) = ±1. torch.nn.LSTM runs them as is.
BOUND_CLAMPS = [
    {"gate": "f", "value": 1.0},
    {"gate": "f", "value": 0.0, "unit": 2, "layer": 1},  # the later clamp wins on that cell
    {"gate": "g", "value": -1.0, "layer": 2},
    {"gate": "i", "value": 1.0, "unit": 0, "layer": 0},
    {"gate": "o", "value": 0.0, "unit": 4},
]


def with_infinite_biases(weights: dict[str, np.ndarray], clamps, L: int, H: int) -> dict[str, np.ndarray]:
    out = {k: v.copy() for k, v in weights.items()}
    for cl in clamps:
        row = "ifgo".index(cl["gate"]) * H
        units = range(H) if cl.get("unit") is None else [cl["unit"]]
        for k in range(L) if cl.get("layer") is None else [cl["layer"]]:
            for u in units:  # both biases, so that no +∞ meets a −∞
                out[f"bias_ih_l{k}"][row + u] = out[f"bias_hh_l{k}"][row + u] = (
                    np.inf if cl["value"] > 0 else -np.inf
                )
    return out


@pytest.mark.parametrize("batch", [(), (3,)])
def test_clamps_at_a_gates_bound_equal_torch_lstm_with_infinite_biases(batch):
    weights, x, h0, c0 = wide(batch)
    traces = run(weights, x, BOUND_CLAMPS, h0=h0, c0=c0)
    model = as_torch(with_infinite_biases(weights, BOUND_CLAMPS, 3, 6), 3, 6, 5)
    with torch.no_grad():
        out, (h_n, c_n) = model(torch.from_numpy(x), (torch.from_numpy(h0), torch.from_numpy(c0)))
    assert np.max(np.abs(traces[-1].h - out.numpy())) <= EXACT
    assert np.max(np.abs(np.stack([tr.h[-1] for tr in traces]) - h_n.numpy())) <= EXACT
    assert np.max(np.abs(np.stack([tr.c[-1] for tr in traces]) - c_n.numpy())) <= EXACT
    assert np.all(traces[1].f[..., 2] == 0.0) and np.all(np.delete(traces[1].f, 2, axis=-1) == 1.0)
    # ... and every gate of every layer, from torch's cells with the clamps applied by hand
    x, h0, c0 = (torch.from_numpy(a) for a in (x, h0, c0))
    assert_equals_torch(traces, torch_trace(as_torch(weights, 3, 6, 5), x, h0, c0, BOUND_CLAMPS), tol=EXACT)


@pytest.mark.parametrize("batch", [(), (3,)])
def test_clamps_at_one_step_equal_torch_cells_clamped_by_hand(batch):
    weights, x, h0, c0 = wide(batch, seed=15)
    clamps = [
        {"gate": "f", "value": 0.2, "t": 5, "unit": 1},
        {"gate": "g", "value": -0.7, "unit": 0, "layer": 0},
        {"gate": "g", "value": 0.9, "t": 6},  # wins over the one above at t = 6 in layer 0
        {"gate": "o", "value": 0.4, "t": 0, "layer": 2},
        {"gate": "i", "value": 0.6, "t": 19, "unit": 5, "layer": 1},
    ]
    traces = run(weights, x, clamps, h0=h0, c0=c0)
    x, h0, c0 = (torch.from_numpy(a) for a in (x, h0, c0))
    assert_equals_torch(traces, torch_trace(as_torch(weights, 3, 6, 5), x, h0, c0, clamps), tol=EXACT)
    assert np.all(traces[0].g[6] == 0.9) and np.all(traces[0].g[7:, ..., 0] == -0.7)


@pytest.mark.parametrize("batch", [(), (3,)])
def test_shifts_at_every_step_equal_torch_with_the_shift_added_to_bias_ih(batch):
    weights, x, h0, c0 = wide(batch, seed=16)
    shifts = [
        {"gate": "g", "bias_add": 0.75},
        {"gate": "o", "bias_add": -1.5, "unit": 3},
        {"gate": "i", "bias_add": 2.0, "layer": 1},
        {"gate": "f", "bias_add": 0.5, "unit": 0, "layer": 2},
        {"gate": "f", "bias_add": 0.25, "unit": 0, "layer": 2},  # shifts of one cell add up
    ]
    traces = run(weights, x, shifts, h0=h0, c0=c0)
    shifted = {k: v.copy() for k, v in weights.items()}
    for iv in shifts:
        row = "ifgo".index(iv["gate"]) * 6
        units = slice(row, row + 6) if iv.get("unit") is None else row + iv["unit"]
        for k in range(3) if iv.get("layer") is None else [iv["layer"]]:
            shifted[f"bias_ih_l{k}"][units] += iv["bias_add"]
    x, h0, c0 = (torch.from_numpy(a) for a in (x, h0, c0))
    assert_equals_torch(traces, torch_trace(as_torch(shifted, 3, 6, 5), x, h0, c0), tol=EXACT)


def sig(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


# One unit, one input, no bias_hh (it counts as zero); rows in the order i, f, g, o.
ONE_UNIT = {
    "weight_ih_l0": np.array([[0.5], [-1.0], [2.0], [0.5]]),
    "weight_hh_l0": np.array([[-1.0], [2.0], [0.5], [-1.0]]),
    "bias_ih_l0": np.array([0.5, 2.0, -1.0, 0.0]),
}


def test_two_steps_by_hand_with_a_shift_then_a_clamp():
    ivs = [{"gate": "g", "bias_add": 2.0, "t": 0}, {"gate": "f", "value": 1.0, "t": 1}]
    (tr,) = run(ONE_UNIT, np.array([[2.0], [-1.0]]), ivs)  # x_0 = 2, x_1 = -1; h, c start at 0
    # t = 0: z = W·2 + b, plus 2 on g's pre-activation.
    i0, f0, g0, o0 = sig(0.5 * 2 + 0.5), sig(-1.0 * 2 + 2.0), math.tanh(2.0 * 2 - 1.0 + 2.0), sig(0.5 * 2)
    c0 = f0 * 0.0 + i0 * g0  # = σ(1.5)·tanh(5)
    h0 = o0 * math.tanh(c0)
    # t = 1: z = W·(-1) + U·h_0 + b, and f replaced by 1: the cell keeps all of c_0.
    i1 = sig(0.5 * -1 + 0.5 - 1.0 * h0)
    g1 = math.tanh(2.0 * -1 - 1.0 + 0.5 * h0)
    o1 = sig(0.5 * -1 - 1.0 * h0)
    c1 = 1.0 * c0 + i1 * g1
    h1 = o1 * math.tanh(c1)
    expected = {"i": [i0, i1], "f": [f0, 1.0], "g": [g0, g1], "o": [o0, o1], "c": [c0, c1], "h": [h0, h1]}
    for name, values in expected.items():
        assert getattr(tr, name)[:, 0].tolist() == pytest.approx(values, rel=0, abs=1e-15), name
    assert f0 == 0.5 and tr.f[1, 0] == 1.0  # z_f = 0 at t = 0; the clamp is exact


def test_one_step_of_hard_sigmoid_by_hand_reaches_both_clips_and_takes_a_clamp():
    (tr,) = run(ONE_UNIT, np.array([[6.0]]), [{"gate": "o", "value": 0.5}], gate_activation="hard_sigmoid")
    # z = W·6 + b = (3.5, -4, 11, 3): 0.2·z + 0.5 = (1.2, -0.3, ·, 1.1), clipped to (1, 0, ·, 1).
    i, f, g = 1.0, 0.0, math.tanh(11.0)
    c = f * 0.0 + i * g
    h = 0.5 * math.tanh(c)  # o replaced by 0.5 (it would have been 1)
    got = [getattr(tr, name)[0, 0] for name in NAMES]
    assert got == pytest.approx([i, f, g, 0.5, c, h], rel=0, abs=1e-15)


# --- bad interventions, in the engine ----------------------------------------------------------

ENGINE_BAD = {  # id: (the intervention, the field named, words in the message)
    "unknown-gate": (Intervention("c", value=0.5), "gate", ["'c'", "i, f, g, o"]),
    "value-and-bias_add": (Intervention("f", value=0.5, bias_add=1.0), None, ["exactly one"]),
    "neither": (Intervention("f"), None, ["exactly one", "value", "bias_add"]),
    "nan-value": (Intervention("f", value=float("nan")), "value", ["finite"]),
    "infinite-bias_add": (Intervention("f", bias_add=float("inf")), "bias_add", ["finite"]),
    "t-beyond": (Intervention("f", value=1.0, t=6), "t", ["t = 6", "6 step(s)", "0 to 5"]),
    "t-negative": (Intervention("f", value=1.0, t=-1), "t", ["t = -1", "0 to 5"]),
    "unit-beyond": (Intervention("f", value=1.0, unit=3), "unit", ["unit = 3", "3 hidden unit(s)", "0 to 2"]),
    "layer-beyond": (Intervention("f", value=1.0, layer=2), "layer", ["layer = 2", "2 layer(s)", "0 to 1"]),
    "t-not-an-integer": (Intervention("f", value=1.0, t=1.5), "t", ["integer"]),
}


@pytest.mark.parametrize(("bad", "field", "words"), ENGINE_BAD.values(), ids=ENGINE_BAD)
def test_the_engine_refuses_a_bad_intervention_naming_it(bad, field, words):
    weights, x, _, _ = tiny(I=2, H=3, L=2, T=6, seed=14)
    ok = Intervention("f", value=1.0)
    with pytest.raises(InterventionError) as err:
        forward(weights, x, interventions=[ok, ok, bad])
    assert isinstance(err.value, ValueError)
    assert (err.value.index, err.value.field) == (2, field)
    assert str(err.value).startswith("intervention 2: ")
    for word in words:
        assert word in str(err.value), (word, str(err.value))


# --- through POST /api/run ---------------------------------------------------------------------

ISSUE_EXAMPLES = [  # as the issue writes them
    {"gate": "f", "value": 1.0},
    {"gate": "f", "bias_add": 1.0},
    {"gate": "f", "value": 0.2, "t": 5, "unit": 3},
]
COUNTER_TEXT = "aa. ab. a bc."


@pytest.mark.parametrize(
    "ivs", [[iv] for iv in ISSUE_EXAMPLES] + [ISSUE_EXAMPLES], ids=["off", "bias", "cell", "all-three"]
)
def test_the_issue_examples_run_on_the_counter_as_by_hand(client, ivs):
    body = {
        "model": "counter",
        "text": COUNTER_TEXT,
        "interventions": ivs,
        "precision": "float64",
        "include": ["parts"],
    }
    r = client.post("/api/run", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["interventions"] == ivs  # echoed as given
    m = zoo.get("counter")
    (expected,) = by_hand(m.weights, one_hot(COUNTER_TEXT, m.vocab), ivs)
    (layer,) = out["layers"]
    for name in NAMES:
        assert np.max(np.abs(np.array(layer[name]) - expected[name])) <= 1e-12, name
    shifted = any("bias_add" in iv for iv in ivs)
    for gate in "ifgo":
        assert {"input", "recurrent", "bias"} <= set(layer["parts"][gate])
        assert ("shift" in layer["parts"][gate]) == (shifted and gate == "f")
    if shifted:
        assert np.array_equal(layer["parts"]["f"]["shift"], np.ones((len(COUNTER_TEXT), 4)))
    if ISSUE_EXAMPLES[2] in ivs:
        assert layer["f"][5][3] == 0.2


def test_the_clamped_values_come_back_as_sent_in_float32(client):
    body = {"model": "counter", "text": COUNTER_TEXT, "interventions": ISSUE_EXAMPLES}
    r = client.post("/api/run", json=body)
    f = np.array(r.json()["layers"][0]["f"], dtype=np.float32)
    assert f[5, 3] == np.float32(0.2) and np.sum(f == 1.0) == f.size - 1


def test_a_layer_1_shift_comes_back_in_layer_1s_parts_only(client):
    body = {
        "model": "random-h5-l2-s3",
        "text": "hello",
        "include": ["parts"],
        "interventions": [{"gate": "o", "bias_add": -2.0, "layer": 1, "t": 3}],
    }
    r = client.post("/api/run", json=body)
    assert r.status_code == 200, r.text
    layer0, layer1 = r.json()["layers"]
    assert all("shift" not in part for part in layer0["parts"].values())
    assert [g for g, part in layer1["parts"].items() if "shift" in part] == ["o"]
    expected = np.zeros((5, 5))
    expected[3] = -2.0
    assert np.array_equal(layer1["parts"]["o"]["shift"], expected)


def test_an_answer_without_interventions_is_as_before_plus_an_empty_echo(client):
    r = client.post("/api/run", json={"model": "counter", "text": "ab.", "include": ["parts"]})
    assert r.status_code == 200
    out = r.json()
    assert out["interventions"] == []
    parts = out["layers"][0]["parts"].values()
    assert all(set(part) == {"input", "recurrent", "bias", "pre"} for part in parts)


BAD_API = {  # id: (interventions, words in "error", "loc")
    "unknown-gate": (
        [{"gate": "c", "value": 0.5}],
        ["interventions[0].gate", "'i', 'f', 'g' or 'o'"],
        ["interventions", 0, "gate"],
    ),
    "value-and-bias_add": (
        [{"gate": "f", "value": 0.5, "bias_add": 1.0}],
        ["interventions[0]", "exactly one"],
        ["interventions", 0],
    ),
    "neither": (
        [{"gate": "f", "t": 1}],
        ["interventions[0]", "exactly one", "'value'", "'bias_add'"],
        ["interventions", 0],
    ),
    "f-value-above-1": (
        [{"gate": "f", "value": 1.5}],
        ["interventions[0].value", "forget gate", "[0, 1]", "1.5"],
        ["interventions", 0, "value"],
    ),
    "i-value-below-0": (
        [{"gate": "i", "value": -0.1}],
        ["input gate", "[0, 1]", "-0.1"],
        ["interventions", 0, "value"],
    ),
    "g-value-below-minus-1": (
        [{"gate": "g", "value": -1.5}],
        ["candidate g", "[-1, 1]"],
        ["interventions", 0, "value"],
    ),
    "t-beyond-the-sequence": (
        [{"gate": "f", "value": 1.0}, {"gate": "f", "value": 0.5, "t": 3}],
        ["interventions[1].t", "t = 3", "3 step(s)", "0 to 2"],
        ["interventions", 1, "t"],
    ),
    "unit-beyond-H": (
        [{"gate": "o", "value": 0.5, "unit": 4}],
        ["interventions[0].unit", "4 hidden unit(s)"],
        ["interventions", 0, "unit"],
    ),
    "layer-beyond-layers": (
        [{"gate": "o", "bias_add": 1.0, "layer": 1}],
        ["interventions[0].layer", "1 layer(s)"],
        ["interventions", 0, "layer"],
    ),
    "negative-t": (
        [{"gate": "f", "value": 1.0, "t": -1}],
        ["interventions[0].t", "greater than or equal to 0"],
        ["interventions", 0, "t"],
    ),
    "fractional-unit": (
        [{"gate": "f", "value": 1.0, "unit": 1.5}],
        ["interventions[0].unit", "integer"],
        ["interventions", 0, "unit"],
    ),
    "65-interventions": (
        [{"gate": "f", "value": 1.0}] * 65,
        ["interventions", "at most 64"],
        ["interventions"],
    ),
    "huge-bias_add": (
        [{"gate": "f", "bias_add": 1e9}],
        ["interventions[0].bias_add", "100"],
        ["interventions", 0, "bias_add"],
    ),
    "unexpected-key": (
        [{"gate": "f", "value": 1.0, "step": 2}],
        ["interventions[0].step", "unexpected key"],
        ["interventions", 0, "step"],
    ),
    "not-a-list": ({"gate": "f", "value": 1.0}, ["interventions", "list"], ["interventions"]),
    "missing-gate": ([{"value": 1.0}], ["interventions[0].gate"], ["interventions", 0, "gate"]),
}


def assert_refused(r, words: list[str], loc: list) -> None:
    assert r.status_code == 422, (r.status_code, r.text[:500])
    body = r.json()
    for word in words:
        assert word in body["error"], (word, body["error"])
    assert body["loc"] == loc, body


@pytest.mark.parametrize(("ivs", "words", "loc"), BAD_API.values(), ids=BAD_API)
def test_a_bad_intervention_is_refused_saying_what_and_where(client, ivs, words, loc):
    assert_refused(
        client.post("/api/run", json={"model": "counter", "text": "ab.", "interventions": ivs}), words, loc
    )


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_a_bias_add_that_is_not_finite_is_refused(client, literal):
    raw = '{"model": "counter", "text": "ab.", "interventions": [{"gate": "f", "bias_add": LITERAL}]}'
    raw = raw.replace("LITERAL", literal)
    r = client.post("/api/run", content=raw.encode(), headers={"content-type": "application/json"})
    assert_refused(r, ["interventions[0].bias_add", "finite"], ["interventions", 0, "bias_add"])


def test_the_answer_limit_counts_the_shift_arrays(make_client):
    c = make_client(max_values=400)
    body = {"model": "counter", "text": "abcde", "include": ["parts"]}  # 5 steps × 4 units
    assert c.post("/api/run", json=body).status_code == 200  # 18 arrays: 360
    one = [{"gate": "f", "bias_add": 1.0}, {"gate": "f", "bias_add": 1.0, "t": 1}]
    assert c.post("/api/run", json={**body, "interventions": one}).status_code == 200  # 19: 380
    two = [*one, {"gate": "g", "value": 0.5}, {"gate": "i", "bias_add": 1.0}, {"gate": "o", "bias_add": 1.0}]
    r = c.post("/api/run", json={**body, "interventions": two})  # 21 arrays: 420
    assert r.status_code == 422 and "420 numbers" in r.json()["error"] and "21 arrays" in r.json()["error"]


def test_the_openapi_document_describes_interventions(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    prop = schemas["RunRequest"]["properties"]["interventions"]
    assert prop["items"] == {"$ref": "#/components/schemas/InterventionIn"} and prop["maxItems"] == 64
    assert "$defs" not in schemas["RunRequest"]
    iv = schemas["InterventionIn"]
    assert iv["properties"]["gate"]["enum"] == ["i", "f", "g", "o"] and iv["additionalProperties"] is False
    assert {"value", "bias_add", "t", "unit", "layer"} <= set(iv["properties"])
    assert "interventions" in schemas["RunResponse"]["properties"]
    assert "shift" in schemas["GateParts"]["properties"]
    json.dumps(schemas)  # and it is plain JSON
