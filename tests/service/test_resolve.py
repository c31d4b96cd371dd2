"""A request resolved once: one lookup of its model per request (a link's creation, its preview),
a model's pin hashed at most once, its shape read off its weights once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from app.models import versions, zoo
from app.service.store import Store

Client = Callable[..., TestClient]


@pytest.fixture
def counted(monkeypatch) -> Counter:
    """Counts model lookups (built-in: zoo.get; uploads and pins: Store.get_model) and hashes."""
    calls: Counter = Counter()

    def counting(name: str, owner: object, attr: str) -> None:
        original = getattr(owner, attr)

        def wrapper(*args, **kwargs):
            calls[name] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, attr, wrapper)

    counting("zoo.get", zoo, "get")
    counting("get_model", Store, "get_model")
    counting("tensor_hash", versions, "tensor_hash")
    return calls


def test_creating_a_link_and_drawing_its_preview_look_the_model_up_once_each(client, counted):
    r = client.post("/api/links", json={"model": "counter", "text": "ab. ab", "t": 2, "unit": 1})
    assert r.status_code == 200, r.text
    assert counted["zoo.get"] == 1
    lid = r.json()["id"]
    counted.clear()
    assert client.get(f"/l/{lid}.png").status_code == 200
    assert counted["zoo.get"] == 1


def test_a_link_to_an_upload_at_its_pin_reads_it_once_and_never_hashes_it_again(client, counted):
    from safetensors.numpy import save as save_numpy

    from tests.models.test_uploads import post_model, torch_lstm

    tensors = {k: v.numpy() for k, v in torch_lstm(3, 4, 1).state_dict().items()}
    up = post_model(client, save_numpy(tensors), vocab="ab.").json()["id"]
    pin = client.post("/api/links", json={"model": up, "text": "ab"}).json()["state"]["pin"]
    counted.clear()
    for text in ("ab.", "ba."):  # its id names its content: the pin hashed when linked is remembered
        r = client.post("/api/links", json={"model": up, "text": text, "pin": pin, "t": 1})
        assert r.status_code == 200, r.text
    assert (counted["get_model"], counted["tensor_hash"]) == (2, 0)


def test_a_random_models_pin_is_hashed_once_per_seed_not_once_per_request(client, counted):
    body = {
        "model": "random-h8-l1-s90517",
        "text": "hello",
        "pin": versions.pin_of(zoo.get("random-h8-l1-s90517")),
    }
    counted.clear()
    for _ in range(3):
        assert client.post("/api/run", json=body).status_code == 200
    assert counted["tensor_hash"] == 0  # remembered from the model built above
    other = {**body, "model": "random-h8-l1-s90518", "pin": "0" * 32}
    assert client.post("/api/run", json=other).status_code == 404
    assert client.post("/api/run", json=other).status_code == 404
    assert counted["tensor_hash"] == 1


def test_a_model_reads_its_shape_off_its_weights_once(monkeypatch):
    calls = Counter()
    original = zoo.shape_of

    def counting(weights):
        calls["shape_of"] += 1
        return original(weights)

    monkeypatch.setattr(zoo, "shape_of", counting)
    m = zoo.random_model("random-h6-l3-s2")
    assert (m.hidden_size, m.layers, m.shape.input_size) == (6, 3, len(zoo.ASCII_VOCAB))
    assert m.shape is m.shape and calls["shape_of"] == 1
