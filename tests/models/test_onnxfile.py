"""ONNX files with LSTM nodes, built with onnx.helper and exported by torch.onnx.export, uploaded
and run: Gatescope's h of every step matches onnx.reference.ReferenceEvaluator's and torch's, or
the file is refused naming the node and the attribute."""

from __future__ import annotations

import io

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from tests.models.test_uploads import post_model

I, H, T = 3, 4, 7


def lstm_model(
    dtype=np.float64,
    seed: int = 0,
    bias: bool = True,
    inputs: tuple[str, ...] = (),
    op: str = "LSTM",
    weights_as_input: bool = False,
    **attributes,
) -> tuple[bytes, onnx.ModelProto]:
    """One LSTM node over X [T, 1, I], its W, R, B random initializers; `inputs` adds optional
    inputs after B by name ('P' for a peephole tensor)."""
    rng = np.random.default_rng(seed)
    gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    w = rng.normal(size=(1, gates * H, I)).astype(dtype)
    r = rng.normal(size=(1, gates * H, H)).astype(dtype)
    b = rng.normal(size=(1, 2 * gates * H)).astype(dtype)
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    initializers = [numpy_helper.from_array(w, "W"), numpy_helper.from_array(r, "R")]
    names = ["X", "W", "R", "B" if bias else ""]
    if bias:
        initializers.append(numpy_helper.from_array(b, "B"))
    if "P" in inputs:
        names += ["", "", "", "P"]
        initializers.append(numpy_helper.from_array(rng.normal(size=(1, 3 * H)).astype(dtype), "P"))
    graph_inputs = [helper.make_tensor_value_info("X", elem, [T, 1, I])]
    if weights_as_input:
        initializers = [t for t in initializers if t.name != "W"]
        graph_inputs.append(helper.make_tensor_value_info("W", elem, list(w.shape)))
    node = helper.make_node(op, names, ["Y"], name="lstm", hidden_size=H, **attributes)
    graph = helper.make_graph(
        [node], "g", graph_inputs, [helper.make_tensor_value_info("Y", elem, None)], initializers
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    return model.SerializeToString(), model


def run(client, data: bytes, x: np.ndarray) -> np.ndarray:
    answer = post_model(client, data, "model.onnx", input_size=str(x.shape[1]))
    assert answer.status_code == 200, answer.text
    r = client.post(
        "/api/run", json={"model": answer.json()["id"], "inputs": x.tolist(), "precision": "float64"}
    )
    assert r.status_code == 200, r.text
    return np.array([layer["h"] for layer in r.json()["layers"]])  # (layers, T, H)


def refusal(client, data: bytes) -> dict:
    answer = post_model(client, data, "model.onnx", input_size=str(I))
    assert answer.status_code == 422, answer.text
    return answer.json()


@pytest.mark.parametrize("bias", [True, False])
def test_a_float64_lstm_node_matches_the_reference_evaluator(client, bias):
    data, model = lstm_model(np.float64, bias=bias)
    x = np.random.default_rng(1).normal(size=(T, I))
    (y,) = ReferenceEvaluator(model).run(None, {"X": x[:, None, :]})
    h = run(client, data, x)
    assert y.shape == (T, 1, 1, H)
    np.testing.assert_allclose(h[0], y[:, 0, 0, :], rtol=0, atol=1e-9)


def test_a_float32_lstm_node_matches_the_reference_evaluator_in_float32(client):
    data, model = lstm_model(np.float32, seed=2)
    x = np.random.default_rng(3).normal(size=(T, I)).astype(np.float32)
    (y,) = ReferenceEvaluator(model).run(None, {"X": x[:, None, :]})
    h = run(client, data, x.astype(np.float64))
    np.testing.assert_allclose(h[0], y[:, 0, 0, :], rtol=0, atol=1e-5)
    # and exactly what the evaluator computes on the same float32 weights in float64
    f64 = onnx.ModelProto()
    f64.CopyFrom(model)
    for t in f64.graph.initializer:
        t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float64), t.name))
    for v in (*f64.graph.input, *f64.graph.output):
        v.type.tensor_type.elem_type = TensorProto.DOUBLE
    (y64,) = ReferenceEvaluator(f64).run(None, {"X": x[:, None, :].astype(np.float64)})
    np.testing.assert_allclose(h[0], y64[:, 0, 0, :], rtol=0, atol=1e-9)


