"""What the store keeps costs little: tensors in their own dtype, compressed, read back as float64
under the same ids; and a size limit past which no model or link is added."""

from __future__ import annotations

import json
import sqlite3
import struct
import zlib

import numpy as np
import pytest
import torch
from safetensors.numpy import save as save_numpy

from app.models.versions import tensor_hash
from app.service.store import MARK, Store
from tests.models.test_upload_limits import compressed_npz
from tests.models.test_uploads import GOOD, VOCAB, npz_bytes, post_model, torch_lstm


def used_bytes(client) -> int:
    """SQLite's pages in use, asked of the file itself."""
    with sqlite3.connect(client.app.state.store.path) as db:
        pages, free, size = (
            db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "freelist_count", "page_size")
        )
    return (pages - free) * size


def stored_blob(client, model_id: str) -> bytes:
    with client.app.state.store._connect() as db:
        return bytes(db.execute("SELECT weights FROM models WHERE id = ?", (model_id,)).fetchone()[0])


def stored_dtypes(blob: bytes) -> dict[str, str]:
    raw = zlib.decompress(blob[len(MARK) :]) if blob.startswith(MARK) else blob
    length = struct.unpack("<Q", raw[:8])[0]
    return {k: v["dtype"] for k, v in json.loads(raw[8 : 8 + length]).items() if k != "__metadata__"}


def model_count(client) -> int:
    with client.app.state.store._connect() as db:
        return db.execute("SELECT count(*) FROM models").fetchone()[0]


def largest(dtype) -> dict[str, np.ndarray]:
    """Zeros at the largest shape the default limits allow: H 512, 4 layers, input size 1024."""
    H, I = 512, 1024
    arrays = {}
    for k in range(4):
        arrays[f"weight_ih_l{k}"] = np.zeros((4 * H, I if k == 0 else H), dtype)
        arrays[f"weight_hh_l{k}"] = np.zeros((4 * H, H), dtype)
        arrays[f"bias_ih_l{k}"] = np.zeros(4 * H, dtype)
    return arrays


def random_float16() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {
        k: rng.normal(size=v.shape).astype(np.float16) for k, v in largest(np.float16).items() if "l0" in k
    }


def torch_float32() -> dict[str, np.ndarray]:
    torch.manual_seed(1)
    return {k: v.numpy() for k, v in torch.nn.LSTM(64, 128, num_layers=2).state_dict().items()}


UPLOADS = {  # id: (file bytes, input size)
    "int8-zeros-largest": (compressed_npz(largest(np.int8)), 1024),
    "float16-random": (save_numpy(random_float16()), 1024),
    "float32-torch": (save_numpy(torch_float32()), 64),
}


@pytest.mark.parametrize(("data", "input_size"), UPLOADS.values(), ids=UPLOADS)
def test_an_upload_costs_at_most_twice_its_file_plus_64_kb(client, data, input_size):
    before = used_bytes(client)
    r = post_model(client, data, "w.safetensors", input_size=str(input_size))
    assert r.status_code == 200, r.text
    grew = used_bytes(client) - before
    assert grew <= 2 * len(data) + 64 * 1024, f"file {len(data)} B, store +{grew} B"


def test_uploaded_tensors_are_kept_in_their_dtype_and_come_back_as_float64(client):
    weights = {k: v.astype(np.float16) for k, v in GOOD.items()}
    answer = post_model(client, npz_bytes(weights), "w.npz", vocab=VOCAB).json()
    assert set(stored_dtypes(stored_blob(client, answer["id"])).values()) == {"F16"}
    stored = client.app.state.store.get_model(answer["id"])
    for name, value in weights.items():
        assert stored.weights[name].dtype == np.float64
        assert np.array_equal(stored.weights[name], value.astype(np.float64))
    # the id hashes the float64 values, as it always has
    assert answer["id"] == "up-" + tensor_hash(stored.weights, {"gate_activation": "sigmoid", "vocab": VOCAB})


def test_a_keras_upload_is_kept_transposed_in_its_dtype(client):
    rng = np.random.default_rng(2)
    kernel, recurrent = rng.normal(size=(3, 8)).astype(np.float32), rng.normal(size=(2, 8)).astype(np.float32)
    answer = post_model(
        client, npz_bytes({"kernel": kernel, "recurrent_kernel": recurrent}), "k.npz", input_size="3"
    )
    assert answer.status_code == 200, answer.text
    stored = client.app.state.store.get_model(answer.json()["id"])
    assert stored_dtypes(stored_blob(client, answer.json()["id"])) == {
        "weight_ih_l0": "F32",
        "weight_hh_l0": "F32",
    }
    assert np.array_equal(stored.weights["weight_ih_l0"], kernel.T.astype(np.float64))


