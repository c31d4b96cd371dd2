"""Share links: stored once by content, pinned to the weights they showed, resolved as JSON and as a
page with preview tags; bad states refused. Against SQLite and PostgreSQL alike."""

from __future__ import annotations

import dataclasses
import html
import io
import re
from collections.abc import Callable

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.models import zoo

Client = Callable[..., TestClient]


@pytest.fixture
def links_client(make_client: Client, database_url: str | None) -> TestClient:
    return make_client(database_url=database_url)


def create(client: TestClient, state: dict) -> dict:
    r = client.post("/api/links", json=state)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_same_state_gives_the_same_link_and_is_stored_once(links_client):
    first = create(links_client, {"model": "counter", "text": "ab. ab", "t": 3, "unit": 0, "layer": 0})
    again = create(links_client, {"unit": 0, "layer": 0, "t": 3, "text": "ab. ab", "model": "counter"})
    other = create(links_client, {"model": "counter", "text": "ab. abb"})
    assert re.fullmatch(r"[a-z2-7]{12}", first["id"]) and first["url"] == f"/l/{first['id']}"
    assert (first["created"], again["created"]) == (True, False)
    assert again["id"] == first["id"] and other["id"] != first["id"]
    got = links_client.get(f"/api/links/{first['id']}").json()
    assert got["state"] == first["state"]
    assert got["state"] == {
        "model": "counter",
        "text": "ab. ab",
        "t": 3,
        "unit": 0,
        "layer": 0,
        "pin": got["state"]["pin"],
    }


def test_a_link_pins_the_weights_it_showed_when_the_model_is_retrained(links_client, monkeypatch):
    text = "aab. ab"
    link = create(links_client, {"model": "counter", "text": text})
    before = links_client.post("/api/run", json={"model": "counter", "text": text}).json()
    # A later release ships the model retrained: other weights under the same id.
    old = zoo.BUILT["counter"]
    rng = np.random.default_rng(0)
    new = dataclasses.replace(old, weights={k: v + rng.normal(size=v.shape) for k, v in old.weights.items()})
    monkeypatch.setitem(zoo.BUILT, "counter", new)
    now = links_client.post("/api/run", json={"model": "counter", "text": text}).json()
    assert now["layers"][0]["c"] != before["layers"][0]["c"]
    pin = links_client.get(f"/api/links/{link['id']}").json()["state"]["pin"]
    pinned = links_client.post("/api/run", json={"model": "counter", "text": text, "pin": pin}).json()
    assert pinned["layers"] == before["layers"]
    # and a new link to the retrained model pins the new weights
    fresh = create(links_client, {"model": "counter", "text": text})
    assert fresh["state"]["pin"] != pin and fresh["id"] != link["id"]


def test_a_pin_no_store_holds_is_refused_with_the_current_one(links_client):
    r = links_client.post("/api/run", json={"model": "counter", "text": "ab", "pin": "0" * 32})
    assert r.status_code == 404
    assert r.json()["loc"] == ["pin"] and "no version" in r.json()["error"]
    assert re.fullmatch(r"[0-9a-f]{32}", r.json()["current"])


def test_uploaded_models_and_long_sequences_fit_in_a_link(links_client):
    from safetensors.numpy import save as save_numpy

    from tests.models.test_uploads import post_model, torch_lstm

    tensors = {k: v.numpy() for k, v in torch_lstm(3, 4, 1).state_dict().items()}
    up = post_model(links_client, save_numpy(tensors), vocab="ab.").json()["id"]
    text = "ab." * 600  # 1800 steps
    link = create(links_client, {"model": up, "text": text, "t": 1799, "unit": 3, "layer": 0})
    assert links_client.get(f"/api/links/{link['id']}").json()["state"]["text"] == text
    run = links_client.post("/api/run", json={"model": up, "text": text, "pin": link["state"]["pin"]})
    assert run.status_code == 200 and len(run.json()["tokens"]) == 1800


@pytest.mark.parametrize(
    ("state", "status", "where", "words"),
    [
        ({"model": "counter", "text": "ab", "colour": "red"}, 422, ["colour"], "colour"),
        ({"text": "ab"}, 422, ["model"], "model"),
        ({"model": "nope", "text": "ab"}, 404, ["model"], "no model 'nope'"),
        ({"model": "counter", "text": "a<b"}, 422, ["text", 1], "'<'"),
        ({"model": "counter", "text": "ab", "t": -1}, 422, ["t"], "greater than or equal to 0"),
        ({"model": "counter", "text": "ab", "unit": "3"}, 422, ["unit"], "integer"),
        ({"model": "counter", "inputs": "1 2"}, 422, ["inputs"], "reads text"),
        ({"model": "gated-sum", "text": "ab"}, 422, ["text"], "reads numbers"),
        ({"model": "counter", "text": "ab", "pin": "xyz"}, 422, ["pin"], "pattern"),
        ({"model": "counter", "text": "ab", "pin": "f" * 32}, 404, ["pin"], "no version"),
        ([1, 2], 422, [], "object"),
    ],
)
def test_bad_states_are_refused_saying_what_and_where(links_client, state, status, where, words):
    r = links_client.post("/api/links", json=state)
    assert r.status_code == status, r.text
    assert r.json()["loc"] == where and words in r.json()["error"], r.json()


