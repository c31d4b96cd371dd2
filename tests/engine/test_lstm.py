"""The engine (app/lstm.py): equal to torch.nn.LSTM, one step by hand, invariants, weight checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from app.engine.lstm import GATES, Shape, WeightError, forward, init_weights, keras_to_torch, shape_of

TOL = 1e-9  # the design's promise: equal to torch.nn.LSTM in float64 to 1e-9


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


# --- equality with torch.nn.LSTM ------------------------------------------------------------


def torch_model(I: int, H: int, L: int, seed: int, bias: bool = True):
    """A float64 torch.nn.LSTM with torch's own initialisation, and its weights as NumPy."""
    torch.manual_seed(seed)
    model = torch.nn.LSTM(I, H, num_layers=L, bias=bias).double()
    weights = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    return model, weights


def torch_trace(model, x: torch.Tensor, h0=None, c0=None, clamps=()) -> list[dict[str, np.ndarray]]:
    """Every layer's gates, c_t and h_t from torch, step by step, for x (T, I) or (T, B, I).

    torch.nn.LSTM only returns the last layer's per-step output, so each layer runs as an
    LSTMCell holding that layer's weights, and the gates are recomputed from torch's own h_{t-1}.
    `clamps` are value interventions as dicts ({"gate", "value"}, optional "t", "unit", "layer";
    later ones win), applied here by hand: at a step where one applies, c_t and h_t follow from
    the clamped gates by the equations below, which are first checked against the cell's own
    output at every step. Without clamps, the result is checked against nn.LSTM's own output.
    """
    L, H = model.num_layers, model.hidden_size
    sd = model.state_dict()
    zeros = torch.zeros(L, *x.shape[1:-1], H, dtype=torch.float64)
    h0 = zeros if h0 is None else h0
    c0 = zeros if c0 is None else c0

    def cell_update(gate: dict[str, torch.Tensor], c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = gate["f"] * c + gate["i"] * gate["g"]
        return gate["o"] * torch.tanh(c), c

    layers = []
    inp = x
    with torch.no_grad():
        for k in range(L):
            W_ih, W_hh = sd[f"weight_ih_l{k}"], sd[f"weight_hh_l{k}"]
            b = sd[f"bias_ih_l{k}"] + sd[f"bias_hh_l{k}"] if model.bias else torch.zeros(4 * H)
            cell = torch.nn.LSTMCell(inp.shape[-1], H, bias=model.bias).double()
            cell.weight_ih.copy_(W_ih)
            cell.weight_hh.copy_(W_hh)
            if model.bias:
                cell.bias_ih.copy_(sd[f"bias_ih_l{k}"])
                cell.bias_hh.copy_(sd[f"bias_hh_l{k}"])
            h, c = h0[k], c0[k]
            rec = {name: [] for name in ("i", "f", "g", "o", "c", "h")}
            for t in range(inp.shape[0]):
                # The gates from torch's own state h_{t-1}, rows in the order i, f, g, o.
                z = inp[t] @ W_ih.T + h @ W_hh.T + b.double()
                zi, zf, zg, zo = z.chunk(4, dim=-1)
                gate = {
                    "i": torch.sigmoid(zi),
                    "f": torch.sigmoid(zf),
                    "g": torch.tanh(zg),
                    "o": torch.sigmoid(zo),
                }
                h_cell, c_cell = cell(inp[t], (h, c))
                h_eq, c_eq = cell_update(
                    gate, c
                )  # the equations are torch's, or clamping them proves nothing
                assert torch.max(torch.abs(c_eq - c_cell)) <= 1e-12 * (1 + torch.max(torch.abs(c_cell)))
                assert torch.max(torch.abs(h_eq - h_cell)) <= 1e-12
                here = [cl for cl in clamps if cl.get("layer") in (None, k) and cl.get("t") in (None, t)]
                for cl in here:
                    gate[cl["gate"]][..., slice(None) if cl.get("unit") is None else cl["unit"]] = cl["value"]
                h, c = cell_update(gate, c) if here else (h_cell, c_cell)
                for name, v in (*gate.items(), ("c", c), ("h", h)):
                    rec[name].append(v)
            layer = {name: torch.stack(v).numpy() for name, v in rec.items()}
            layers.append(layer)
            inp = torch.stack(rec["h"])
        out, (hn, cn) = model(x, (h0, c0))
    if not clamps:  # the step-by-step cells must be torch.nn.LSTM itself, or the comparison proves nothing
        assert np.max(np.abs(out.numpy() - layers[-1]["h"])) <= 1e-12
        assert np.max(np.abs(hn.numpy() - np.stack([la["h"][-1] for la in layers]))) <= 1e-12
        assert np.max(np.abs(cn.numpy() - np.stack([la["c"][-1] for la in layers]))) <= 1e-12
    return layers


def assert_equals_torch(traces, expected: list[dict[str, np.ndarray]], tol: float = TOL) -> None:
    assert len(traces) == len(expected)
    for k, (tr, ref) in enumerate(zip(traces, expected, strict=True)):
        for name in ("i", "f", "g", "o", "c", "h"):
            got = getattr(tr, name)
            assert got.shape == ref[name].shape, (k, name)
            diff = np.max(np.abs(got - ref[name]))
            assert diff <= tol, f"layer {k} {name}: max |engine - torch| = {diff:.3g}"


SHAPES = [  # (T, I, H, layers)
    (1, 1, 1, 1),
    (1, 3, 2, 1),
    (5, 1, 1, 1),
    (2, 1, 5, 1),
    (9, 4, 7, 2),
    (13, 6, 3, 3),
    (17, 5, 8, 4),
    (40, 16, 32, 2),
    (3, 2, 4, 4),
    (25, 3, 1, 2),
    (7, 10, 2, 4),
    (30, 8, 16, 1),
    (11, 1, 9, 3),
    (64, 12, 6, 1),
]


@pytest.mark.parametrize(("T", "I", "H", "L"), SHAPES)
def test_forward_equals_torch_lstm_at_every_step_and_layer(T, I, H, L):
    model, weights = torch_model(I, H, L, seed=T * 1000 + I * 100 + H * 10 + L)
    x = 2.0 * torch.randn(T, I, dtype=torch.float64)  # wide enough to push some gates to 0 or 1
    assert_equals_torch(forward(weights, x.numpy()), torch_trace(model, x))


@pytest.mark.parametrize(("T", "I", "H", "L"), [(1, 1, 1, 1), (6, 3, 4, 2), (12, 5, 3, 3)])
def test_forward_without_bias_tensors_equals_torch_lstm_with_bias_false(T, I, H, L):
    model, weights = torch_model(I, H, L, seed=7 + T, bias=False)
    assert not any(name.startswith("bias") for name in weights)
    x = 2.0 * torch.randn(T, I, dtype=torch.float64)
    assert_equals_torch(forward(weights, x.numpy()), torch_trace(model, x))


@pytest.mark.parametrize(("T", "I", "H", "L"), [(1, 2, 3, 1), (8, 3, 5, 2), (15, 4, 2, 4)])
def test_forward_from_given_h0_c0_equals_torch(T, I, H, L):
    model, weights = torch_model(I, H, L, seed=99 + T)
    x = torch.randn(T, I, dtype=torch.float64)
    h0 = torch.rand(L, H, dtype=torch.float64) * 2 - 1
    c0 = torch.randn(L, H, dtype=torch.float64) * 3
    traces = forward(weights, x.numpy(), h0=h0.numpy(), c0=c0.numpy())
    assert_equals_torch(traces, torch_trace(model, x, h0, c0))


def test_forward_starts_from_zero_state_when_none_given():
    _, weights = torch_model(3, 4, 2, seed=5)
    x = np.random.default_rng(0).normal(size=(6, 3))
    implicit = forward(weights, x)
    explicit = forward(weights, x, h0=np.zeros((2, 4)), c0=np.zeros((2, 4)))
    for a, b in zip(implicit, explicit, strict=True):
        assert np.array_equal(a.h, b.h) and np.array_equal(a.c, b.c)


# --- one step by hand -----------------------------------------------------------------------


def test_single_step_matches_hand_computation():
    # H = I = 1; rows in the order i, f, g, o. x = 0.5, h0 = 0.3, c0 = -0.7.
    weights = {
        "weight_ih_l0": np.array([[0.4], [-0.6], [0.9], [0.2]]),
        "weight_hh_l0": np.array([[0.5], [0.3], [-0.8], [0.7]]),
        "bias_ih_l0": np.array([0.1, 0.2, -0.1, 0.05]),
        "bias_hh_l0": np.array([-0.2, 0.1, 0.3, 0.0]),
    }
    x, h0, c0 = 0.5, 0.3, -0.7

    def sig(z: float) -> float:
        return 1.0 / (1.0 + math.exp(-z))

    i = sig(0.4 * x + 0.1 + 0.5 * h0 - 0.2)  # σ(0.25)
    f = sig(-0.6 * x + 0.2 + 0.3 * h0 + 0.1)  # σ(0.09)
    g = math.tanh(0.9 * x - 0.1 - 0.8 * h0 + 0.3)  # tanh(0.41)
    o = sig(0.2 * x + 0.05 + 0.7 * h0 + 0.0)  # σ(0.36)
    c = f * c0 + i * g
    h = o * math.tanh(c)

    (tr,) = forward(weights, np.array([[x]]), h0=np.array([[h0]]), c0=np.array([[c0]]))
    got = {name: getattr(tr, name)[0, 0] for name in ("i", "f", "g", "o", "c", "h")}
    expected = {"i": i, "f": f, "g": g, "o": o, "c": c, "h": h}
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-12), name


