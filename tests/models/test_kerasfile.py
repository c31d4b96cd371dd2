"""Keras files as Keras 3 (torch backend, float64) really saves them — .keras, .weights.h5 and
legacy .h5 — uploaded, and run: Gatescope computes what Keras computed, or refuses, naming the
layer and the setting, what it cannot compute exactly."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tests.models.test_uploads import post_model  # noqa: E402

I = 3


def sequential(*layers: keras.layers.Layer, seed: int = 4) -> keras.Sequential:
    keras.utils.set_random_seed(seed)
    # names given: Keras numbers its default names across every model made in the process
    return keras.Sequential([keras.Input((None, I), name="input_layer"), *layers])


def lstm(units: int, name: str = "lstm", **kw) -> keras.layers.LSTM:
    # not the zeros-and-ones default bias, so the bias is seen to count
    return keras.layers.LSTM(units, return_sequences=True, bias_initializer="random_normal", name=name, **kw)


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Iterator[dict[str, object]]:
    """Each model saved once, as .keras, .weights.h5 and legacy .h5, with its own h of every step
    (every layer returns sequences, so the model's output is the top layer's h)."""
    # the dtype policy too: another module's Keras layers may have fixed it at float32 already
    policy, floatx = keras.config.dtype_policy(), keras.config.floatx()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    directory = tmp_path_factory.mktemp("keras")
    models = {
        "one": sequential(lstm(5)),
        "stacked": sequential(lstm(5), lstm(5, name="lstm_1")),
        "relu": sequential(lstm(5, activation="relu")),
        "backwards": sequential(lstm(5, go_backwards=True)),
        "hard": sequential(lstm(5, recurrent_activation="hard_sigmoid")),
        "gru": sequential(keras.layers.GRU(4, name="gru"), keras.layers.Dense(2, name="dense")),
        "between": sequential(lstm(5), keras.layers.Dense(5, name="dense"), lstm(5, name="lstm_1")),
        "bidirectional": sequential(keras.layers.Bidirectional(keras.layers.LSTM(3), name="bidirectional")),
    }
    x = np.random.default_rng(5).normal(size=(9, I))
    files: dict[str, object] = {"x": x}
    for name, model in models.items():
        files[name, ".keras"] = _save(model, directory / f"{name}.keras", model.save)
        files[name, ".weights.h5"] = _save(model, directory / f"{name}.weights.h5", model.save_weights)
        files[name, ".h5"] = _save(model, directory / f"{name}.h5", model.save)
        if name in ("one", "stacked", "hard"):
            files[name, "h"] = np.asarray(model(x[None]).detach().cpu())[0]  # (T, H of the top layer)
    yield files
    keras.config.set_dtype_policy(policy)
    keras.config.set_floatx(floatx)


def _save(model: keras.Model, path: Path, save) -> bytes:
    save(str(path))
    return path.read_bytes()


def run(client, data: bytes, x: np.ndarray, filename: str = "model") -> dict:
    answer = post_model(client, data, filename, input_size=str(I))
    assert answer.status_code == 200, answer.text
    r = client.post(
        "/api/run", json={"model": answer.json()["id"], "inputs": x.tolist(), "precision": "float64"}
    )
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("model", ["one", "stacked"])
@pytest.mark.parametrize("kind", [".keras", ".weights.h5", ".h5"])
def test_a_keras_file_runs_as_in_keras(client, saved, model, kind):
    x, want = saved["x"], saved[model, "h"]
    # the file name says nothing: the format is recognised from the bytes
    layers = run(client, saved[model, kind], x)["layers"]
    assert len(layers) == (2 if model == "stacked" else 1)
    got = np.array(layers[-1]["h"])
    assert got.shape == want.shape
    assert np.max(np.abs(got - want)) <= 1e-9, np.max(np.abs(got - want))


@pytest.mark.parametrize("kind", [".keras", ".h5"])
def test_keras_3_s_hard_sigmoid_is_computed_as_keras_3_defines_it(client, saved, kind):
    """relu6(z + 3)/6, told from Keras 2's clip(0.2·z + 0.5, 0, 1) by the version the file names."""
    x, want = saved["x"], saved["hard", "h"]
    body = post_model(client, saved["hard", kind], "m", input_size=str(I)).json()
    assert "Keras 3's hard_sigmoid, relu6(z + 3)/6" in " ".join(body["model"]["conversion"]["steps"])
    r = client.post(
        "/api/run",
        json={"model": body["id"], "inputs": x.tolist(), "precision": "float64", "include": ["parts"]},
    ).json()
    assert np.max(np.abs(np.array(r["layers"][0]["h"]) - want)) <= 1e-9
    curve = r["gate_curve"]
    assert curve["activation"] == "hard_sigmoid_keras3"
    z, y = np.array(curve["z"]), np.array(curve["y"])
    assert np.allclose(y, np.clip((z + 3) / 6, 0, 1), rtol=0, atol=1e-15)


