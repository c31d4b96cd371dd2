"""Word models: POST /api/models with `tokens` (a JSON list of words) instead of `vocab`; the text
is split on whitespace, each word one-hot by its index, '<unk>' for a word not listed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.numpy import save as save_numpy

from tests.models.test_uploads import post_model, stored_count, torch_lstm

WORDS = ["<unk>", "the", "cat", "sat", "on", "mat", "."]


def upload(client, words: list[str], **form) -> dict:
    model = torch_lstm(len(words), 5, 2)
    tensors = {k: v.numpy() for k, v in model.state_dict().items()}
    r = post_model(client, save_numpy(tensors), tokens=json.dumps(words), **form)
    assert r.status_code == 200, r.text
    return {"answer": r.json(), "torch": model}


def test_a_word_model_reads_words_and_maps_unknown_ones_to_unk(client):
    up = upload(client, WORDS, name="words")
    answer, model = up["answer"], up["torch"]
    info = client.get(f"/api/models/{answer['id']}").json()
    assert (info["kind"], info["words"], info["size"], info["vocab"]) == ("words", WORDS, 7, None)
    assert answer["model"]["kind"] == "words"
    text = "the  cat sat\ton the zebra ."
    run = client.post("/api/run", json={"model": answer["id"], "text": text, "precision": "float64"})
    assert run.status_code == 200, run.text
    body = run.json()
    assert body["tokens"] == ["the", "cat", "sat", "on", "the", "zebra", "."]  # zebra as read
    read = [WORDS.index(w) if w in WORDS else 0 for w in body["tokens"]]
    with torch.no_grad():
        out, _ = model(torch.from_numpy(np.eye(len(WORDS))[read]))
    assert np.max(np.abs(np.array(body["layers"][1]["h"]) - out.numpy())) <= 1e-9
    step = client.post("/api/step", json={"model": answer["id"], "text": text, "t": 5})
    assert step.status_code == 200, step.text
    assert step.json()["token"] == "zebra"
    link = client.post("/api/links", json={"model": answer["id"], "text": text})
    assert link.status_code == 200, link.text


def test_a_word_not_listed_without_unk_is_refused_naming_it_and_where(client):
    answer = upload(client, WORDS[1:])["answer"]
    r = client.post("/api/run", json={"model": answer["id"], "text": "the cat  sat on a mat"})
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == (
        f"word 'a' (word 4, at character 16) is not among the words of model {answer['id']!r}, "
        "which has no '<unk>' to read it as"
    )
    assert body["loc"] == ["text", 4]
    assert (body["word"], body["position"], body["offset"]) == ("a", 4, 16)


def test_the_step_limit_counts_words(make_client):
    client = make_client(max_steps=3)
    answer = upload(client, WORDS)["answer"]
    ok = client.post("/api/run", json={"model": answer["id"], "text": "the cat sat"})  # 11 characters
    assert ok.status_code == 200, ok.text
    assert ok.json()["tokens"] == ["the", "cat", "sat"]
    r = client.post("/api/run", json={"model": answer["id"], "text": "the cat sat on"})
    assert r.status_code == 422
    assert r.json()["error"] == "the sequence has 4 steps; the limit is 3 (GATESCOPE_MAX_STEPS)"
    assert r.json()["loc"] == ["text"]


@pytest.mark.parametrize(
    "tokens, message, loc",
    [
        ("the cat", "tokens must be a JSON list of words, and is not valid JSON", ["tokens"]),
        ('{"the": 0}', "tokens must be a JSON list of words (strings)", ["tokens"]),
        ("[]", "tokens is empty", ["tokens"]),
        ('["the", 3]', "tokens[1] is not a word: each must be a non-empty string", ["tokens", 1]),
        ('["the", ""]', "tokens[1] is not a word: each must be a non-empty string", ["tokens", 1]),
        ('["the", "a cat"]', "tokens[1] ('a cat') holds whitespace", ["tokens", 1]),
        ('["the", "x", "the"]', "tokens repeats 'the': at 0 and at 2", ["tokens", 2]),
        (json.dumps(["a", "b" * 65]), "tokens[1] is 65 characters long; the limit is 64", ["tokens", 1]),
        (json.dumps([f"w{k}" for k in range(9)]), "tokens holds 9 words; the limit is 8", ["tokens"]),
    ],
)
def test_bad_word_lists_are_refused_before_the_file_is_read(make_client, tokens, message, loc):
    client = make_client(max_input_size=8)
    r = post_model(client, b"not a weights file at all", tokens=tokens)  # the file would be refused too
    assert r.status_code == 422, r.text
    assert r.json()["error"].startswith(message), r.json()
    assert r.json()["loc"] == loc
    assert stored_count(client) == 0


def test_a_word_list_of_the_wrong_length_and_vocab_with_tokens_are_refused(client):
    model = torch_lstm(4, 3, 1)
    weights = save_numpy({k: v.numpy() for k, v in model.state_dict().items()})
    r = post_model(client, weights, tokens='["a", "b", "c"]')
    assert r.status_code == 422
    assert (
        r.json()["error"]
        == "tokens has 3 words but the weights take 4 inputs per step (weight_ih_l0 is (12, 4))"
    )
    assert r.json()["loc"] == ["tokens"]
    r = post_model(client, weights, tokens='["a", "b", "c", "d"]', vocab="abcd")
    assert r.status_code == 422
    assert r.json()["error"].startswith("give either 'vocab'") and "'tokens'" in r.json()["error"]
    assert r.json()["loc"] == []
    assert stored_count(client) == 0


def test_the_same_weights_with_other_words_are_another_model(client):
    first = upload(client, WORDS)["answer"]
    second = upload(client, WORDS[::-1])["answer"]
    assert first["id"] != second["id"]
