"""A whole model's state_dict: the LSTM found by its tensors under any module prefix, the rest left
out and named; several LSTMs told apart by the `module` form field, never mixed; a GRU or a plain
RNN named as such. State_dicts torch built, run against torch's own h and c."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.numpy import save as save_numpy
from safetensors.torch import save_file

from tests.models.test_uploads import GOOD, post_model, stored_count


def saved(module: torch.nn.Module, tmp_path) -> bytes:
    """The module's state_dict as the README says to save it."""
    path = tmp_path / "model.safetensors"
    save_file(module.state_dict(), str(path))
    return path.read_bytes()


def assert_runs_as(client, model_id: str, lstm: torch.nn.LSTM, seed: int = 1, T: int = 7) -> float:
    """Run the upload on random inputs; every layer's h and c as torch's, to 1e-9. The largest
    difference, for the report."""
    x = np.random.default_rng(seed).normal(size=(T, lstm.input_size))
    r = client.post("/api/run", json={"model": model_id, "inputs": x.tolist(), "precision": "float64"})
    assert r.status_code == 200, r.text
    layers = r.json()["layers"]
    assert len(layers) == lstm.num_layers
    worst = 0.0
    inputs = torch.from_numpy(x)
    with torch.no_grad():
        for k, layer in enumerate(layers):
            one = torch.nn.LSTM(inputs.shape[1], lstm.hidden_size).double()
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(one, f"{kind}_l0").copy_(getattr(lstm, f"{kind}_l{k}"))
            h = torch.zeros(1, lstm.hidden_size, dtype=torch.float64)
            c = torch.zeros(1, lstm.hidden_size, dtype=torch.float64)
            hs, cs = [], []
            for x_t in inputs:  # step by step: torch's c of every step, not only the last
                _, (h, c) = one(x_t[None], (h, c))
                hs.append(h[0].numpy())
                cs.append(c[0].numpy())
            for got, want in ((layer["h"], hs), (layer["c"], cs)):
                worst = max(worst, float(np.max(np.abs(np.array(got) - np.array(want)))))
            full, _ = lstm(torch.from_numpy(x)) if k == lstm.num_layers - 1 else (None, None)
            if full is not None:  # and the whole LSTM at once, as torch runs it
                worst = max(worst, float(np.max(np.abs(np.array(layer["h"]) - full.numpy()))))
            inputs = torch.from_numpy(np.array(hs))
    assert worst <= 1e-9, worst
    return worst


class WordLanguageModel(torch.nn.Module):
    """Shaped like PyTorch's word_language_model example: encoder Embedding, rnn LSTM, decoder Linear."""

    def __init__(self, V: int = 11, I: int = 6, H: int = 5, L: int = 2):
        super().__init__()
        self.encoder = torch.nn.Embedding(V, I)
        self.rnn = torch.nn.LSTM(I, H, L)
        self.decoder = torch.nn.Linear(H, V)


class EncoderDecoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Module()
        self.encoder.embedding = torch.nn.Embedding(9, 4)
        self.encoder.lstm = torch.nn.LSTM(4, 3, 1)
        self.decoder = torch.nn.Module()
        self.decoder.lstm = torch.nn.LSTM(3, 5, 2)
        self.decoder.out = torch.nn.Linear(5, 9)


def test_a_word_language_model_runs_its_lstm_and_names_what_it_left_out(client, tmp_path):
    torch.manual_seed(0)
    model = WordLanguageModel().double()
    # asked for the LSTM alone: its embedding and output layer are left out (tests/models/
    # test_whole_models.py folds them in, as an upload without these fields does)
    r = post_model(client, saved(model, tmp_path), input_size="6", embedding="none", head="none")
    assert r.status_code == 200, r.text
    assert_runs_as(client, r.json()["id"], model.rnn)
    info = client.app.state.store.get_info(r.json()["id"])
    assert info["module"] == "rnn."
    assert info["ignored"] == ["decoder.bias", "decoder.weight", "encoder.weight"]
    assert info["ignored_count"] == 3


def test_an_lstm_deep_in_a_model_is_found_under_its_prefix(client, tmp_path):
    torch.manual_seed(1)
    model = torch.nn.Module()
    model.model = torch.nn.Module()
    model.model.layers = torch.nn.ModuleList([torch.nn.LSTM(3, 4, 3), torch.nn.Linear(4, 2)])
    model = model.double()
    r = post_model(client, saved(model, tmp_path), input_size="3")
    assert r.status_code == 200, r.text
    assert_runs_as(client, r.json()["id"], model.model.layers[0])
    assert client.app.state.store.get_info(r.json()["id"])["module"] == "model.layers.0."


