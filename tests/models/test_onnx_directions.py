"""ONNX LSTM nodes of direction reverse and bidirectional, built with onnx.helper and exported by
torch.onnx.export, uploaded and run: h and c of every step, layer and direction match
onnx.reference.ReferenceEvaluator's and torch's (torch.nn.LSTMCell stepped in float64), or the
file is refused naming the node. torch has no reverse-only LSTM, so reverse nodes are built with
onnx.helper only."""

from __future__ import annotations

import io

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from app.models import formats
from tests.models.test_uploads import post_model

I, H, T = 3, 4, 6
TO_TORCH = (0, 2, 3, 1)  # torch's gate block k is ONNX's block TO_TORCH[k] (i, o, f, c -> i, f, g, o)
ND = {"forward": 1, "reverse": 1, "bidirectional": 2}


def node_weights(rng, directions: int, inputs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        rng.normal(size=(directions, 4 * H, inputs)),
        rng.normal(size=(directions, 4 * H, H)),
        rng.normal(size=(directions, 8 * H)),
    )


def stack(
    directions: tuple[str, ...], seed: int = 0, join: tuple[str, ...] = ("Transpose", "Reshape"), **options
) -> tuple[bytes, onnx.ModelProto, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """LSTM nodes 'lstm0', 'lstm1'… of the given directions over X [T, 1, I], float64, each node's
    Y, Y_h and Y_c graph outputs. A unidirectional node's Y reaches the next through Squeeze; a
    bidirectional one's through the ops `join` names (torch's exporter's Transpose then Reshape to
    [0, 0, -1], the shape here an initializer where torch writes a Constant). `perm` and `shape`
    change what Transpose and Reshape are given; `layout=1` makes every node batch first."""
    rng = np.random.default_rng(seed)
    nodes, initializers, outputs, weights = [], [], [], []
    below, width = "X", I
    for k, direction in enumerate(directions):
        d = ND[direction]
        w, r, b = node_weights(rng, d, width)
        weights.append((w, r, b))
        initializers += [numpy_helper.from_array(a, f"{p}{k}") for p, a in zip("WRB", (w, r, b), strict=True)]
        nodes.append(
            helper.make_node(
                "LSTM",
                [below, f"W{k}", f"R{k}", f"B{k}"],
                [f"Y{k}", f"Yh{k}", f"Yc{k}"],
                name=f"lstm{k}",
                hidden_size=H,
                direction=direction,
                layout=options.get("layout", 0),
            )
        )
        outputs += [
            helper.make_tensor_value_info(f"{y}{k}", TensorProto.DOUBLE, None) for y in ("Y", "Yh", "Yc")
        ]
        if k == len(directions) - 1:
            break
        if d == 1:
            initializers.append(numpy_helper.from_array(np.array([1], np.int64), f"axes{k}"))
            nodes.append(
                helper.make_node("Squeeze", [f"Y{k}", f"axes{k}"], [f"X{k + 1}"], name=f"squeeze{k}")
            )
        else:
            step = f"Y{k}"
            for j, op in enumerate(join):
                out = f"X{k + 1}" if j == len(join) - 1 else f"J{k}_{j}"
                tag = f"{k}" if join.index(op) == j else f"{k}_{j}"  # a repeated op: its own name
                if op == "Transpose":
                    perm = options.get("perm", [0, 2, 1, 3])
                    nodes.append(
                        helper.make_node("Transpose", [step], [out], name=f"transpose{tag}", perm=perm)
                    )
                elif op == "Reshape":
                    shape = np.array(options.get("shape", [0, 0, -1]), np.int64)
                    initializers.append(numpy_helper.from_array(shape, f"shape{tag}"))
                    nodes.append(
                        helper.make_node("Reshape", [step, f"shape{tag}"], [out], name=f"reshape{tag}")
                    )
                else:
                    nodes.append(helper.make_node(op, [step], [out], name=f"{op.lower()}{tag}"))
                step = out
        below, width = f"X{k + 1}", d * H
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info(
                "X", TensorProto.DOUBLE, [1, T, I] if options.get("layout") else [T, 1, I]
            )
        ],
        outputs,
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    return model.SerializeToString(), model, weights


