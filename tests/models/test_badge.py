"""An uploaded model's badge says what was read and how it was converted, tells the conversion's
tested claim apart from a figure measured for this very model, and that figure (ONNX) is real."""

from __future__ import annotations

import io

import numpy as np
import torch
from safetensors.torch import save as save_torch

from tests.models.test_torchfile import saved
from tests.models.test_uploads import VOCAB, npz_bytes, post_model


class WordModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.encoder = torch.nn.Embedding(len(VOCAB), 4)
        self.rnn = torch.nn.LSTM(4, 6)
        self.decoder = torch.nn.Linear(6, len(VOCAB))


def badge_of(client, answer) -> dict:
    assert answer.status_code == 200, answer.text
    got = client.get(f"/api/models/{answer.json()['id']}").json()
    assert got["conversion"] == answer.json()["model"]["conversion"]  # the same, stored and read back
    return got


def test_a_whole_torch_model_says_what_was_taken_folded_and_left_out(client, tmp_path):
    state = WordModel().state_dict()
    state["extra.scale"] = torch.ones(3)
    got = badge_of(client, post_model(client, saved(state, tmp_path), "lm.pt", vocab=VOCAB))
    read = got["conversion"]
    assert read["format"] == "torch.save (zip format)"
    steps = read["steps"]
    assert steps[0] == "the LSTM taken from module 'rnn.'"
    assert any(s.startswith("embedding 'encoder.' (5 × 4) folded into weight_ih_l0") for s in steps), steps
    assert "output layer 'decoder.' (K = 5)" in steps
    assert any(s.startswith("1 other tensor(s) left out: extra.scale") for s in steps), steps
    assert "torch.nn.LSTM (torch 2.13.0, float64)" in read["tested"]
    assert "a claim about the conversion, not a measurement of this file" in read["tested"]
    assert read["measured"] is None
    assert got["parity"] == read["tested"]


def test_a_legacy_file_and_a_bidirectional_one_say_so(client, tmp_path):
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(len(VOCAB), 3, bidirectional=True)
    legacy = badge_of(
        client, post_model(client, saved(lstm.state_dict(), tmp_path, legacy=True), "m.pt", vocab=VOCAB)
    )
    assert legacy["conversion"]["format"] == "torch.save (legacy format)"
    assert (
        "directions: forward and backward (bidirectional), each layer two entries"
        in legacy["conversion"]["steps"]
    )
    torch.manual_seed(1)
    st = badge_of(
        client, post_model(client, save_torch(dict(torch.nn.LSTM(2, 3).state_dict())), input_size="2")
    )
    assert st["conversion"]["format"] == "safetensors"
    assert st["conversion"]["steps"] == []  # torch's own layout: nothing to convert


def test_a_keras_npz_with_a_forget_bias_says_both(client):
    rng = np.random.default_rng(0)
    keras = {
        "kernel": rng.normal(size=(2, 12)),
        "recurrent_kernel": rng.normal(size=(3, 12)),
        "bias": np.zeros(12),
    }
    got = badge_of(client, post_model(client, npz_bytes(keras), "k.npz", input_size="2", forget_bias="1.0"))
    read = got["conversion"]
    assert read["format"] == "NumPy .npz"
    assert "forget_bias 1 added to the forget gate's bias, as TensorFlow 1 did" in read["steps"]
    assert "Keras 3's own LSTM layers" in read["tested"]


def onnx_export(dtype: torch.dtype, **kw) -> bytes:
    torch.manual_seed(4)
    lstm = torch.nn.LSTM(3, 4, **kw).to(dtype)
    buffer = io.BytesIO()
    torch.onnx.export(lstm, (torch.randn(5, 1, 3, dtype=dtype),), buffer, dynamo=False)
    return buffer.getvalue()


def test_an_onnx_model_shows_the_difference_measured_for_it(client):
    got = badge_of(
        client, post_model(client, onnx_export(torch.float64, num_layers=2), "m.onnx", input_size="3")
    )
    read = got["conversion"]
    assert read["format"] == "ONNX"
    assert "ONNX's reference evaluator" in read["tested"]
    assert read["measured"]["reference"] == "onnx.reference.ReferenceEvaluator"
    assert read["measured"]["steps"] == 5
    assert read["measured"]["max_abs_diff"] <= 1e-12
    assert any("gate order i, o, f, c" in s for s in read["steps"]), read["steps"]


def test_a_float32_onnx_model_measures_its_own_rounding_and_both_directions(client):
    got = badge_of(
        client, post_model(client, onnx_export(torch.float32, bidirectional=True), "m.onnx", input_size="3")
    )
    assert 1e-9 < got["conversion"]["measured"]["max_abs_diff"] < 1e-5  # the file computes in float32
    assert "directions: forward and backward" in got["conversion"]["steps"]
