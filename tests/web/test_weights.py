"""GET /api/models/{id}/weights: each gate's rows of W, U and its bias, cut from torch's layout."""

from __future__ import annotations

import numpy as np
import torch

from app.models import zoo


def test_counter_forget_gate_reads_minus_twenty_on_the_full_stop(client):
    m = zoo.get("counter")
    H = m.hidden_size
    answer = client.get("/api/models/counter/weights", params={"gate": "f", "layer": 0})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["inputs"] == list(m.vocab)
    (entry,) = body["layers"]
    assert entry["direction"] == "forward" and list(entry["gates"]) == ["f"]
    W = np.array(entry["gates"]["f"]["W"])
    # torch's layout, read independently: rows H:2H of weight_ih_l0 are the forget gate's.
    expected = m.weights["weight_ih_l0"][H : 2 * H]
    np.testing.assert_array_equal(W, expected)
    dot = body["inputs"].index(".")
    assert W[:3, dot].tolist() == [-20.0, -20.0, -20.0]
    assert W[3, dot] == 0.0
    b = m.weights["bias_ih_l0"][H : 2 * H] + m.weights["bias_hh_l0"][H : 2 * H]
    np.testing.assert_array_equal(entry["gates"]["f"]["b"], b)


def test_every_gate_and_entry_match_a_torch_lstm_with_the_same_state_dict(client):
    m = zoo.get("random-h8-l2-s3")
    lstm = torch.nn.LSTM(m.shape.input_size, 8, num_layers=2).double()
    lstm.load_state_dict({k: torch.from_numpy(v) for k, v in m.weights.items()})
    body = client.get("/api/models/random-h8-l2-s3/weights").json()
    assert [e["direction"] for e in body["layers"]] == ["forward", "forward"]
    assert body["head"] is None
    for k, entry in enumerate(body["layers"]):
        assert len(entry["inputs"]) == (m.shape.input_size if k == 0 else 8)
        for n, gate in enumerate("ifgo"):
            rows = slice(8 * n, 8 * (n + 1))
            ih, hh = getattr(lstm, f"weight_ih_l{k}"), getattr(lstm, f"weight_hh_l{k}")
            bias = getattr(lstm, f"bias_ih_l{k}") + getattr(lstm, f"bias_hh_l{k}")
            got = entry["gates"][gate]
            np.testing.assert_allclose(got["W"], ih[rows].detach().numpy(), rtol=1e-6)
            np.testing.assert_allclose(got["U"], hh[rows].detach().numpy(), rtol=1e-6)
            np.testing.assert_allclose(got["b"], bias[rows].detach().numpy(), rtol=1e-6, atol=1e-7)


def test_a_trained_model_answers_its_head_with_its_labels(client):
    m = next(x for x in zoo.listed() if x.head is not None)
    body = client.get(f"/api/models/{m.id}/weights").json()
    assert body["head"]["labels"] == list(m.labels)
    np.testing.assert_allclose(body["head"]["weight"], m.head["weight"], rtol=1e-6)


def test_a_layer_beyond_the_last_entry_is_refused_in_words(client):
    answer = client.get("/api/models/counter/weights", params={"layer": 1})
    assert answer.status_code == 422
    assert answer.json()["loc"] == ["query", "layer"]
    assert "beyond the model's last entry, 0" in answer.json()["error"]


def test_an_unknown_gate_is_refused_where_it_is(client):
    answer = client.get("/api/models/counter/weights", params={"gate": "z"})
    assert answer.status_code == 422
    assert answer.json()["loc"] == ["query", "gate"]


def test_an_unknown_model_is_not_found(client):
    answer = client.get("/api/models/nope/weights")
    assert answer.status_code == 404
    assert answer.json()["loc"] == ["model"]


def test_weights_over_the_value_limit_are_refused_naming_the_setting(make_client):
    c = make_client(max_values=1000)
    answer = c.get("/api/models/random-h32-l1-s0/weights")
    assert answer.status_code == 422
    body = answer.json()
    assert "GATESCOPE_MAX_VALUES" in body["error"] and body["loc"] == []
    assert body["limit"] == 1000
    small = c.get("/api/models/counter/weights", params={"gate": "f", "layer": 0})
    assert small.status_code == 200
