"""A bidirectional LSTM saved by torch 2.13.0 (torch.save, zip and legacy, and safetensors; alone
or in a whole model) runs as torch computes it, each layer two entries in input order; an LSTM
with projections is refused in words."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save as save_torch

from tests.engine.test_bidirectional import torch_entries
from tests.models.test_torchfile import saved
from tests.models.test_uploads import VOCAB, one_hot, post_model

TEXT = "ab. cab.c a"


class Tagger(torch.nn.Module):
    """A whole model around a bidirectional LSTM, as a practitioner saves it."""

    def __init__(self, layers: int):
        super().__init__()
        torch.manual_seed(layers)
        self.rnn = torch.nn.LSTM(len(VOCAB), 5, num_layers=layers, bidirectional=True).double()


@pytest.mark.parametrize("how", ["zip", "legacy", "safetensors"])
@pytest.mark.parametrize("layers", [1, 2])
def test_a_saved_bidirectional_lstm_runs_as_torch_computes_it(client, tmp_path, how, layers):
    model = Tagger(layers)
    state = model.state_dict()
    raw = save_torch(dict(state)) if how == "safetensors" else saved(state, tmp_path, legacy=how == "legacy")
    up = post_model(client, raw, "m.bin", vocab=VOCAB)
    assert up.status_code == 200, up.text
    info = up.json()["model"]
    assert (info["layers"], info["directions"], info["hidden_size"]) == (layers, 2, 5)
    run = client.post(
        "/api/run", json={"model": up.json()["id"], "text": TEXT, "precision": "float64"}
    ).json()
    assert [e["direction"] for e in run["layers"]] == ["forward", "backward"] * layers
    x = torch.from_numpy(one_hot(TEXT))
    want = torch_entries(model.rnn, x)
    worst = max(
        float(np.max(np.abs(np.array(got[n]) - w[n])))
        for got, w in zip(run["layers"], want, strict=True)
        for n in w
    )
    assert worst <= 1e-9, worst
    with torch.no_grad():
        output, _ = model.rnn(x)
    last = np.concatenate([run["layers"][-2]["h"], run["layers"][-1]["h"]], axis=-1)
    assert np.max(np.abs(last - output.numpy())) <= 1e-9


def test_a_backward_entry_explains_a_step_from_the_step_after_it(client, tmp_path):
    up = post_model(client, save_torch(dict(Tagger(1).state_dict())), "m.safetensors", vocab=VOCAB).json()
    body = {"model": up["id"], "text": TEXT, "precision": "float64"}
    run = client.post("/api/run", json=body).json()
    back = run["layers"][1]
    step = client.post("/api/step", json={**body, "layer": 1, "t": 3}).json()
    assert step["c_prev"] == back["c"][4]  # read from the end: step 3 follows step 4
    f = np.array(back["f"][3])
    assert np.allclose(step["kept"], f * np.array(back["c"][4]), rtol=1e-15, atol=0)
    last = client.post("/api/step", json={**body, "layer": 1, "t": len(TEXT) - 1}).json()
    assert last["c_prev"] == [0.0] * 5  # the first step it read starts from c0


def test_an_intervention_on_a_backward_entry_is_refused_beyond_the_last_entry(client, tmp_path):
    up = post_model(client, save_torch(dict(Tagger(1).state_dict())), "m.safetensors", vocab=VOCAB).json()
    body = {"model": up["id"], "text": TEXT, "interventions": [{"gate": "f", "value": 1.0, "layer": 2}]}
    answer = client.post("/api/run", json=body)
    assert answer.status_code == 422
    assert "1 bidirectional layer(s), 2 entries" in answer.json()["error"]
    assert answer.json()["loc"] == ["interventions", 0, "layer"]


def test_an_lstm_with_projections_is_refused_saying_gatescope_does_not_compute_them(client, tmp_path):
    torch.manual_seed(0)
    state = torch.nn.LSTM(len(VOCAB), 6, proj_size=3).state_dict()
    answer = post_model(client, saved(state, tmp_path), "m.pt", vocab=VOCAB)
    assert answer.status_code == 422
    message = answer.json()["error"]
    assert "projections (proj_size > 0)" in message and "does not compute projections" in message


def test_a_layer_reading_both_directions_fits_the_limits_that_allow_it(make_client):
    """Layer 1 of a bidirectional LSTM holds (4H, 2H): more than any tensor of a one-way LSTM
    whose input is smaller than 2H, and within the limits all the same."""
    c = make_client(max_input_size=len(VOCAB), max_hidden=5)
    answer = post_model(c, save_torch(dict(Tagger(2).state_dict())), "m.safetensors", vocab=VOCAB)
    assert answer.status_code == 200, answer.text
    assert answer.json()["model"]["directions"] == 2


def test_onnx_sequence_lengths_are_refused_in_words(client):
    from onnx import TensorProto, helper

    from tests.models.test_onnxfile import lstm_model

    _, model = lstm_model()
    node = model.graph.node[0]
    assert list(node.input) == ["X", "W", "R", "B"]
    node.input.append("lens")  # input 4: sequence_lens
    model.graph.input.append(helper.make_tensor_value_info("lens", TensorProto.INT32, [1]))
    answer = post_model(client, model.SerializeToString(), "m.onnx", input_size="3")
    assert answer.status_code == 422, answer.text
    assert answer.json()["loc"] == ["weights", "lstm", "sequence_lens"]
    assert "takes sequence_lens ('lens')" in answer.json()["error"]