def test_an_oversized_state_is_refused_and_nothing_is_stored(make_client: Client):
    client = make_client(max_link_bytes=2000)
    r = client.post("/api/links", json={"model": "counter", "text": "a" * 3000})
    assert r.status_code == 413 and "GATESCOPE_MAX_LINK_BYTES" in r.json()["error"]
    with client.app.state.store._connect() as db:
        assert db.execute("SELECT count(*) FROM links").fetchone()[0] == 0


def test_malformed_bodies_get_a_clear_refusal(links_client):
    for raw, words in [(b"", "empty"), (b"{", "not valid JSON"), (b"\xff", "not UTF-8")]:
        r = links_client.post("/api/links", content=raw, headers={"Content-Type": "application/json"})
        assert r.status_code == 422 and words in r.json()["error"]


@pytest.mark.parametrize("lid", ["nope", "ABCDEFGHIJKL", "abcdefghijk1", "a" * 13, "aaaaaaaaaaaa"])
def test_unknown_or_misshapen_ids_get_a_404_as_json_and_as_a_friendly_page(links_client, lid):
    r = links_client.get(f"/api/links/{lid}")
    assert r.status_code == 404 and r.json()["loc"] == ["id"] and lid in r.json()["error"]
    page = links_client.get(f"/l/{lid}")
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    assert "This link leads nowhere" in page.text and '<a href="/">' in page.text


def meta(page: str, key: str) -> str:
    found = re.search(rf'<meta (?:property|name)="{re.escape(key)}" content="([^"]*)">', page)
    assert found, key
    return html.unescape(found.group(1))


def test_the_link_page_carries_preview_tags_with_the_sequence_escaped(links_client):
    hostile = "\"><script>alert(1)</script> & 'x'"
    link = create(links_client, {"model": "random-h8-l1-s0", "text": hostile})
    page = links_client.get(f"/l/{link['id']}")
    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text  # nowhere raw: not in the tags, not in the state
    description = meta(page.text, "og:description")
    assert hostile in description and meta(page.text, "twitter:description") == description
    title = meta(page.text, "og:title")
    assert title == f"{zoo.get('random-h8-l1-s0').title} — Gatescope"
    assert re.search(r"<title>(.*)</title>", page.text).group(1) == html.escape(title, quote=False)
    assert meta(page.text, "og:image").endswith(f"/l/{link['id']}.png")
    assert meta(page.text, "twitter:card") == "summary_large_image"
    state = re.search(r'<script type="application/json" id="link-state"[^>]*>(.*?)</script>', page.text, re.S)
    import json

    assert json.loads(state.group(1)) == link["state"]


@pytest.fixture
def two_apps(make_client: Client, database_url: str | None, tmp_path) -> tuple[TestClient, TestClient]:
    """Two app instances over one database, as behind a load balancer (PostgreSQL's use case; two
    processes on one machine can share the SQLite file as well)."""
    shared = tmp_path / "shared"
    return (
        make_client(database_url=database_url, data_dir=shared),
        make_client(database_url=database_url, data_dir=shared),
    )


def test_a_link_made_on_one_instance_resolves_on_another(two_apps):
    a, b = two_apps
    link = create(a, {"model": "reset-count", "text": "ab.ab"})
    assert b.get(f"/api/links/{link['id']}").json()["state"] == link["state"]
    run = b.post("/api/run", json={"model": "reset-count", "text": "ab", "pin": link["state"]["pin"]})
    assert run.status_code == 200


def test_the_preview_image_is_drawn_from_the_pinned_weights_and_kept(links_client, monkeypatch):
    from app.engine import lstm
    from app.service import preview

    text = "aab. ab"
    link = create(links_client, {"model": "counter", "text": text, "t": 3, "unit": 0, "layer": 0})
    old = zoo.BUILT["counter"]
    x = np.eye(len(old.vocab))[[old.vocab.index(ch) for ch in text]]
    trace = lstm.forward(old.weights, x)[0]
    gates = {k: getattr(trace, k) for k in "ifgoch"}
    want = preview.render_preview(old.title, text, list(text), gates, (3, 0))
    monkeypatch.setitem(
        zoo.BUILT, "counter", dataclasses.replace(old, weights={k: -v for k, v in old.weights.items()})
    )  # retrained before anyone asked for the image
    first = links_client.get(f"/l/{link['id']}.png")
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    assert "immutable" in first.headers["cache-control"]
    assert first.content == want
    with Image.open(io.BytesIO(first.content)) as image:
        assert image.size == (1200, 630)
    assert links_client.get(f"/l/{link['id']}.png").content == want
    with links_client.app.state.store._connect() as db:
        assert db.execute("SELECT count(*) FROM previews").fetchone()[0] == 1