def test_an_encoder_and_a_decoder_are_listed_and_each_runs_as_itself(client, tmp_path):
    torch.manual_seed(2)
    model = EncoderDecoder().double()
    data = saved(model, tmp_path)
    r = post_model(client, data, input_size="4")
    assert r.status_code == 422, r.text
    assert r.json()["error"] == (
        "the file holds 2 LSTMs: 'decoder.lstm.' (2 layers, input size 3, hidden size 5) and "
        "'encoder.lstm.' (1 layer, input size 4, hidden size 3); say which to show with the "
        "'module' form field (module=decoder.lstm.)"
    )
    assert r.json()["loc"] == ["module"]
    assert r.json()["modules"] == [
        {"module": "decoder.lstm.", "layers": 2, "input_size": 3, "hidden_size": 5},
        {"module": "encoder.lstm.", "layers": 1, "input_size": 4, "hidden_size": 3},
    ]
    assert stored_count(client) == 0
    encoder = post_model(client, data, input_size="4", module="encoder.lstm.", embedding="none")
    decoder = post_model(client, data, input_size="3", module="decoder.lstm")  # the dot may be left off
    assert encoder.status_code == 200 and decoder.status_code == 200, (encoder.text, decoder.text)
    assert encoder.json()["id"] != decoder.json()["id"]
    assert_runs_as(client, encoder.json()["id"], model.encoder.lstm)
    assert_runs_as(client, decoder.json()["id"], model.decoder.lstm)
    info = client.app.state.store.get_info(encoder.json()["id"])
    assert info["module"] == "encoder.lstm." and "decoder.lstm.weight_ih_l0" in info["ignored"]


def test_a_module_that_names_no_lstm_is_refused_listing_those_there_are(client, tmp_path):
    torch.manual_seed(3)
    data = saved(EncoderDecoder().double(), tmp_path)
    r = post_model(client, data, input_size="4", module="decoder.out")
    assert r.status_code == 422, r.text
    assert r.json()["error"] == (
        "module 'decoder.out' names no LSTM in the file: its LSTMs are under 'decoder.lstm.' "
        "(2 layers, input size 3, hidden size 5) and 'encoder.lstm.' (1 layer, input size 4, hidden size 3)"
    )
    assert r.json()["loc"] == ["module"]


def test_module_is_for_torch_names_not_keras(client):
    arrays = {"kernel": np.zeros((2, 8)), "recurrent_kernel": np.zeros((2, 8)), "bias": np.zeros(8)}
    r = post_model(client, save_numpy(arrays), input_size="2", module="rnn")
    assert r.status_code == 422 and r.json()["loc"] == ["module"], r.text
    assert r.json()["error"].startswith("'module' names a torch module prefix, but the file holds a Keras")


@pytest.mark.parametrize(
    ("layer", "words"),
    [
        (
            torch.nn.GRU(8, 128),
            "a GRU (module 'rnn.', 3H = 384 rows in 'rnn.weight_ih_l0', where an LSTM's has 4H)",
        ),
        (
            torch.nn.RNN(8, 16),
            "a plain RNN (module 'rnn.', H = 16 rows in 'rnn.weight_ih_l0', where an LSTM's has 4H)",
        ),
    ],
    ids=["gru", "rnn"],
)
def test_a_gru_or_a_plain_rnn_is_named_as_such(client, tmp_path, layer, words):
    model = torch.nn.Module()
    model.embedding = torch.nn.Embedding(10, 8)
    model.rnn = layer
    r = post_model(client, saved(model, tmp_path), input_size="8")
    assert r.status_code == 422, r.text
    assert (
        r.json()["error"]
        == f"Gatescope shows LSTMs; this file holds {words}: save a torch.nn.LSTM's state_dict"
    )
    assert r.json()["loc"] == ["weights", "rnn.weight_ih_l0"]
    # and named so when it is asked for, too
    asked = post_model(client, saved(model, tmp_path), input_size="8", module="rnn.")
    assert asked.json()["error"] == r.json()["error"]