# --- invariants -----------------------------------------------------------------------------

INVARIANT_CASES = [  # (T, I, H, layers, weight scale, input scale, seed)
    (50, 8, 6, 2, 3.0, 5.0, 0),
    (30, 3, 12, 3, 5.0, 10.0, 1),
    (80, 16, 4, 1, 1.0, 20.0, 2),
    (20, 1, 1, 4, 8.0, 3.0, 3),
    (40, 5, 16, 2, 2.0, 50.0, 4),
]


def random_case(T, I, H, L, w_scale, x_scale, seed):
    rng = np.random.default_rng(seed)
    weights = {k: w_scale * v for k, v in init_weights(I, H, L, seed=seed).items()}
    x = x_scale * rng.normal(size=(T, I))
    h0 = rng.uniform(-1, 1, size=(L, H))
    c0 = rng.normal(size=(L, H)) * 2
    return weights, x, h0, c0


@pytest.mark.parametrize("case", INVARIANT_CASES)
def test_gates_and_states_stay_in_their_ranges(case):
    weights, x, h0, c0 = random_case(*case)
    for tr in forward(weights, x, h0, c0):
        for gate in (tr.i, tr.f, tr.o):
            assert np.all((gate >= 0) & (gate <= 1))
        assert np.all(np.abs(tr.g) <= 1)
        assert np.all(np.abs(tr.h) <= 1)
        assert np.all(np.abs(tr.h) <= tr.o)  # h = o ⊙ tanh(c) and |tanh| ≤ 1
        assert np.all(np.isfinite(tr.c))


