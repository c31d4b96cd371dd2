"""What explains a run: the cell update term by term, retention of a step's cell state, the gate
curve; against plain loops and torch, and on the trained models whose gates are known."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.engine import explain, lstm
from app.models import zoo


def trace_of(model_id: str, text: str, c0: np.ndarray | None = None) -> lstm.LayerTrace:
    m = zoo.get(model_id)
    x = np.eye(len(m.vocab))[[m.vocab.index(ch) for ch in text]]
    return lstm.forward(m.weights, x, c0=c0)[0]


def test_kept_plus_written_is_the_cell_state_even_from_a_given_c0():
    c0 = np.array([[0.5, -2.0, 1.5, 3.0]])
    tr = trace_of("counter", "ab. aab", c0=c0)
    kept, written = explain.cell_update(tr)
    assert np.max(np.abs(kept + written - tr.c)) <= 1e-12
    assert np.allclose(kept[0], tr.f[0] * c0[0]) and np.allclose(written[3], tr.i[3] * tr.g[3])


def test_retention_is_the_product_of_later_forget_gates_and_its_span_where_it_falls_below_1_over_e():
    m = zoo.get("random-h8-l1-s3")
    tr = lstm.forward(m.weights, np.eye(len(m.vocab))[np.arange(30) % 20])[0]
    r = explain.retention(tr, 4)
    assert np.isnan(r.survives[:4]).all() and (r.survives[4] == 1).all()
    for u in range(8):
        product, span = 1.0, None
        for t in range(5, 30):
            product *= tr.f[t, u]
            assert r.survives[t, u] == pytest.approx(product, rel=1e-12)
            if span is None and product < np.exp(-1):
                span = t - 4
        assert r.span[u] == span
    with pytest.raises(ValueError, match="outside"):
        explain.retention(tr, 30)


def test_the_trained_models_show_the_memory_their_gates_were_trained_for():
    recall = trace_of("recall", "c" + "-" * 99)
    keeping = [u for u, s in enumerate(explain.retention(recall, 0).span) if s is None]
    assert keeping, "no recall unit keeps its step-0 memory for 99 steps"
    counter = trace_of("reset-count", "aaab.aab")  # the '.' is step 4
    r = explain.retention(counter, 1)
    forgetting = [u for u in range(8) if r.span[u] == 3]  # gone at the '.', three steps after start
    assert forgetting and all(r.survives[4, u] < 0.1 for u in forgetting)


@pytest.mark.parametrize("activation", ["sigmoid", "hard_sigmoid"])
def test_the_gate_curve_is_the_gates_activation(activation):
    curve = explain.gate_curve(activation)
    z = torch.tensor(curve["z"], dtype=torch.float64)
    want = torch.sigmoid(z) if activation == "sigmoid" else torch.clamp(0.2 * z + 0.5, 0, 1)
    assert np.max(np.abs(np.array(curve["y"]) - want.numpy())) <= 1e-15
    assert curve["z"][80] == 0 and curve["y"][80] == 0.5


def test_the_api_answers_what_the_views_need_and_each_sums_up(client):
    body = {
        "model": "reset-count",
        "text": "aab.ab",
        "precision": "float64",
        "include": ["parts", "update", "retention"],
        "retention_from": 1,
    }
    r = client.post("/api/run", json=body)
    assert r.status_code == 200, r.text
    answer = r.json()
    layer = {k: np.array(v) for k, v in answer["layers"][0].items() if k in "ifgoch"}
    parts = answer["layers"][0]["parts"]["f"]
    pre = np.array(parts["input"]) + np.array(parts["recurrent"]) + np.array(parts["bias"])
    assert np.max(np.abs(np.array(parts["pre"]) - pre)) <= 1e-12
    assert np.max(np.abs(1 / (1 + np.exp(-pre)) - layer["f"])) <= 1e-12  # f = σ(pre)
    update = answer["layers"][0]["update"]
    assert np.max(np.abs(np.array(update["kept"]) + np.array(update["written"]) - layer["c"])) <= 1e-12
    kept = answer["layers"][0]["retention"]
    assert kept["start"] == 1 and kept["survives"][0] == [None] * 8 and kept["survives"][1] == [1.0] * 8
    assert np.allclose(kept["survives"][3], layer["f"][2] * layer["f"][3])
    assert answer["gate_curve"]["activation"] == "sigmoid" and len(answer["gate_curve"]["z"]) == 161
    plain = client.post("/api/run", json={"model": "reset-count", "text": "aab.ab"}).json()
    assert "gate_curve" not in plain and "update" not in plain["layers"][0]


def test_a_retention_start_beyond_the_run_is_refused(client):
    r = client.post(
        "/api/run", json={"model": "counter", "text": "ab", "include": ["retention"], "retention_from": 2}
    )
    assert r.status_code == 422 and r.json()["loc"] == ["retention_from"]