@pytest.mark.parametrize("kind", [".keras", ".h5"])
@pytest.mark.parametrize(
    ("model", "setting", "value", "words"),
    [
        ("relu", "activation", "relu", "tanh only"),
    ],
)
def test_what_gatescope_cannot_compute_exactly_is_refused_naming_layer_and_setting(
    client, saved, kind, model, setting, value, words
):
    r = post_model(client, saved[model, kind], "m", input_size=str(I))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"].startswith(f"Keras layer 'lstm' has {setting}={value!r}: "), body
    assert words in body["error"]
    assert body["loc"] == ["weights", "lstm", setting]


def test_a_keras_file_with_no_lstm_says_what_it_found(client, saved):
    r = post_model(client, saved["gru", ".keras"], "m.keras", input_size=str(I))
    assert r.status_code == 422
    assert r.json() == {
        "error": "the .keras file holds no LSTM layer (found: InputLayer 'input_layer', GRU 'gru', "
        "Dense 'dense'); Gatescope shows LSTMs, and this file holds a GRU",
        "loc": ["weights"],
    }
    weights_only = post_model(client, saved["gru", ".weights.h5"], "m", input_size=str(I)).json()
    assert weights_only == {
        "error": "the .weights.h5 file holds no LSTM layer (found: Dense 'dense', GRU 'gru'); "
        "Gatescope shows LSTMs, and this file holds a GRU",
        "loc": ["weights"],
    }


@pytest.mark.parametrize("kind", [".keras", ".h5"])
def test_a_layer_between_two_lstms_is_refused_not_skipped(client, saved, kind):
    body = post_model(client, saved["between", kind], "m", input_size=str(I)).json()
    assert body["error"] == (
        "Dense layer 'dense' stands between the LSTM layers ['lstm', 'lstm_1']: Gatescope stacks "
        "LSTMs that feed each other directly"
    )
    assert body["loc"] == ["weights", "dense"]


def test_an_hdf5_dataset_kept_in_another_file_is_never_read(client, tmp_path, saved):
    """HDF5 can point a dataset at a file on the server (external storage) or link to one: the
    upload is refused before anything outside it is opened."""
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(60, dtype="<f8").tobytes())
    path = tmp_path / "external.weights.h5"
    path.write_bytes(saved["one", ".weights.h5"])
    with h5py.File(path, "a") as f:
        del f["layers/lstm/cell/vars/0"]
        f.create_dataset("layers/lstm/cell/vars/0", (3, 20), "<f8", external=[(str(secret), 0, 480)])
    body = post_model(client, path.read_bytes(), "m", input_size=str(I)).json()
    assert body["error"] == (
        "the HDF5 dataset /layers/lstm/cell/vars/0 (layer 'lstm') keeps its data in another file; "
        "Gatescope reads only what the file itself holds"
    )
    assert body["loc"] == ["weights", "kernel"]
    with h5py.File(path, "a") as f:
        del f["layers/lstm/cell/vars/0"]
        f["layers/lstm/cell/vars/0"] = h5py.ExternalLink(str(secret), "/x")
    body = post_model(client, path.read_bytes(), "m", input_size=str(I)).json()
    assert body["error"] == (
        "the HDF5 file links /layers/lstm/cell/vars/0 elsewhere (ExternalLink); "
        "Gatescope reads only what the file itself holds"
    )
    assert body["loc"] == ["weights", "0"]