@pytest.mark.parametrize("case", INVARIANT_CASES)
def test_cell_state_is_forget_times_previous_plus_input_times_candidate(case):
    weights, x, h0, c0 = random_case(*case)
    for k, tr in enumerate(forward(weights, x, h0, c0)):
        c_prev = np.vstack([c0[k][None, :], tr.c[:-1]])
        expected = tr.f * c_prev + tr.i * tr.g
        assert np.all(np.abs(tr.c - expected) <= 1e-12 * (1 + np.abs(expected)))
        assert np.allclose(tr.h, tr.o * np.tanh(tr.c), rtol=0, atol=1e-12)


@pytest.mark.parametrize("case", INVARIANT_CASES)
def test_parts_add_up_to_the_pre_activation_of_each_gate(case):
    weights, x, h0, c0 = random_case(*case)
    _, _, H, L = case[:4]
    layer_input = x
    for k, tr in enumerate(forward(weights, x, h0, c0)):
        h_prev = np.vstack([h0[k][None, :], tr.h[:-1]])  # (T, H)
        for n, gate in enumerate(GATES):
            rows = slice(n * H, (n + 1) * H)
            x_part, h_part, b = tr.parts(gate)
            assert x_part.shape == h_part.shape == tr.h.shape and b.shape == (H,)
            # The pre-activation computed here from the weights, not from the engine's parts.
            expected = (
                layer_input @ weights[f"weight_ih_l{k}"][rows].T
                + h_prev @ weights[f"weight_hh_l{k}"][rows].T
                + weights[f"bias_ih_l{k}"][rows]
                + weights[f"bias_hh_l{k}"][rows]
            )
            pre = x_part + h_part + b
            assert np.all(np.abs(pre - expected) <= 1e-12 * (1 + np.abs(expected)))
            assert np.array_equal(tr.pre(gate), pre)
            act = np.tanh(pre) if gate == "g" else sigmoid(pre)
            assert np.max(np.abs(act - getattr(tr, gate))) <= 1e-12, f"layer {k} gate {gate}"
        layer_input = tr.h
    assert k == L - 1


