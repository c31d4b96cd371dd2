"""Links that cost little and can always be shown: a random model pinned by its recipe (a frozen
generator), not a 60 MB copy of its weights; links refused at creation when their run, the step,
unit or layer they point at, or the compare view's B could not be shown; bad input a 422, never a 500."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.engine import lstm
from app.models import versions, zoo

Client = Callable[..., TestClient]

# SHA-256 of each generator's float64 weights (names sorted, little-endian bytes) for a few
# (H, layers, seed). A generator's output never changes: links pin random models by id and
# generator alone. If one of these fails, the draw changed (code, or NumPy's random stream):
# restore it, or add a new generator version (zoo.GENERATORS) with its own frozen digests.
FROZEN = {
    "random-v1": {
        (8, 1, 0): "ccfe276bdf82501676d2bc1a0980905aa09ad2daa24e3c797e26dfd6907d1595",
        (32, 2, 0): "7eea69353680cc530f7a1ba8aaf924f697634c15d49448c6b2fbd229aa669672",
        (5, 3, 7): "74028fd2a1d31497de38d738b34082cda06255840956be6815f42f72e3a146a1",
    },
}


def digest(weights: dict[str, np.ndarray]) -> str:
    d = hashlib.sha256()
    for name in sorted(weights):
        d.update(name.encode())
        d.update(np.ascontiguousarray(weights[name], dtype="<f8").tobytes())
    return d.hexdigest()


def test_every_random_generator_draws_exactly_what_it_drew_when_frozen():
    assert set(zoo.GENERATORS) == set(FROZEN) and zoo.RANDOM_GENERATOR in FROZEN
    for version, frozen in FROZEN.items():
        for (H, layers, seed), want in frozen.items():
            assert digest(zoo.GENERATORS[version](H, layers, seed)) == want, (version, H, layers, seed)


def test_a_random_models_pin_is_the_hash_it_always_was():
    """Old links keep matching the current model, and a link made again gets the same id."""
    assert versions.pin_of(zoo.get("random-h8-l1-s0")) == "2fcaa5b1e436a1775d22092a0cf70e57"
    assert versions.pin_of(zoo.get("random-h512-l4-s7")) == "367229286af04e035c487d02e9019de4"


def stored_bytes(client: TestClient) -> int:
    with client.app.state.store._connect() as db:
        models = db.execute(
            "SELECT coalesce(sum(length(id) + length(info) + length(weights)), 0) FROM models"
        )
        links = db.execute("SELECT coalesce(sum(length(id) + length(state)), 0) FROM links")
        return models.fetchone()[0] + links.fetchone()[0]


def test_a_link_to_a_random_model_keeps_its_recipe_not_its_weights(client):
    before = stored_bytes(client)
    link = client.post("/api/links", json={"model": "random-h512-l4-s7", "text": "hello"})
    assert link.status_code == 200, link.text
    assert stored_bytes(client) - before < 1000  # was 60,426,255: a float64 copy of every weight
    stored = client.app.state.store.get_model(f"pin-{link.json()['state']['pin']}")
    assert stored.info == {"model": "random-h512-l4-s7", "generator": "random-v1"} and stored.weights == {}


def test_a_pinned_random_model_is_drawn_by_its_own_generator_after_a_new_one(client, monkeypatch):
    body = {"model": "random-h8-l2-s3", "text": "hello, world"}
    link = client.post("/api/links", json=body).json()
    before = client.post("/api/run", json=body).json()
    # A later release draws random models differently, under a new generator version.
    v2 = lambda H, layers, seed: zoo.GENERATORS["random-v1"](H, layers, seed + 1)  # noqa: E731
    monkeypatch.setitem(zoo.GENERATORS, "random-v2", v2)
    monkeypatch.setattr(zoo, "RANDOM_GENERATOR", "random-v2")
    now = client.post("/api/run", json=body).json()
    assert now["layers"] != before["layers"]
    pinned = client.post("/api/run", json={**body, "pin": link["state"]["pin"]})
    assert pinned.status_code == 200 and pinned.json()["layers"] == before["layers"]
    again = client.post("/api/links", json=body).json()
    assert again["state"]["pin"] != link["state"]["pin"]
    assert client.get(f"/l/{link['id']}.png").status_code == 200


def test_a_pin_row_an_older_release_kept_with_its_weights_is_still_served(client):
    m = zoo.get("random-h8-l1-s4")
    old = {k: v * 0.5 for k, v in m.weights.items()}  # what that release's generator drew
    pin = versions.tensor_hash(
        old, {"vocab": m.vocab, "input_size": m.input_size, "gate_activation": "sigmoid"}
    )
    info = {
        "model": m.id,
        "title": m.title,
        "description": m.description,
        "hint": m.hint,
        "vocab": m.vocab,
        "input_size": m.input_size,
        "units": [],
        "example": m.example,
        "gate_activation": "sigmoid",
        "parity": "",
        "card": None,
    }
    client.app.state.store.put_model(f"pin-{pin}", info, old)
    r = client.post("/api/run", json={"model": m.id, "text": "hi", "pin": pin, "precision": "float64"})
    assert r.status_code == 200, r.text
    x = np.eye(len(m.vocab))[[m.vocab.index(ch) for ch in "hi"]]
    assert np.array_equal(np.array(r.json()["layers"][0]["h"]), lstm.forward(old, x)[0].h)


def post_raw(client: TestClient, state: dict):
    """JSON as a client may send it: json.dumps writes a lone surrogate as the escape \\ud800."""
    return client.post("/api/links", content=json.dumps(state), headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("state", "status", "loc", "words"),
    [
        ({"model": "gated-sum", "inputs": "2e6"}, 422, ["inputs", 0, 0], "less than or equal to 1000000"),
        # the page's own parser refuses it too, in the same words (app/static/spec.json's grammar)
        ({"model": "gated-sum", "inputs": "1 1e400"}, 422, ["inputs"], 'step 1: "1e400" is not a number'),
        ({"model": "counter", "text2": "\ud800"}, 422, ["text2", 0], "lone surrogate (U+D800) at position 0"),
        ({"model": "counter", "text": "ab\udfff"}, 422, ["text", 2], "lone surrogate (U+DFFF)"),
        ({"model": "counter", "x": "f1\ud800"}, 422, ["x", 2], "lone surrogate"),
    ],
)
def test_input_that_broke_link_creation_is_refused_saying_where(client, state, status, loc, words):
    r = post_raw(client, state)
    assert r.status_code == status, r.text
    assert r.json()["loc"] == loc and words in r.json()["error"], r.json()


@pytest.mark.parametrize(
    ("state", "status", "loc", "words"),
    [
        (
            {"model": "random-h512-l4-s1", "text": "a" * 2000},
            422,
            ["text"],
            "the answer would hold 24576000 numbers (steps 2000 × hidden size 512 × layers 4 × 6 arrays); "
            "the limit is 1800000 (GATESCOPE_MAX_VALUES)",
        ),
        (
            {"model": "counter", "text": "ab", "layer": 99},
            422,
            ["layer"],
            "layer 99 is beyond the model's last layer, 0",
        ),
        (
            {"model": "counter", "text": "ab", "t": 1000000},
            422,
            ["t"],
            "t 1000000 is beyond the sequence's last step, 1",
        ),
        (
            {"model": "counter", "text": "ab", "unit": 4},
            422,
            ["unit"],
            "unit 4 is beyond the model's last unit, 3",
        ),
        (
            {"model": "gated-sum", "t": 7},
            422,
            ["t"],
            "t 7 is beyond the sequence's last step, 6",
        ),  # the example
        ({"model": "counter", "model2": "nope"}, 404, ["model2"], "no model 'nope'"),
        ({"model": "counter", "model2": "random-h9999-l1-s0"}, 422, ["model2"], "GATESCOPE_MAX_HIDDEN"),
        ({"model": "counter", "text": "ab", "text2": "a<b"}, 422, ["text2", 1], "character '<'"),
        (
            {"model": "counter", "text": "ab", "model2": "parity"},
            422,
            ["model2"],
            "vocabulary of model 'parity'",
        ),
        ({"model": "counter", "model2": "gated-sum", "text2": "1 x"}, 422, ["text2"], '"x" is not a number'),
        (
            {"model": "counter", "model2": "gated-sum", "text2": "1 2e6"},
            422,
            ["text2", 1, 0],
            "text2[1][0]: ",
        ),
        (
            {"model": "counter", "text": "ab.", "x2": "f1t40"},
            422,
            ["x2"],
            "x2: what-if 1: t = 40 is out of range",
        ),
        (
            {"model": "counter", "text": "ab", "model2": "random-h512-l4-s1", "text2": "a" * 2000},
            422,
            ["text2"],
            "GATESCOPE_MAX_VALUES",
        ),
    ],
)
def test_a_link_that_could_not_be_shown_is_refused_naming_the_key(client, state, status, loc, words):
    r = client.post("/api/links", json=state)
    assert r.status_code == status, r.text
    assert r.json()["loc"] == loc and words in r.json()["error"], r.json()
    with client.app.state.store._connect() as db:
        assert db.execute("SELECT count(*) FROM links").fetchone()[0] == 0


@pytest.mark.parametrize(
    "state",
    [
        {"model": "counter", "text": "ab", "t": 1, "unit": 3, "layer": 0},
        {"model": "random-h8-l2-s0", "text": "ab", "layer": 1, "unit": 7},
        {"model": "random-h512-l1-s0", "text": "a" * 585},  # 585 × 512 × 6 = 1,797,120 numbers
        {"model": "counter", "model2": "gated-sum"},  # B reads numbers: it runs its own example
        {"model": "counter", "text": "ab", "model2": "latch", "x2": "f1"},
        {"model": "counter", "text": "ab", "model2": "counter", "text2": "ba."},
    ],
)
def test_a_link_that_can_be_shown_is_kept(client, state):
    r = client.post("/api/links", json=state)
    assert r.status_code == 200, r.text
    assert client.get(f"/l/{r.json()['id']}.png").status_code == 200
