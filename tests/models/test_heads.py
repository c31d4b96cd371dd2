"""The built-in trained models' output layers: /api/run include ["outputs"] against torch
(nn.LSTM + nn.Linear loaded with the files' own tensors, float64) and against the tasks' truth."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from app.models import zoo
from app.train.tasks import TASKS

TRAINED = ["bracket-depth", "parity", "python-chars", "recall", "reset-count"]


def torch_model(model_id: str) -> tuple[torch.nn.LSTM, torch.nn.Linear, str]:
    """The file's tensors in torch's own modules: the reference, none of Gatescope's code."""
    path = zoo.TRAINED_DIR / f"{model_id}.safetensors"
    tensors = {k: torch.from_numpy(v.astype(np.float64)) for k, v in load_file(str(path)).items()}
    vocab = json.loads(path.with_suffix(".json").read_text())["vocab"]
    H, I = tensors["weight_hh_l0"].shape[1], tensors["weight_ih_l0"].shape[1]
    layers = sum(1 for k in tensors if k.startswith("weight_ih_l"))
    lstm = torch.nn.LSTM(I, H, num_layers=layers).double()
    lstm.load_state_dict({k: v for k, v in tensors.items() if not k.startswith("head.")})
    K = tensors["head.weight"].shape[0]
    linear = torch.nn.Linear(H, K).double()
    linear.load_state_dict({"weight": tensors["head.weight"], "bias": tensors["head.bias"]})
    return lstm, linear, vocab


def fresh_text(model_id: str, vocab: str, rng: np.random.Generator, length: int) -> str:
    if model_id in TASKS:
        tokens, _, _ = TASKS[model_id].draw(rng, 1, length)
        return "".join(vocab[t] for t in tokens[:, 0])
    return "".join(rng.choice(list(vocab[:-1]), size=length))  # python-chars: any characters


@pytest.mark.parametrize("model_id", TRAINED)
def test_outputs_are_torch_s_linear_layer_after_its_lstm(client, model_id):
    lstm, linear, vocab = torch_model(model_id)
    rng = np.random.default_rng(sum(map(ord, model_id)))
    for length in (1, 7, 40):
        text = fresh_text(model_id, vocab, rng, length)
        r = client.post(
            "/api/run",
            json={"model": model_id, "text": text, "include": ["outputs"], "precision": "float64"},
        )
        assert r.status_code == 200, r.text
        out = r.json()["outputs"]
        x = torch.eye(len(vocab), dtype=torch.float64)[[vocab.index(ch) for ch in text]]
        with torch.no_grad():
            h, _ = lstm(x)
            logits = linear(h)
            probs = torch.softmax(logits, dim=-1)
        assert np.array(out["logits"]).shape == (length, linear.out_features)
        assert np.max(np.abs(np.array(out["logits"]) - logits.numpy())) <= 1e-9
        assert np.max(np.abs(np.array(out["probs"]) - probs.numpy())) <= 1e-9
        assert out["labels"] == list(zoo.get(model_id).labels)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_the_outputs_answer_the_task_as_well_as_the_card_says(client, task):
    """Fresh sequences of the task (not the held-out set the card measured), argmax of probs
    against the task's own targets: the card's accuracy, less a margin of two points."""
    card = zoo.get(task).card
    assert card is not None
    rng = np.random.default_rng(12345)
    tokens, targets, mask = TASKS[task].draw(rng, 64, TASKS[task].length)
    vocab = TASKS[task].vocab
    right = counted = 0
    for b in range(tokens.shape[1]):
        text = "".join(vocab[t] for t in tokens[:, b])
        r = client.post("/api/run", json={"model": task, "text": text, "include": ["outputs"]})
        assert r.status_code == 200, r.text
        guess = np.argmax(np.array(r.json()["outputs"]["probs"]), axis=1)
        right += int(np.sum((guess == targets[:, b])[mask[:, b]]))
        counted += int(mask[:, b].sum())
    assert right / counted >= card["accuracy"] - 0.02