def test_parts_count_missing_biases_as_zero():
    weights, x, h0, c0 = random_case(10, 3, 4, 1, 2.0, 3.0, 11)
    no_bias = {k: v for k, v in weights.items() if k.startswith("weight")}
    (tr,) = forward(no_bias, x, h0, c0)
    for gate in GATES:
        _, _, b = tr.parts(gate)
        assert np.array_equal(b, np.zeros(4))


# --- Keras layout ---------------------------------------------------------------------------


def keras_steps(kernel, recurrent_kernel, bias, x):
    """A Keras LSTM by hand from Keras's own arrays: z = x·kernel + h·recurrent_kernel + bias."""
    H = recurrent_kernel.shape[0]
    h, c = np.zeros(H), np.zeros(H)
    out = {name: [] for name in ("i", "f", "g", "o", "c", "h")}
    for x_t in x:
        z = x_t @ kernel + h @ recurrent_kernel + (0 if bias is None else bias)
        i = sigmoid(z[:H])  # Keras gate columns: i, f, c, o
        f = sigmoid(z[H : 2 * H])
        g = np.tanh(z[2 * H : 3 * H])
        o = sigmoid(z[3 * H :])
        c = f * c + i * g
        h = o * np.tanh(c)
        for name, v in zip(("i", "f", "g", "o", "c", "h"), (i, f, g, o, c, h), strict=True):
            out[name].append(v)
    return {name: np.array(v) for name, v in out.items()}


@pytest.mark.parametrize(("I", "H", "with_bias"), [(1, 1, True), (3, 4, True), (5, 2, False)])
def test_keras_weights_converted_run_like_a_keras_lstm(I, H, with_bias):
    rng = np.random.default_rng(I * 10 + H)
    kernel = rng.normal(size=(I, 4 * H))
    recurrent_kernel = rng.normal(size=(H, 4 * H))
    bias = rng.normal(size=4 * H) if with_bias else None
    x = rng.normal(size=(7, I))
    weights = keras_to_torch(kernel, recurrent_kernel, bias)
    assert set(weights) == {"weight_ih_l0", "weight_hh_l0"} | ({"bias_ih_l0"} if with_bias else set())
    expected = keras_steps(kernel, recurrent_kernel, bias, x)
    (tr,) = forward(weights, x)
    for name, value in expected.items():
        assert np.max(np.abs(getattr(tr, name) - value)) <= 1e-12, name


def test_keras_conversion_names_tensors_for_the_given_layer():
    rng = np.random.default_rng(0)
    weights = keras_to_torch(rng.normal(size=(3, 8)), rng.normal(size=(2, 8)), np.zeros(8), layer=2)
    assert weights["weight_ih_l2"].shape == (8, 3)
    assert weights["weight_hh_l2"].shape == (8, 2)
    assert weights["bias_ih_l2"].shape == (8,)