def test_a_forget_bias_is_kept_exactly(client):
    """The bias it shifts is float64: a float16 copy would round 1 + b, and the id would lie."""
    weights = {k: v.astype(np.float16) for k, v in GOOD.items()}
    answer = post_model(client, npz_bytes(weights), "w.npz", vocab=VOCAB, forget_bias="1.0").json()
    stored = client.app.state.store.get_model(answer["id"])
    want = weights["bias_ih_l0"].astype(np.float64)
    want[2:4] += 1.0
    assert np.array_equal(stored.weights["bias_ih_l0"], want)


def test_rows_stored_before_as_float64_safetensors_still_read(database_url, tmp_path):
    store = Store(tmp_path / "old", database_url)
    weights = {k: v.astype(np.float64) for k, v in GOOD.items()}
    info = {"vocab": VOCAB, "gate_activation": "sigmoid", "name": "old", "file": "w", "forget_bias": 0.0}
    with store._connect() as db:  # exactly what the store wrote before it compressed
        db.execute(
            "INSERT INTO models (id, info, weights) VALUES (?, ?, ?)",
            ("up-old", json.dumps(info, sort_keys=True), save_numpy(weights)),
        )
    stored = store.get_model("up-old")
    store.close()
    assert all(np.array_equal(stored.weights[k], v) for k, v in weights.items())


@pytest.mark.parametrize("model", ["python-chars", "counter"])
def test_a_pinned_built_in_version_is_kept_narrow_and_compressed(client, model):
    from app.models import zoo

    r = client.post("/api/links", json={"model": model, "text": zoo.get(model).example[:20]})
    assert r.status_code == 200, r.text
    with client.app.state.store._connect() as db:
        (blob,) = db.execute("SELECT weights FROM models WHERE id LIKE 'pin-%'").fetchone()
    float64_bytes = sum(v.size * 8 for v in zoo.get(model).weights.values())
    assert len(blob) <= 0.55 * float64_bytes, (len(blob), float64_bytes)


def empty_size(tmp_path, database_url) -> int:
    probe = Store(tmp_path / "probe", database_url)
    try:
        return probe.size()
    finally:
        probe.close()


def test_the_store_refuses_new_models_and_links_once_full(make_client, database_url, tmp_path):
    limit = empty_size(tmp_path, database_url) + 60_000
    c = make_client(database_url=database_url, max_store_bytes=limit)
    small = post_model(c, save_numpy(GOOD), vocab=VOCAB).json()  # about 1 KB: room for it
    big = {k: v.numpy().astype(np.float32) for k, v in torch_lstm(8, 64, 1).state_dict().items()}  # 76 KB
    r = post_model(c, save_numpy(big), input_size="8")
    assert r.status_code == 507, r.text
    assert r.json()["error"].startswith("the store is full: it holds ")
    assert f"would pass its limit of {limit:,} bytes (GATESCOPE_MAX_STORE_BYTES)" in r.json()["error"]
    assert r.json()["loc"] == [] and r.json()["limit"] == limit
    assert model_count(c) == 1
    # what is kept already is answered, however full the store
    again = post_model(c, npz_bytes(GOOD), "w.npz", vocab=VOCAB)
    assert again.status_code == 200 and again.json()["created"] is False
    # a pinned version is a model too
    r = c.post("/api/links", json={"model": "python-chars", "text": "def f():"})
    assert r.status_code == 507 and "GATESCOPE_MAX_STORE_BYTES" in r.json()["error"], r.text
    # a link to a kept model fits while there is room…
    link = c.post("/api/links", json={"model": small["id"], "text": "abc"})
    assert link.status_code == 200, link.text
    assert c.get(link.json()["url"]).status_code == 200
    # …and is refused once there is none
    settings = c.app.state.settings
    full = make_client(
        data_dir=settings.data_dir, database_url=database_url, max_store_bytes=c.app.state.store.size()
    )
    r = full.post("/api/links", json={"model": small["id"], "text": "cab"})
    assert r.status_code == 507 and r.json()["error"].startswith("the store is full"), r.text
    assert full.get(link.json()["url"]).status_code == 200  # what is kept still serves


def test_the_store_size_is_asked_of_the_database(database_url, tmp_path):
    store = Store(tmp_path / "sized", database_url)
    try:
        before = store.size()
        store.put_model("up-x", {}, {"weight_ih_l0": np.random.default_rng(0).normal(size=(4, 50_000))})
        assert store.size() - before >= 1_000_000  # 200,000 float64 that do not compress
    finally:
        store.close()


def test_a_full_store_still_draws_a_links_preview_but_keeps_it_no_more(make_client, tmp_path):
    c = make_client()
    link = c.post("/api/links", json={"model": "counter", "text": "ab. a"}).json()
    full = make_client(data_dir=c.app.state.settings.data_dir, max_store_bytes=c.app.state.store.size())
    for _ in range(2):  # drawn each time: nothing is kept past the limit
        r = full.get(f"/l/{link['id']}.png")
        assert r.status_code == 200 and r.content.startswith(b"\x89PNG")
        assert full.app.state.store.get_preview(link["id"]) is None