def test_a_vector_models_link_keeps_its_numbers_as_typed_and_previews(links_client):
    link = create(links_client, {"model": "gated-sum", "inputs": "0.5; 1; -1 ; 0.5"})
    assert link["state"]["inputs"] == "0.5; 1; -1 ; 0.5"
    assert links_client.get(f"/l/{link['id']}.png").status_code == 200
    bad = links_client.post("/api/links", json={"model": "gated-sum", "inputs": "0.5 banana"})
    assert bad.status_code == 422 and '"banana" is not a number' in bad.json()["error"]
    wide = links_client.post("/api/links", json={"model": "gated-sum", "inputs": "0.5 1; -1 0.5"})
    assert wide.status_code == 422 and wide.json()["loc"] == ["inputs", 0], wide.json()


# What-ifs (interventions) travel in the link under x, in the page's encoding (static/interventions.js).


def test_a_link_with_the_forget_gate_off_previews_and_resolves_the_intervened_run(links_client):
    from app.engine import lstm
    from app.service import preview

    text = "a cat. a banana. " * 3
    link = create(links_client, {"model": "counter", "text": text, "x": "f1"})
    plain = create(links_client, {"model": "counter", "text": text})
    assert link["id"] != plain["id"] and link["state"]["x"] == "f1"
    assert links_client.get(f"/api/links/{link['id']}").json()["state"]["x"] == "f1"
    page = links_client.get(f"/l/{link['id']}")
    assert page.status_code == 200 and '"x": "f1"' in page.text
    m = zoo.BUILT["counter"]
    x = np.eye(len(m.vocab))[[m.vocab.index(ch) for ch in text]]
    trace = lstm.forward(m.weights, x, interventions=[lstm.Intervention("f", value=1.0)])[0]
    assert np.abs(trace.c).max() > 3 * np.abs(lstm.forward(m.weights, x)[0].c).max()  # it ran away
    want = preview.render_preview(m.title, text, list(text), {k: getattr(trace, k) for k in "ifgoch"}, None)
    image = links_client.get(f"/l/{link['id']}.png")
    assert image.status_code == 200 and image.content == want
    assert links_client.get(f"/l/{plain['id']}.png").content != want


def test_what_ifs_read_as_the_page_writes_them():
    from app.service.whatifs import parse_interventions

    read = parse_interventions("f1_fb-0.5_g-1t3_f0.25t5u3l0_o.5u1")
    got = [iv.model_dump(exclude_none=True) for iv in read]
    assert got == [
        {"gate": "f", "value": 1.0},
        {"gate": "f", "bias_add": -0.5},
        {"gate": "g", "value": -1.0, "t": 3},
        {"gate": "f", "value": 0.25, "t": 5, "unit": 3, "layer": 0},
        {"gate": "o", "value": 0.5, "unit": 1},
    ]
    assert parse_interventions("") == [] and parse_interventions(None) == []


@pytest.mark.parametrize(
    ("x", "words"),
    [
        ("q1", 'what-if 1, "q1", cannot be read'),
        ("f1_", 'what-if 2, "", cannot be read'),
        ("f=1", "cannot be read"),
        ("F1", "cannot be read"),
        ("f1t", "cannot be read"),
        ("f١", "cannot be read"),  # an Arabic-Indic digit is not a digit here
        ("f2", "the forget gate f takes values in [0, 1]; 2 is outside it"),
        ("g-1.5", "the candidate g takes values in [-1, 1]; -1.5 is outside it"),
        ("fb101", "within ±100; 101 is outside it"),
        ("f1t40", "t = 40 is out of range: the sequence has 3 step(s)"),
        ("f1u4", "unit = 4 is out of range: the model has 4 hidden unit(s)"),
        ("_".join(["f1"] * 65), "65 what-ifs; at most 64"),
    ],
)
def test_malformed_what_ifs_are_refused_naming_the_key(links_client, x, words):
    r = links_client.post("/api/links", json={"model": "counter", "text": "ab.", "x": x})
    assert r.status_code == 422, r.text
    assert r.json()["loc"] == ["x"], r.json()
    assert r.json()["error"].startswith("x: ") and words in r.json()["error"], r.json()
    with links_client.app.state.store._connect() as db:
        assert db.execute("SELECT count(*) FROM links").fetchone()[0] == 0


def test_the_views_keys_travel_in_a_link(links_client):
    state = {
        "model": "counter",
        "text": "ab. ab",
        "view": "memory",
        "from": 2,
        "spans": "short",
        "gate": "i",
        "span": "1-3",
        "by": "c",
        "sort": "rank",
        "top": 2,
        "x": "f1",
    }
    link = create(links_client, state)
    assert {k: v for k, v in link["state"].items() if k != "pin"} == state
    assert links_client.get(f"/api/links/{link['id']}").json()["state"] == link["state"]
    for bad in ({"gate": "c"}, {"by": "q"}, {"from": -1}, {"span": "3"}, {"view": "<b>"}, {"top": 0}):
        r = links_client.post("/api/links", json={"model": "counter", "text": "ab", **bad})
        assert r.status_code == 422 and r.json()["loc"] == [next(iter(bad))], (bad, r.json())