@pytest.mark.parametrize(
    ("kernel", "recurrent_kernel", "bias", "name", "words"),
    [
        ((12,), (3, 12), None, "kernel", ["2-D"]),
        ((2, 12), (3, 9), None, "recurrent_kernel", ["(3, 9)", "(H, 4H)"]),
        ((2, 8), (3, 12), None, "kernel", ["(2, 8)", "12"]),
        ((2, 12), (3, 12), (11,), "bias", ["(11,)", "12"]),
        ((2, 12), (3, 12), (3, 4), "bias", ["(3, 4)", "12"]),
    ],
)
def test_keras_conversion_refuses_wrong_shapes(kernel, recurrent_kernel, bias, name, words):
    with pytest.raises(WeightError) as err:
        keras_to_torch(np.ones(kernel), np.ones(recurrent_kernel), None if bias is None else np.ones(bias))
    assert err.value.name == name
    for word in words:
        assert word in str(err.value)


# --- shape_of and WeightError ---------------------------------------------------------------


def good_weights() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)  # I = 3, H = 2, two layers
    return {
        "weight_ih_l0": rng.normal(size=(8, 3)),
        "weight_hh_l0": rng.normal(size=(8, 2)),
        "bias_ih_l0": rng.normal(size=8),
        "bias_hh_l0": rng.normal(size=8),
        "weight_ih_l1": rng.normal(size=(8, 2)),
        "weight_hh_l1": rng.normal(size=(8, 2)),
        "bias_ih_l1": rng.normal(size=8),
        "bias_hh_l1": rng.normal(size=8),
    }


def test_shape_of_reads_layers_input_and_hidden_size():
    assert shape_of(good_weights()) == Shape(layers=2, input_size=3, hidden_size=2)
    no_bias = {k: v for k, v in good_weights().items() if k.startswith("weight")}
    assert shape_of(no_bias) == Shape(layers=2, input_size=3, hidden_size=2)


def _set(name, value):
    def change(w):
        w[name] = value

    return change


def _drop(name):
    def change(w):
        del w[name]

    return change


def _poison(name, value):
    def change(w):
        w[name] = w[name].copy()
        w[name].flat[1] = value

    return change