def test_a_keras2_hard_sigmoid_file_is_handed_on_as_hard_sigmoid(saved):
    """Keras 2's hard_sigmoid is the engine's own: the reader says so, for the upload to use."""
    from app.models import formats

    data = saved["hard", ".h5"]
    with h5py.File(io.BytesIO(data), "r") as f:
        assert f.attrs["keras_version"].startswith("3.")
    edited = io.BytesIO(data)
    with h5py.File(edited, "a") as f:
        f.attrs["keras_version"] = "2.2.4"
    headers = formats.read_headers(edited.getvalue(), 10**8, 64)
    assert headers.gate_activation == "hard_sigmoid"  # type: ignore[attr-defined]
    assert [h.name for h in headers] == ["kernel", "recurrent_kernel", "bias"]
    assert formats.read_headers(saved["one", ".h5"], 10**8, 64).gate_activation is None  # type: ignore[attr-defined]


def test_a_file_that_is_hdf5_but_not_keras_says_so(client):
    out = io.BytesIO()
    with h5py.File(out, "w") as f:
        f["w"] = np.zeros((2, 2))
    body = post_model(client, out.getvalue(), "w.npz", input_size=str(I)).json()
    assert body["error"].startswith("the file is HDF5 but not a Keras file")
    assert body["loc"] == ["weights"]
    cut = post_model(client, out.getvalue()[:100], "w.npz", input_size=str(I)).json()
    assert cut["error"].startswith("the file starts as HDF5 but is not a readable HDF5 file")


def test_a_keras2_hard_sigmoid_file_runs_as_the_same_weights_uploaded_with_hard_sigmoid(saved, client):
    """The file's own word is taken: no form field needed, and the run equals the .npz route's,
    whose hard_sigmoid is tested against Keras 2's equations (tests/models/test_uploads.py)."""
    edited = io.BytesIO(saved["hard", ".h5"])
    with h5py.File(edited, "a") as f:
        f.attrs["keras_version"] = "2.2.4"
    from app.models import formats

    arrays = {h.name: h.read() for h in formats.read_headers(edited.getvalue(), 10**8, 64)}
    npz = io.BytesIO()
    np.savez(npz, **arrays)
    I = arrays["kernel"].shape[0]
    by_file = post_model(client, edited.getvalue(), "m.h5", input_size=str(I)).json()
    by_form = post_model(
        client, npz.getvalue(), "m.npz", input_size=str(I), recurrent_activation="hard_sigmoid"
    ).json()
    assert by_file["id"] == by_form["id"]  # the same weights, the same activation: one model
    x = np.random.default_rng(3).normal(size=(6, I)).tolist()
    run = client.post("/api/run", json={"model": by_file["id"], "inputs": x, "include": ["parts"]}).json()
    assert run["gate_curve"]["activation"] == "hard_sigmoid"


@pytest.mark.parametrize("kind", [".h5", ".weights.h5", ".keras"])
def test_damaged_keras_files_are_refused_in_words_never_with_another_error(saved, kind):
    """100 files with a few bytes changed at random: each is read, or refused as a Refusal."""
    from tests.models.test_damaged_files import refusals_of_damaged

    assert refusals_of_damaged(saved["one", kind], times=100, seed=1, most_changed=8) > 0


def test_a_file_that_stalls_hdf5_is_refused_in_time_and_the_server_serves_on(client, monkeypatch):
    """A Keras .h5 with a few bytes changed at random (seed 5, the 353rd of a fuzzing run) that
    makes the HDF5 library loop for ever: read in a child process, which is killed."""
    from app.models import sandbox

    monkeypatch.setattr(sandbox, "READ_SECONDS", 2.0)
    stalls = (Path(__file__).parent / "files" / "stalls-hdf5.h5").read_bytes()
    r = post_model(client, stalls, "m.h5", input_size="3")
    assert r.status_code == 422, r.text
    assert r.json() == {
        "error": "the HDF5 file could not be read in 2 s: it is damaged, or made to stall its reader",
        "loc": ["weights"],
    }
    assert client.post("/api/run", json={"model": "counter", "text": "ab"}).status_code == 200