def test_the_labels_name_what_each_class_of_the_task_means():
    assert zoo.get("parity").labels == ("even", "odd")
    assert zoo.get("recall").labels == ("a", "b", "c", "d")
    assert zoo.get("reset-count").labels == ("0", "1", "2", "3", "4", "5+")
    assert zoo.get("bracket-depth").labels == ("0", "1", "2", "3", "4", "5")
    chars = zoo.get("python-chars")
    assert chars.labels == tuple(chars.vocab or "") and len(chars.labels) == 96
    for name, task in TASKS.items():  # one name per class of the task that trained the head
        assert len(zoo.get(name).labels) == task.classes
    # recall's classes are the symbols its sequences start with, in the task's order
    tokens, targets, _ = TASKS["recall"].draw(np.random.default_rng(0), 8, 5)
    assert all(
        zoo.get("recall").labels[targets[0, b]] == TASKS["recall"].vocab[tokens[0, b]] for b in range(8)
    )


def test_the_heads_leave_the_trained_models_pins_as_they_were():
    """A pin is the hash of the LSTM's weights and input description only, as before heads."""
    from app.models.versions import tensor_hash

    for model_id in TRAINED:
        m = zoo.get(model_id)
        assert m.head is not None and not any(k.startswith("head") for k in m.weights)
        assert m.pin == tensor_hash(
            m.weights, {"vocab": m.vocab, "input_size": m.input_size, "gate_activation": "sigmoid"}
        )


def test_a_model_without_an_output_layer_refuses_outputs_in_words(client):
    r = client.post("/api/run", json={"model": "counter", "text": "ab. a", "include": ["outputs"]})
    assert r.status_code == 422
    body = r.json()
    assert body["loc"] == ["include"]
    assert body["error"].startswith("model 'counter' has no output layer, so there are no outputs")
    r = client.post(
        "/api/run",
        json={
            "weights": {"weight_ih_l0": [[0.0]] * 4, "weight_hh_l0": [[0.0]] * 4},
            "inputs": [[1.0]],
            "include": ["outputs"],
        },
    )
    assert r.status_code == 422 and r.json()["loc"] == ["include"]
    assert r.json()["error"].startswith("inline weights have no output layer")


def test_outputs_count_in_the_answer_size_limit(make_client):
    # python-chars: H, layers and K; 6 arrays of T × H × layers fit, the 2 × T × K outputs do not
    m = zoo.get("python-chars")
    T, K = 10, len(m.labels)
    plain = T * m.hidden_size * m.layers * 6
    c = make_client(max_values=plain + 2 * T * K - 1)
    text = "def f(x):\n"
    assert c.post("/api/run", json={"model": "python-chars", "text": text}).status_code == 200
    r = c.post("/api/run", json={"model": "python-chars", "text": text, "include": ["outputs"]})
    assert r.status_code == 422, r.text
    assert f"+ steps {T} × {K} classes × 2 outputs" in r.json()["error"]
    assert "GATESCOPE_MAX_VALUES" in r.json()["error"]
    c = make_client(max_values=plain + 2 * T * K)
    assert (
        c.post("/api/run", json={"model": "python-chars", "text": text, "include": ["outputs"]}).status_code
        == 200
    )


def test_float32_outputs_are_the_float64_ones_rounded(client):
    answers = [
        client.post(
            "/api/run", json={"model": "parity", "text": "0110", "include": ["outputs"], "precision": p}
        ).json()["outputs"]
        for p in ("float32", "float64")
    ]
    assert np.array_equal(np.float32(answers[1]["probs"]), np.array(answers[0]["probs"], dtype=np.float32))


def test_the_run_schema_documents_outputs(client):
    doc = client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    # `top`: the k likeliest only, when the request asks outputs_top (what the page asks)
    assert set(schemas["OutputsOut"]["properties"]) == {"labels", "logits", "probs", "top"}
    assert "outputs" in json.dumps(schemas["RunRequest"]["properties"]["include"])


def test_a_step_of_a_model_with_an_output_layer_carries_its_prediction(client):
    run = client.post(
        "/api/run",
        json={"model": "reset-count", "text": "aab.a", "include": ["outputs"], "precision": "float64"},
    ).json()["outputs"]
    step = client.post(
        "/api/step", json={"model": "reset-count", "text": "aab.a", "t": 2, "precision": "float64"}
    ).json()
    assert step["outputs"] == {"labels": run["labels"], "logits": run["logits"][2], "probs": run["probs"][2]}
    plain = client.post("/api/step", json={"model": "counter", "text": "ab", "t": 1}).json()
    assert "outputs" not in plain and "c" in plain