def stepped(x: np.ndarray, w: np.ndarray, r: np.ndarray, b: np.ndarray, backward: bool):
    """h and c (T, H) of one direction of one layer, in input order: torch.nn.LSTMCell in float64,
    stepped from the last step to the first when `backward`, on ONNX's W, R, B read in torch's
    gate order."""

    def torch_order(a: np.ndarray) -> torch.Tensor:
        blocks = np.split(a, 4, axis=0)
        return torch.tensor(np.concatenate([blocks[i] for i in TO_TORCH], axis=0))

    cell = torch.nn.LSTMCell(w.shape[1], H).double()
    with torch.no_grad():
        cell.weight_ih.copy_(torch_order(w))
        cell.weight_hh.copy_(torch_order(r))
        cell.bias_ih.copy_(torch_order(b[: 4 * H]))
        cell.bias_hh.copy_(torch_order(b[4 * H :]))
        state = (torch.zeros(1, H, dtype=torch.float64), torch.zeros(1, H, dtype=torch.float64))
        hs, cs = np.zeros((T, H)), np.zeros((T, H))
        for t in reversed(range(T)) if backward else range(T):
            state = cell(torch.tensor(x[t : t + 1]), state)
            hs[t], cs[t] = state[0][0].numpy(), state[1][0].numpy()
    return hs, cs


def torch_traces(x: np.ndarray, directions: tuple[str, ...], weights) -> list[tuple[np.ndarray, np.ndarray]]:
    """(h, c) per layer and direction, the engine's order: layer 0 forward, layer 0 backward, …"""
    traces, below = [], x
    for direction, (w, r, b) in zip(directions, weights, strict=True):
        if direction == "bidirectional":
            layer = [stepped(below, w[j], r[j], b[j], backward=bool(j)) for j in (0, 1)]
            below = np.concatenate([layer[0][0], layer[1][0]], axis=1)
        else:
            layer = [stepped(below, w[0], r[0], b[0], backward=direction == "reverse")]
            below = layer[0][0]
        traces += layer
    return traces


def run(client, data: bytes, x: np.ndarray) -> list[dict]:
    answer = post_model(client, data, "model.onnx", input_size=str(x.shape[1]))
    assert answer.status_code == 200, answer.text
    r = client.post(
        "/api/run", json={"model": answer.json()["id"], "inputs": x.tolist(), "precision": "float64"}
    )
    assert r.status_code == 200, r.text
    return r.json()["layers"]


def refusal(client, data: bytes) -> dict:
    answer = post_model(client, data, "model.onnx", input_size=str(I))
    assert answer.status_code == 422, answer.text
    return answer.json()


CASES = [("reverse",), ("reverse", "reverse"), ("bidirectional",), ("bidirectional", "bidirectional")]


@pytest.mark.parametrize(
    "directions", CASES, ids=["reverse", "reverse-2", "bidirectional", "bidirectional-2"]
)
def test_built_nodes_match_the_reference_evaluator_and_torch(client, directions):
    data, model, weights = stack(directions, seed=len(directions))
    x = np.random.default_rng(5).normal(size=(T, I))
    layers = run(client, data, x)
    outputs = ReferenceEvaluator(model).run(None, {"X": x[:, None, :]})
    expected = torch_traces(x, directions, weights)
    assert len(layers) == len(expected)
    names = [
        d for d in directions for d in (("forward", "backward") if d == "bidirectional" else ("backward",))
    ]
    assert [layer["direction"] for layer in layers] == names
    for entry, layer in enumerate(layers):
        np.testing.assert_allclose(layer["h"], expected[entry][0], rtol=0, atol=1e-9)
        np.testing.assert_allclose(layer["c"], expected[entry][1], rtol=0, atol=1e-9)
    # the evaluator: Y (every step's h, both directions in input order) and Y_c (the last c each
    # direction computed: forward's at step T-1, backward's at step 0)
    entry = 0
    for k, direction in enumerate(directions):
        y, y_c = outputs[3 * k], outputs[3 * k + 2]
        for j in range(ND[direction]):
            backward = direction == "reverse" or j == 1
            np.testing.assert_allclose(layers[entry]["h"], y[:, j, 0, :], rtol=0, atol=1e-9)
            np.testing.assert_allclose(
                layers[entry]["c"][0 if backward else -1], y_c[j, 0], rtol=0, atol=1e-9
            )
            entry += 1