def export(layers: int, seed: int) -> tuple[bytes, torch.nn.LSTM]:
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(I, H, num_layers=layers)
    buffer = io.BytesIO()
    torch.onnx.export(lstm, (torch.randn(T, 1, I),), buffer, dynamo=False)
    return buffer.getvalue(), lstm


@pytest.mark.parametrize("layers", [1, 2])
def test_a_torch_export_matches_torch(client, layers):
    data, lstm = export(layers, seed=layers)
    x = np.random.default_rng(4).normal(size=(T, I))
    h = run(client, data, x)
    with torch.no_grad():
        out32, _ = lstm(torch.tensor(x[:, None, :], dtype=torch.float32))
        lstm64 = lstm.double()
        # every layer's h: torch's output is the top layer's; run the stack one layer at a time
        below, every = torch.tensor(x[:, None, :]), []
        for k in range(layers):
            one = torch.nn.LSTM(I if k == 0 else H, H).double()
            for part in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(one, f"{part}_l0").copy_(getattr(lstm64, f"{part}_l{k}"))
            below, _ = one(below)
            every.append(below[:, 0, :].numpy())
    assert h.shape == (layers, T, H)
    np.testing.assert_allclose(h[-1], out32[:, 0, :].numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(h, np.array(every), rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    ("attributes", "attribute", "words"),
    [
        ({"direction": "sideways"}, "direction", "ONNX defines forward, reverse and bidirectional only"),
        ({"activations": ["Sigmoid", "Relu", "Tanh"]}, "activations", "Sigmoid, Tanh, Tanh"),
        ({"clip": 3.0}, "clip", "has clip=3.0"),
        ({"input_forget": 1}, "input_forget", "has input_forget=1"),
    ],
)
def test_an_attribute_gatescope_cannot_compute_is_refused_by_name(client, attributes, attribute, words):
    data, _ = lstm_model(**attributes)
    detail = refusal(client, data)
    assert detail["loc"] == ["weights", "lstm", attribute]
    assert "LSTM node 'lstm' of the ONNX model" in detail["error"] and words in detail["error"]


def test_default_activations_spelled_out_are_accepted(client):
    data, model = lstm_model(activations=["Sigmoid", "Tanh", "Tanh"])
    x = np.random.default_rng(1).normal(size=(T, I))
    (y,) = ReferenceEvaluator(model).run(None, {"X": x[:, None, :]})
    np.testing.assert_allclose(run(client, data, x)[0], y[:, 0, 0, :], rtol=0, atol=1e-9)


def test_peepholes_are_refused(client):
    data, _ = lstm_model(inputs=("P",))
    detail = refusal(client, data)
    assert detail["loc"] == ["weights", "lstm", "P"]
    assert "has peepholes (input P, 'P')" in detail["error"]


def test_weights_that_are_not_initializers_are_refused_naming_them(client):
    data, _ = lstm_model(weights_as_input=True)
    detail = refusal(client, data)
    assert detail["loc"] == ["weights", "lstm", "W"]
    assert "takes W from 'W', which is not one of the graph's initializers" in detail["error"]


@pytest.mark.parametrize(("op", "named"), [("GRU", "a GRU"), ("RNN", "a plain RNN")])
def test_a_graph_without_an_lstm_says_what_it_holds(client, op, named):
    data, _ = lstm_model(op=op)
    detail = refusal(client, data)
    assert detail["loc"] == ["weights"]
    assert detail["error"] == (
        f"the file is an ONNX model whose graph holds no LSTM node (its ops: {op}): "
        f"Gatescope shows LSTMs; this file holds {named}"
    )


def test_two_lstms_that_do_not_feed_each_other_are_refused(client):
    _, model = lstm_model()
    second = onnx.ModelProto()
    second.CopyFrom(model)
    node = second.graph.node[0]
    copy = helper.make_node("LSTM", ["X", "W", "R", "B"], ["Y2"], name="other", hidden_size=H)
    second.graph.node.append(copy)
    assert node.name == "lstm"
    detail = refusal(client, second.SerializeToString())
    assert detail["loc"] == ["weights", "other", "X"]
    assert "LSTM nodes 'lstm' and 'other' of the ONNX model do not feed each other" in detail["error"]


def test_bytes_that_only_begin_like_onnx_are_said_to_be_in_no_format(client):
    detail = refusal(client, b"\x08garbage!")
    assert detail["loc"] == ["weights"]
    assert detail["error"].startswith("the file is in no format Gatescope reads (it begins 08 67 61 72 ")


def test_layout_1_batch_first_is_computed_as_layout_0(client):
    _, model = lstm_model(layout=1)
    model.graph.input[0].CopyFrom(helper.make_tensor_value_info("X", TensorProto.DOUBLE, [1, T, I]))
    x = np.random.default_rng(6).normal(size=(T, I))
    (y,) = ReferenceEvaluator(model).run(None, {"X": x[None]})
    assert y.shape == (1, T, 1, H)
    np.testing.assert_allclose(run(client, model.SerializeToString(), x)[0], y[0, :, 0, :], rtol=0, atol=1e-9)


def with_state(model: onnx.ModelProto, value: float) -> bytes:
    """The node given an initial_h initializer filled with `value`."""
    model.graph.initializer.append(numpy_helper.from_array(np.full((1, 1, H), value), "h0"))
    node = model.graph.node[0]
    node.input.extend(["", "h0"])  # sequence_lens left out
    return model.SerializeToString()


def test_a_zero_initial_state_is_accepted_and_any_other_refused(client):
    _, model = lstm_model()
    x = np.random.default_rng(1).normal(size=(T, I))
    (y,) = ReferenceEvaluator(model).run(None, {"X": x[:, None, :]})
    np.testing.assert_allclose(run(client, with_state(model, 0.0), x)[0], y[:, 0, 0, :], rtol=0, atol=1e-9)
    detail = refusal(client, with_state(lstm_model()[1], 0.5))
    assert detail["loc"] == ["weights", "lstm", "initial_h"]
    assert "starts from initial_h 'h0', which is not a constant zero" in detail["error"]


@pytest.mark.parametrize("kind", [np.float16, "bfloat16"])
def test_half_precision_weights_are_read_exactly(client, kind):
    """float16 and bfloat16 W, R, B: what the evaluator computes on the same numbers in float64."""
    _, model = lstm_model(np.float64, seed=7)
    exact = onnx.ModelProto()
    exact.CopyFrom(model)
    for t, e in zip(model.graph.initializer, exact.graph.initializer, strict=True):
        a = numpy_helper.to_array(t)
        if kind == "bfloat16":
            bits = (a.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)  # truncated: exact
            t.CopyFrom(helper.make_tensor(t.name, TensorProto.BFLOAT16, a.shape, bits.tobytes(), raw=True))
            rounded = (bits.astype(np.uint32) << 16).view(np.float32)
        else:
            rounded = a.astype(np.float16)
            t.CopyFrom(numpy_helper.from_array(rounded, t.name))
        e.CopyFrom(numpy_helper.from_array(rounded.astype(np.float64), t.name))
    x = np.random.default_rng(8).normal(size=(T, I))
    (y,) = ReferenceEvaluator(exact).run(None, {"X": x[:, None, :]})
    np.testing.assert_allclose(run(client, model.SerializeToString(), x)[0], y[:, 0, 0, :], rtol=0, atol=1e-9)


def test_external_data_is_never_read(client):
    _, model = lstm_model()
    w = model.graph.initializer[0]
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value="/etc/passwd")
    detail = refusal(client, model.SerializeToString())
    assert detail["loc"] == ["weights", "lstm", "W"]
    assert detail["error"] == (
        "LSTM node 'lstm' of the ONNX model has W 'W', which cannot be read: its data lies in "
        "another file, which Gatescope never reads"
    )


def test_a_tensor_holding_fewer_bytes_than_it_declares_is_refused_unread(client):
    _, model = lstm_model()
    r = model.graph.initializer[1]
    r.raw_data = r.raw_data[:-8]
    detail = refusal(client, model.SerializeToString())
    assert detail["loc"] == ["weights", "lstm", "R"]
    assert (
        f"it declares {4 * H * H} numbers, {32 * H * H} bytes, but holds {32 * H * H - 8} bytes"
        in (detail["error"])
    )