WEIGHT_ERRORS = {  # id: (change to good_weights, tensor named in .name, words in the message)
    "missing-weight_ih_l0": (_drop("weight_ih_l0"), "weight_ih_l0", ["weight_ih_l0", "missing"]),
    "missing-weight_hh_l0": (_drop("weight_hh_l0"), "weight_hh_l0", ["weight_hh_l0", "missing"]),
    "missing-weight_hh_l1": (_drop("weight_hh_l1"), "weight_hh_l1", ["weight_hh_l1", "missing"]),
    "shape-weight_hh_l0": (_set("weight_hh_l0", np.zeros((8, 3))), "weight_hh_l0", ["(8, 3)", "(8, 2)"]),
    "shape-weight_ih_l1": (_set("weight_ih_l1", np.zeros((8, 3))), "weight_ih_l1", ["(8, 3)", "(8, 2)"]),
    "shape-weight_hh_l1-transposed": (
        _set("weight_hh_l1", np.zeros((2, 8))),
        "weight_hh_l1",
        ["(2, 8)", "(8, 2)"],
    ),
    "shape-bias_ih_l0": (_set("bias_ih_l0", np.zeros(7)), "bias_ih_l0", ["(7,)", "(8,)"]),
    "shape-bias_hh_l1-2d": (_set("bias_hh_l1", np.zeros((8, 1))), "bias_hh_l1", ["(8, 1)", "(8,)"]),
    "rows-not-4H": (_set("weight_ih_l0", np.zeros((6, 3))), "weight_ih_l0", ["(6, 3)", "4H"]),
    "weight_ih_l0-1d": (_set("weight_ih_l0", np.zeros(8)), "weight_ih_l0", ["(8,)", "4H"]),
    "projection": (_set("weight_hr_l0", np.zeros((2, 2))), "weight_hr_l0", ["weight_hr_l0", "proj"]),
    "half-bidirectional": (  # a backward direction without its recurrent weights
        _set("weight_ih_l0_reverse", np.zeros((8, 3))),
        "weight_hh_l0_reverse",
        ["weight_hh_l0_reverse", "missing"],
    ),
    "backward-only": (  # backward tensors need the forward ones of layer 0
        _set("weight_ih_l1_reverse", np.zeros((8, 2))),
        "weight_ih_l1_reverse",
        ["weight_ih_l1_reverse", "weight_ih_l0_reverse"],
    ),
    "unexpected-name": (_set("kernel", np.zeros((3, 8))), "kernel", ["kernel", "unexpected"]),
    "layer-beyond-the-last": (
        _set("weight_hh_l2", np.zeros((8, 2))),
        "weight_hh_l2",
        ["weight_hh_l2", "2 layer"],
    ),
    "nan": (_poison("weight_hh_l1", np.nan), "weight_hh_l1", ["weight_hh_l1", "NaN"]),
    "inf": (_poison("bias_ih_l0", np.inf), "bias_ih_l0", ["bias_ih_l0", "infinite", "at [1]"]),
    "minus-inf": (_poison("weight_ih_l0", -np.inf), "weight_ih_l0", ["weight_ih_l0", "infinite"]),
    "strings": (_set("bias_hh_l0", np.array(["0.1"] * 8)), "bias_hh_l0", ["bias_hh_l0", "numbers"]),
    "objects": (
        _set("weight_hh_l0", np.full((8, 2), None, dtype=object)),
        "weight_hh_l0",
        ["weight_hh_l0", "numbers"],
    ),
    "a-list-not-an-array": (_set("bias_ih_l1", [0.0] * 8), "bias_ih_l1", ["bias_ih_l1", "numbers"]),
}


@pytest.mark.parametrize(("change", "name", "words"), WEIGHT_ERRORS.values(), ids=WEIGHT_ERRORS)
def test_weight_error_names_the_tensor_and_says_what_is_wrong(change, name, words):
    weights = good_weights()
    change(weights)
    with pytest.raises(WeightError) as err:
        shape_of(weights)
    assert err.value.name == name
    for word in words:
        assert word in str(err.value)
    with pytest.raises(WeightError):  # forward checks the same way before computing
        forward(weights, np.zeros((2, 3)))


def test_weight_error_is_a_value_error():
    with pytest.raises(ValueError, match="weight_ih_l0"):
        shape_of({})


@pytest.mark.parametrize("bad", [np.zeros((2, 4)), np.zeros((0, 3)), np.zeros(3)])
def test_forward_refuses_inputs_of_the_wrong_shape(bad):
    with pytest.raises(ValueError, match=r"\(T, 3\)"):
        forward(good_weights(), bad)


# --- init_weights ---------------------------------------------------------------------------