def test_what_was_read_is_said(client):
    data, _, _ = stack(("bidirectional", "bidirectional"))
    headers = formats.read_headers(data, 10**8, 100)
    assert headers.format == "ONNX"
    assert headers.conversions == [
        "ONNX gate order i, o, f, c reordered to i, f, g, o",
        "biases Wb and Rb kept as bias_ih and bias_hh",
        "directions: forward and backward",
    ]
    assert [h.name for h in headers][4:8] == [
        "weight_ih_l0_reverse",
        "weight_hh_l0_reverse",
        "bias_ih_l0_reverse",
        "bias_hh_l0_reverse",
    ]
    assert headers.backwards is False
    reverse = formats.read_headers(stack(("reverse", "reverse"))[0], 10**8, 100)
    assert reverse.backwards is True
    assert reverse.conversions[-1] == (
        "direction reverse: every layer reads the sequence from the last step to the first"
    )


def export(layers: int, seed: int) -> tuple[bytes, torch.nn.LSTM]:
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(I, H, num_layers=layers, bidirectional=True)
    buffer = io.BytesIO()
    torch.onnx.export(lstm, (torch.randn(T, 1, I),), buffer, dynamo=False)  # as test_onnxfile.py does
    return buffer.getvalue(), lstm


@pytest.mark.parametrize("layers", [1, 2])
def test_a_bidirectional_torch_export_matches_torch_and_the_reference_evaluator(client, layers):
    data, lstm = export(layers, seed=10 + layers)
    x = np.random.default_rng(6).normal(size=(T, I))
    got = run(client, data, x)
    assert len(got) == 2 * layers
    with torch.no_grad():
        out32, _ = lstm(torch.tensor(x[:, None, :], dtype=torch.float32))
        lstm64 = lstm.double()
        out64, _ = lstm64(torch.tensor(x[:, None, :]))
        # every layer's h and c: the torch module's own tensors, stepped one direction at a time
        weights = []
        for k in range(layers):
            per = [
                [getattr(lstm64, f"{p}_l{k}{s}").numpy() for s in ("", "_reverse")]
                for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            ]
            weights.append(per)
    below = x
    for k in range(layers):
        w_ih, w_hh, b_ih, b_hh = weights[k]
        halves = []
        for j in (0, 1):
            cell = torch.nn.LSTMCell(below.shape[1], H).double()
            with torch.no_grad():
                for name, a in (
                    ("weight_ih", w_ih),
                    ("weight_hh", w_hh),
                    ("bias_ih", b_ih),
                    ("bias_hh", b_hh),
                ):
                    getattr(cell, name).copy_(torch.tensor(a[j]))
                state = (torch.zeros(1, H, dtype=torch.float64), torch.zeros(1, H, dtype=torch.float64))
                hs, cs = np.zeros((T, H)), np.zeros((T, H))
                for t in reversed(range(T)) if j else range(T):
                    state = cell(torch.tensor(below[t : t + 1]), state)
                    hs[t], cs[t] = state[0][0].numpy(), state[1][0].numpy()
            entry = got[2 * k + j]
            np.testing.assert_allclose(entry["h"], hs, rtol=0, atol=1e-9)
            np.testing.assert_allclose(entry["c"], cs, rtol=0, atol=1e-9)
            halves.append(hs)
        below = np.concatenate(halves, axis=1)
    top = np.concatenate([got[-2]["h"], got[-1]["h"]], axis=1)  # torch's output: [h_fwd ; h_bwd]
    np.testing.assert_allclose(top, out64[:, 0, :].numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(top, out32[:, 0, :].numpy(), rtol=0, atol=1e-6)
    (y,) = ReferenceEvaluator(onnx.load_model_from_string(data)).run(
        [onnx.load_model_from_string(data).graph.output[0].name], {"input": x[:, None, :].astype(np.float32)}
    )
    np.testing.assert_allclose(top, y[:, 0, :], rtol=0, atol=1e-5)  # the exported graph is float32


def test_directions_mixed_in_a_stack_are_refused_naming_the_node(client):
    data, _, _ = stack(("forward", "reverse"))
    detail = refusal(client, data)
    assert detail["loc"] == ["weights", "lstm1", "direction"]
    assert detail["error"] == (
        "LSTM node 'lstm1' of the ONNX model has direction='reverse' but node 'lstm0' below it has "
        "direction='forward': Gatescope computes a stack whose nodes are all forward, all reverse "
        "or all bidirectional"
    )


@pytest.mark.parametrize(
    ("join", "options", "through"),
    [
        (("Reshape",), {}, "Reshape 'reshape0'"),
        (("Transpose", "Reshape"), {"perm": [0, 2, 3, 1]}, "Transpose 'transpose0', Reshape 'reshape0'"),
        (("Transpose", "Reshape"), {"shape": [0, 1, -1]}, "Transpose 'transpose0', Reshape 'reshape0'"),
        (
            ("Transpose", "Reshape", "Reshape"),
            {},
            "Transpose 'transpose0', Reshape 'reshape0', Reshape 'reshape0_2'",
        ),
    ],
    ids=["no-transpose", "other-perm", "other-shape", "a-reshape-more"],
)
def test_bidirectional_nodes_joined_otherwise_than_torch_does_are_refused(client, join, options, through):
    data, _, _ = stack(("bidirectional", "bidirectional"), join=join, **options)
    detail = refusal(client, data)
    assert detail["loc"] == ["weights", "lstm1", "X"]
    assert detail["error"].startswith(
        f"LSTM node 'lstm1' of the ONNX model reads bidirectional node 'lstm0''s Y through {through}"
    )
    assert detail["error"].endswith(
        "Gatescope joins the two directions' h (forward first) as torch.onnx.export does, "
        "Transpose(perm=[0, 2, 1, 3]) then Reshape([0, 0, -1]), and computes no other arrangement"
    )


def test_identity_between_joined_nodes_changes_nothing(client):
    data, model, weights = stack(
        ("bidirectional", "bidirectional"), join=("Transpose", "Identity", "Reshape")
    )
    x = np.random.default_rng(7).normal(size=(T, I))
    layers = run(client, data, x)
    expected = torch_traces(x, ("bidirectional", "bidirectional"), weights)
    np.testing.assert_allclose([e["h"] for e in layers], [h for h, _ in expected], rtol=0, atol=1e-9)


def test_batch_first_bidirectional_nodes_joined_by_a_reshape_alone_are_computed(client):
    """layout 1: Y is [batch, T, 2, H], so Reshape([0, 0, -1]) alone joins the two directions."""
    directions = ("bidirectional", "bidirectional")
    data, model, weights = stack(directions, seed=8, join=("Reshape",), layout=1)
    x = np.random.default_rng(9).normal(size=(T, I))
    layers = run(client, data, x)
    outputs = ReferenceEvaluator(model).run(None, {"X": x[None]})
    for entry, (h, c) in enumerate(torch_traces(x, directions, weights)):
        np.testing.assert_allclose(layers[entry]["h"], h, rtol=0, atol=1e-9)
        np.testing.assert_allclose(layers[entry]["c"], c, rtol=0, atol=1e-9)
        np.testing.assert_allclose(
            layers[entry]["h"], outputs[3 * (entry // 2)][0, :, entry % 2], rtol=0, atol=1e-9
        )
    detail = refusal(client, stack(directions, layout=1)[0])  # torch's layout-0 Transpose, here wrong
    assert detail["loc"] == ["weights", "lstm1", "X"]
    assert "Reshape([0, 0, -1]) (layout 1), and computes no other arrangement" in detail["error"]


def test_a_bidirectional_node_with_one_direction_of_weights_is_refused(client):
    _, model, _ = stack(("bidirectional",))
    for t in model.graph.initializer:  # keep the forward half only
        t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t)[:1], t.name))
    detail = refusal(client, model.SerializeToString())
    assert detail["loc"] == ["weights", "lstm0", "W"]
    assert detail["error"] == (
        f"LSTM node 'lstm0' of the ONNX model has W of shape (1, {4 * H}, {I}) and R of shape "
        f"(1, {4 * H}, {H}); a bidirectional LSTM's are [2, 4·hidden, input] and [2, 4·hidden, hidden]"
    )


def test_a_reverse_node_is_stored_as_a_reverse_model_apart_from_the_same_weights_forward(client):
    forward = post_model(client, stack(("forward",))[0], "model.onnx", input_size=str(I))
    reverse = post_model(client, stack(("reverse",))[0], "model.onnx", input_size=str(I))
    assert forward.status_code == reverse.status_code == 200, reverse.text
    assert forward.json()["model"]["reverse"] is False and reverse.json()["model"]["reverse"] is True
    assert forward.json()["id"] != reverse.json()["id"]  # the same tensors: the direction tells them apart
    stored = client.get(f"/api/models/{reverse.json()['id']}")
    assert stored.status_code == 200 and stored.json()["reverse"] is True