def test_a_file_with_no_lstm_says_what_it_holds_and_what_an_lstm_looks_like(client, tmp_path):
    torch.manual_seed(4)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    r = post_model(client, saved(model, tmp_path), input_size="3")
    assert r.status_code == 422, r.text
    assert r.json()["error"] == (
        "found no LSTM in the file: it holds '0.bias' (4,), '0.weight' (4, 3), '1.bias' (2,), "
        "'1.weight' (2, 4); a torch.nn.LSTM's tensors are weight_ih_l0 (4H, I), weight_hh_l0 (4H, H), "
        "bias_ih_l0 and bias_hh_l0 (4H) (_l1, _l2… for stacked layers) under any module prefix such "
        "as 'rnn.'; a Keras LSTM's are kernel, recurrent_kernel and bias"
    )
    assert r.json()["loc"] == ["weights"]


def test_an_lstm_split_across_two_prefixes_is_never_mixed(client):
    """Today's silent chimera: weight_ih from one module, weight_hh from another."""
    a = {f"a.{k}": v for k, v in GOOD.items() if k.endswith("ih_l0")}
    b = {f"b.{k}": v for k, v in GOOD.items() if k.endswith("hh_l0")}
    r = post_model(client, save_numpy({**a, **b}), vocab="abc. ")
    assert r.status_code == 422, r.text
    assert r.json()["error"].startswith(
        "no module prefix holds a whole LSTM ('a.' holds bias_ih_l0, weight_ih_l0; 'b.' holds "
        "bias_hh_l0, weight_hh_l0), and tensors of two prefixes are never mixed: "
    )
    assert stored_count(client) == 0


def test_a_stray_tensor_of_another_module_is_left_out_not_refused(client):
    r = post_model(client, save_numpy({**GOOD, "fc.weight": np.zeros((2, 2))}), vocab="abc. ")
    assert r.status_code == 200, r.text
    info = client.app.state.store.get_info(r.json()["id"])
    assert info["module"] == "" and info["ignored"] == ["fc.weight"]


def test_left_out_names_are_stored_bounded(client):
    strays = {f"head.{'x' * 300}{k:02d}": np.zeros(1) for k in range(40)}
    r = post_model(client, save_numpy({**GOOD, **strays}), vocab="abc. ")
    assert r.status_code == 200, r.text
    info = client.app.state.store.get_info(r.json()["id"])
    assert info["ignored_count"] == 40 and len(info["ignored"]) == 32
    assert all(len(n) == 200 and n.endswith("…") for n in info["ignored"])


def test_an_lstm_under_no_prefix_is_named_by_a_dot(client):
    torch.manual_seed(5)
    decoder = torch.nn.LSTM(5, 3).double()
    arrays = {**GOOD, **{f"dec.{k}": v.numpy() for k, v in decoder.state_dict().items()}}
    r = post_model(client, save_numpy(arrays), vocab="abc. ")
    assert r.status_code == 422 and r.json()["loc"] == ["module"], r.text
    assert r.json()["error"] == (
        "the file holds 2 LSTMs: no prefix (1 layer, input size 5, hidden size 2) and 'dec.' "
        "(1 layer, input size 5, hidden size 3); say which to show with the 'module' form field (module=.)"
    )
    top = post_model(client, save_numpy(arrays), vocab="abc. ", module=".")
    assert top.status_code == 200, top.text
    assert client.app.state.store.get_info(top.json()["id"])["module"] == ""
    dec = post_model(client, save_numpy(arrays), input_size="5", module="dec")
    assert dec.status_code == 200, dec.text
    assert_runs_as(client, dec.json()["id"], decoder)


def test_a_stray_piece_that_collides_is_still_refused_naming_both(client):
    """Which bias_hh_l0 was meant? As before this change: refused, not guessed."""
    r = post_model(client, save_numpy({**GOOD, "lstm.bias_hh_l0": GOOD["bias_hh_l0"]}), vocab="abc. ")
    assert r.status_code == 422, r.text
    assert r.json()["error"] == (
        "tensors 'bias_hh_l0' and 'lstm.bias_hh_l0' both stand for 'bias_hh_l0': "
        "upload one LSTM's tensors, under one module prefix"
    )
    assert r.json()["loc"] == ["weights", "lstm.bias_hh_l0"]
    assert r.json()["tensors"] == ["bias_hh_l0", "lstm.bias_hh_l0"]
