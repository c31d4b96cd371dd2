"""Both directions: a bidirectional LSTM equals torch.nn.LSTM(bidirectional=True) at every step,
layer and direction, and a one-directional LSTM read backwards (Keras's go_backwards) equals
torch's on the reversed sequence. Every trace is in input order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.engine.explain import cell_update, retention
from app.engine.lstm import Intervention, InterventionError, WeightError, forward, shape_of

TOL = 1e-9


def bidirectional(I: int, H: int, L: int, seed: int, bias: bool = True):
    torch.manual_seed(seed)
    model = torch.nn.LSTM(I, H, num_layers=L, bidirectional=True, bias=bias).double()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)  # wider than torch's default, so that gates reach 0 and 1
    return model, {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def one_layer(model: torch.nn.LSTM, k: int) -> torch.nn.LSTM:
    """Layer k of a bidirectional torch LSTM as a torch LSTM of its own (torch gives the inner
    layers' outputs only this way)."""
    H = model.hidden_size
    width = model.input_size if k == 0 else 2 * H
    single = torch.nn.LSTM(width, H, bidirectional=True, bias=model.bias).double()
    own = {n.replace(f"_l{k}", "_l0"): v for n, v in model.state_dict().items() if f"_l{k}" in n}
    single.load_state_dict(own)
    return single


def torch_entries(model: torch.nn.LSTM, x: torch.Tensor, h0=None, c0=None) -> list[dict[str, np.ndarray]]:
    """h and c of every layer and direction at every step, in input order, from torch: h is the
    layer's output; c_t forward is the final c after reading x_0…x_t, backward after reading
    x_{T−1}…x_t. Gates are recomputed from torch's own previous h."""
    T, H = x.shape[0], model.hidden_size
    entries = []
    inp = x
    with torch.no_grad():
        for k in range(model.num_layers):
            single = one_layer(model, k)
            state = None if h0 is None else (h0[2 * k : 2 * k + 2], c0[2 * k : 2 * k + 2])
            out, _ = single(inp, state)
            sd = single.state_dict()
            for d, sx in enumerate(("", "_reverse")):
                h = out[:, d * H : (d + 1) * H]
                c = []
                for t in range(T):
                    part = inp[: t + 1] if d == 0 else inp[t:]
                    c.append(single(part, state)[1][1][d])
                start = torch.zeros(H, dtype=torch.float64) if h0 is None else h0[2 * k + d]
                prev = torch.cat([start[None], h[:-1]]) if d == 0 else torch.cat([h[1:], start[None]])
                b = sd[f"bias_ih_l0{sx}"] + sd[f"bias_hh_l0{sx}"] if model.bias else 0.0
                z = inp @ sd[f"weight_ih_l0{sx}"].T + prev @ sd[f"weight_hh_l0{sx}"].T + b
                zi, zf, zg, zo = z.chunk(4, dim=-1)
                gates = {
                    "i": torch.sigmoid(zi),
                    "f": torch.sigmoid(zf),
                    "g": torch.tanh(zg),
                    "o": torch.sigmoid(zo),
                }
                entries.append(
                    {"h": h.numpy(), "c": torch.stack(c).numpy(), **{g: v.numpy() for g, v in gates.items()}}
                )
            inp = out
    return entries


def worst(traces, expected) -> float:
    assert len(traces) == len(expected)
    return max(
        float(np.max(np.abs(getattr(tr, n) - e[n])))
        for tr, e in zip(traces, expected, strict=True)
        for n in e
    )


@pytest.mark.parametrize(("T", "I", "H", "L"), [(1, 3, 2, 1), (7, 3, 4, 1), (9, 5, 3, 2), (6, 2, 5, 3)])
def test_a_bidirectional_lstm_equals_torch_at_every_step_layer_and_direction(T, I, H, L):
    model, weights = bidirectional(I, H, L, seed=T + 10 * L)
    x = 2.0 * torch.randn(T, I, dtype=torch.float64)
    traces = forward(weights, x.numpy())
    assert [tr.direction for tr in traces] == ["forward", "backward"] * L
    assert worst(traces, torch_entries(model, x)) <= TOL
    with torch.no_grad():
        output, (h_n, c_n) = model(x)
    last = np.concatenate([traces[-2].h, traces[-1].h], axis=-1)
    assert np.max(np.abs(last - output.numpy())) <= TOL  # torch's output: both directions, input order
    # the final states: forward after the last step, backward after the first
    finals = np.stack([tr.h[-1] if tr.direction == "forward" else tr.h[0] for tr in traces])
    assert np.max(np.abs(finals - h_n.numpy())) <= TOL
    cells = np.stack([tr.c[-1] if tr.direction == "forward" else tr.c[0] for tr in traces])
    assert np.max(np.abs(cells - c_n.numpy())) <= TOL


def test_a_bidirectional_lstm_from_given_states_and_without_biases_equals_torch():
    model, weights = bidirectional(3, 4, 2, seed=5, bias=False)
    x = torch.randn(8, 3, dtype=torch.float64)
    h0, c0 = torch.rand(4, 4, dtype=torch.float64) - 0.5, 2 * torch.randn(4, 4, dtype=torch.float64)
    traces = forward(weights, x.numpy(), h0.numpy(), c0.numpy())
    assert worst(traces, torch_entries(model, x, h0, c0)) <= TOL


def test_a_batch_of_bidirectional_sequences_equals_torch():
    model, weights = bidirectional(3, 4, 2, seed=6)
    x = torch.randn(5, 3, 3, dtype=torch.float64)  # (T, B, I)
    with torch.no_grad():
        output, _ = model(x)
    traces = forward(weights, x.numpy())
    assert np.max(np.abs(np.concatenate([traces[2].h, traces[3].h], axis=-1) - output.numpy())) <= TOL


def test_a_backward_trace_explains_itself_in_input_order():
    """Its parts, previous states and retention run from step t + 1 to t."""
    _, weights = bidirectional(3, 4, 1, seed=8)
    x = np.random.default_rng(0).normal(size=(6, 3))
    back = forward(weights, x)[1]
    assert back.direction == "backward"
    f = 1 / (1 + np.exp(-back.pre("f")))
    assert np.max(np.abs(f - back.f)) <= 1e-12  # pre-activations from h_{t+1}
    kept, written = cell_update(back)
    assert np.max(np.abs(kept + written - back.c)) <= 1e-12
    assert np.array_equal(kept[-1], back.f[-1] * back.c0)  # the last step reads the initial state first
    r = retention(back, 4)
    assert np.isnan(r.survives[5]).all() and (r.survives[4] == 1).all()
    assert np.allclose(r.survives[1], back.f[1] * back.f[2] * back.f[3], rtol=1e-14, atol=0)


def test_interventions_count_entries_and_steps_in_input_order():
    _, weights = bidirectional(3, 4, 2, seed=9)
    x = np.random.default_rng(1).normal(size=(7, 3))
    plain = forward(weights, x)
    shut = forward(weights, x, interventions=[Intervention("f", value=0.0, t=3, layer=1)])
    back = shut[1]
    assert np.array_equal(shut[0].c, plain[0].c)  # layer 0 forward untouched
    assert np.array_equal(back.c[4:], plain[1].c[4:])  # steps read before step 3
    assert np.allclose(back.c[3], back.i[3] * back.g[3], rtol=0, atol=1e-15)  # forgot all at step 3
    assert not np.allclose(back.c[:3], plain[1].c[:3])  # and what followed changed
    assert back.clamped("f")[3].all() and not back.clamped("f")[4].any()
    with pytest.raises(InterventionError, match="2 bidirectional layer.*4 entries"):
        forward(weights, x, interventions=[Intervention("f", value=0.0, layer=4)])


@pytest.mark.parametrize("L", [1, 2])
def test_reverse_reads_the_sequence_backwards_as_torch_does_on_it_reversed(L):
    torch.manual_seed(L)
    model = torch.nn.LSTM(3, 4, num_layers=L).double()
    weights = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    x = 2.0 * torch.randn(9, 3, dtype=torch.float64)
    with torch.no_grad():
        output, (h_n, c_n) = model(torch.flip(x, [0]))
    traces = forward(weights, x.numpy(), reverse=True)
    assert [tr.direction for tr in traces] == ["backward"] * L
    assert np.max(np.abs(traces[-1].h - torch.flip(output, [0]).numpy())) <= TOL
    assert np.max(np.abs(np.stack([tr.c[0] for tr in traces]) - c_n.numpy())) <= TOL


def test_reverse_of_bidirectional_weights_is_refused():
    _, weights = bidirectional(3, 2, 1, seed=1)
    with pytest.raises(ValueError, match="already bidirectional|bidirectional"):
        forward(weights, np.zeros((2, 3)), reverse=True)


def test_shape_of_a_bidirectional_lstm_and_what_it_refuses():
    _, weights = bidirectional(3, 4, 2, seed=2)
    shape = shape_of(weights)
    assert (shape.layers, shape.input_size, shape.hidden_size, shape.directions, shape.entries) == (
        2,
        3,
        4,
        2,
        4,
    )
    narrow = dict(weights, weight_ih_l1=np.zeros((16, 4)))  # layer 1 reads both directions: (4H, 2H)
    with pytest.raises(WeightError, match=r"\(16, 8\) = \(4H, 2H\)") as e:
        shape_of(narrow)
    assert e.value.name == "weight_ih_l1"
    half = {k: v for k, v in weights.items() if k != "weight_hh_l1_reverse"}
    with pytest.raises(WeightError, match="'weight_hh_l1_reverse' is missing"):
        shape_of(half)