def test_init_weights_is_reproducible_from_its_seed():
    a, b = init_weights(5, 7, 3, seed=42), init_weights(5, 7, 3, seed=42)
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_init_weights_differ_between_seeds():
    a, b = init_weights(5, 7, 3, seed=1), init_weights(5, 7, 3, seed=2)
    assert all(not np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(("I", "H", "L"), [(1, 1, 1), (5, 7, 3), (96, 32, 2)])
def test_init_weights_draw_within_torch_bound_with_torch_names_and_shapes(I, H, L):
    weights = init_weights(I, H, L, seed=3)
    torch_shapes = {k: tuple(v.shape) for k, v in torch.nn.LSTM(I, H, L).state_dict().items()}
    assert {k: v.shape for k, v in weights.items()} == torch_shapes
    bound = 1 / math.sqrt(H)
    for v in weights.values():
        assert np.all(np.abs(v) <= bound)
    everything = np.concatenate([v.ravel() for v in weights.values()])
    if everything.size > 1000:  # drawn across the whole range, not a corner of it
        assert everything.max() > 0.9 * bound and everything.min() < -0.9 * bound


# --- batches ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("T", "B", "I", "H", "L"), [(1, 1, 1, 1, 1), (6, 3, 4, 5, 2), (11, 8, 3, 7, 4)])
def test_a_batch_equals_torch_and_each_sequence_run_alone(T, B, I, H, L):
    model, weights = torch_model(I, H, L, seed=T + B)
    rng = np.random.default_rng(B)
    x = rng.normal(size=(T, B, I))
    h0, c0 = rng.normal(size=(2, L, B, H))
    traces = forward(weights, x, h0, c0)
    with torch.no_grad():
        out, (h_n, c_n) = model(torch.from_numpy(x), (torch.from_numpy(h0), torch.from_numpy(c0)))
    assert np.max(np.abs(traces[-1].h - out.numpy())) <= TOL
    assert np.max(np.abs(np.stack([tr.c[-1] for tr in traces]) - c_n.numpy())) <= TOL
    for b in range(B):
        alone = forward(weights, x[:, b], h0[:, b], c0[:, b])
        for tr_batch, tr_alone in zip(traces, alone, strict=True):
            for gate in ("i", "f", "g", "o", "c", "h"):
                assert np.max(np.abs(getattr(tr_batch, gate)[:, b] - getattr(tr_alone, gate))) <= 1e-12
            for got, want in zip(tr_batch.parts("f"), tr_alone.parts("f"), strict=True):
                assert np.max(np.abs((got[:, b] if got.ndim > 1 else got) - want)) <= 1e-12


def test_inputs_of_the_wrong_rank_are_refused():
    weights = init_weights(3, 2)
    for bad in (np.zeros(3), np.zeros((2, 2, 2, 3)), np.zeros((0, 3)), np.zeros((4, 0, 3))):
        with pytest.raises(ValueError, match="expected"):
            forward(weights, bad)


def test_initial_states_of_the_wrong_shape_are_refused_not_reshaped():
    weights = init_weights(3, 2, layers=2)
    x = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"h0 has shape \(2, 2, 1\)"):
        forward(weights, x, h0=np.zeros((2, 2, 1)))
    with pytest.raises(ValueError, match="c0"):
        forward(weights, x, c0=np.zeros(4))


def test_complex_weights_are_refused():
    weights = init_weights(3, 2)
    weights["weight_hh_l0"] = weights["weight_hh_l0"] + 1j
    with pytest.raises(WeightError, match="complex"):
        shape_of(weights)


def hard_sigmoid(z):
    return np.clip(0.2 * z + 0.5, 0.0, 1.0)


def test_hard_sigmoid_gates_follow_the_keras_formula_step_by_step():
    """Keras 2's hard_sigmoid, recomputed here from the Keras arrays step by step."""
    rng = np.random.default_rng(11)
    I, H, T = 3, 4, 9
    kernel = rng.normal(size=(I, 4 * H)) * 2
    recurrent, bias = rng.normal(size=(H, 4 * H)), rng.normal(size=4 * H)
    x = rng.normal(size=(T, I)) * 3
    tr = forward(keras_to_torch(kernel, recurrent, bias), x, gate_activation="hard_sigmoid")[0]
    h, c = np.zeros(H), np.zeros(H)
    saturated = 0
    for t in range(T):
        z = x[t] @ kernel + h @ recurrent + bias
        i, f = hard_sigmoid(z[:H]), hard_sigmoid(z[H : 2 * H])
        g, o = np.tanh(z[2 * H : 3 * H]), hard_sigmoid(z[3 * H :])
        c = f * c + i * g
        h = o * np.tanh(c)
        for name, want in zip("ifgoch", (i, f, g, o, c, h), strict=True):
            assert np.max(np.abs(getattr(tr, name)[t] - want)) <= 1e-12, (t, name)
        saturated += int(np.sum((i == 0) | (i == 1)))
    assert saturated > 0  # the clip was exercised, not only the linear part


def test_an_unknown_gate_activation_is_refused():
    with pytest.raises(ValueError, match="hard_sigmoid"):
        forward(init_weights(2, 2), np.zeros((3, 2)), gate_activation="relu")
